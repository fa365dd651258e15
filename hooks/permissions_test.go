package hooks_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// writeOn is the permissions a key limited to collections had before
// permissions (migration 1764900000): write on each, and the app's routes;
// none for full access.
func writeOn(collections ...string) permissions.Set {
	if len(collections) == 0 {
		return nil
	}
	set := permissions.Set{permissions.Routes: permissions.Write}
	for _, c := range collections {
		set[c] = permissions.Write
	}
	return set
}

// readEverything is what a read-only key became: read on every
// collection, GET on the app's routes.
var readEverything = permissions.Set{permissions.Others: permissions.Read, permissions.Routes: permissions.Read}

// addRoutes adds what an app adds: a route that names no collection
// (/hello, any method), and one that reads secrets for the caller and asks
// Permits first (/secrets-report).
func addRoutes(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
	enableBatch(t, app, e)
	hello := func(e *core.RequestEvent) error { return e.JSON(200, map[string]string{"hello": e.Request.Method}) }
	e.Router.GET("/hello", hello)
	e.Router.POST("/hello", hello)
	e.Router.GET("/secrets-report", func(e *core.RequestEvent) error {
		if !hooks.Permits(e, hookstest.SecretsCollection, "read") {
			return e.ForbiddenError("This API key cannot read secrets.", nil)
		}
		return e.JSON(200, map[string]bool{"report": true, "mayWrite": hooks.Permits(e, hookstest.SecretsCollection, "write")})
	})
}

type permissionCheck struct {
	name, method, url, body string
	status                  int
	content                 string
}

// runPermissionChecks runs each check in a fresh app, with a key of o
// with perms; no check may change Alice's note unless it says so.
func runPermissionChecks(t *testing.T, o hookstest.Owner, perms permissions.Set, checks []permissionCheck) {
	t.Helper()
	for _, c := range checks {
		env := o.New(t)
		key, _ := issueFor(t, env, o, keystore.Options{Permissions: perms})
		scenario(t, env, tests.ApiScenario{
			Name: o.Kind + "'s key with " + perms.Describe() + ": " + c.name, Method: c.method, URL: c.url, Body: strings.NewReader(c.body),
			Headers: bearer(key), ExpectedStatus: c.status, ExpectedContent: []string{c.content},
			BeforeTestFunc: addRoutes,
		})
	}
}

// A read-only key's reach (migration 1764900000): read everything, GET
// the app's routes; every write refused, on the router and in a batch.
func TestReadEverythingKey(t *testing.T) {
	for _, o := range hookstest.Owners {
		readOnlyNotes := `This API key can only read the \"notes\" collection: it cannot create, update or delete its records.`
		runPermissionChecks(t, o, readEverything, []permissionCheck{
			{"GET a record", http.MethodGet, o.NoteURL(), "", 200, o.NoteTitle},
			{"a list", http.MethodGet, "/api/collections/notes/records", "", 200, `"totalItems":1`},
			{"a file token", http.MethodPost, "/api/files/token", "", 200, `"token":"`},
			{"create", http.MethodPost, "/api/collections/notes/records", `{"` + o.NoteField + `":"` + o.ID + `","title":"x"}`, 403, readOnlyNotes},
			{"update", http.MethodPatch, o.NoteURL(), `{"title":"x"}`, 403, readOnlyNotes},
			{"delete", http.MethodDelete, o.NoteURL(), "", 403, readOnlyNotes},
			{"update through the collection's id", http.MethodPatch, "/api/collections/" + collectionOf(t, o, hookstest.NotesCollection) + "/records/" + o.NoteID, `{"title":"x"}`, 403, readOnlyNotes},
			{"batch", http.MethodPost, "/api/batch", `{"requests":[{"method":"PATCH","url":"` + o.NoteURL() + `","body":{"title":"x"}}]}`, 400, readOnlyNotes},
			{"an auth route that writes", http.MethodPost, "/api/collections/users/request-password-reset", `{"email":"` + hookstest.AliceEmail + `"}`, 403, `can only read the \"users\" collection`},
			{"the app's route, GET", http.MethodGet, "/hello", "", 200, `"hello":"GET"`},
			{"the app's route, POST", http.MethodPost, "/hello", "", 403, `This API key can only read routes the app adds (GET, HEAD and OPTIONS)`},
			{"still the owner's rules: Bob's note", http.MethodGet, "/api/collections/notes/records/" + hookstest.BobNoteID, "", 404, `"status":404`},
		})
	}
}

// A key limited to collections before permissions: anything in them,
// nothing elsewhere, in any spelling.
func TestCollectionWriteKey(t *testing.T) {
	for _, o := range hookstest.Owners {
		ownCollection := collectionOf(t, o, o.Collection)
		noOwn := `This API key cannot access the \"` + o.Collection + `\" collection: it has no permission on it.`
		runPermissionChecks(t, o, writeOn(hookstest.NotesCollection), []permissionCheck{
			{"its collection", http.MethodGet, o.NoteURL(), "", 200, o.NoteTitle},
			{"its collection, write", http.MethodPatch, o.NoteURL(), `{"title":"edited"}`, 200, `"title":"edited"`},
			{"another collection: the owner's own", http.MethodGet, o.URL(), "", 403, noOwn},
			{"another collection by id", http.MethodGet, "/api/collections/" + ownCollection + "/records/" + o.ID, "", 403, noOwn},
			{"expand into another collection", http.MethodGet, o.NoteURL() + "?expand=" + o.NoteField, "", 403, `This API key cannot reach the \"` + o.Collection + `\" collection through expand, filter or sort: it has no permission on it.`},
			{"batch expanding into another collection", http.MethodPost, "/api/batch", `{"requests":[{"method":"PATCH","url":"` + o.NoteURL() + `?expand=secret","body":{"title":"x"}}]}`, 400, `cannot reach the \"secrets\" collection`},
			{"another collection's auth route", http.MethodPost, "/api/collections/users/request-password-reset", `{"email":"` + hookstest.AliceEmail + `"}`, 403, `cannot access the \"users\" collection`},
			{"another collection's files", http.MethodGet, "/api/files/users/" + hookstest.AliceID + "/avatar.png", "", 403, `cannot access the \"users\" collection`},
			{"batch into another collection", http.MethodPost, "/api/batch", `{"requests":[{"method":"PATCH","url":"` + o.URL() + `","body":{"name":"x"}}]}`, 400, `cannot access the \"` + o.Collection + `\" collection`},
			{"health belongs to no collection", http.MethodGet, "/api/health", "", 200, `"code":200`},
			{"the app's routes, any method", http.MethodPost, "/hello", "", 200, `"hello":"POST"`},
			{"still the owner's rules: Bob's note", http.MethodGet, "/api/collections/notes/records/" + hookstest.BobNoteID, "", 404, `"status":404`},
		})
	}
}

// "Write notes, read secrets": each collection at its level, everything
// else unreachable, however it is reached.
func TestWriteOneReadAnother(t *testing.T) {
	o := hookstest.AliceOwner
	perms := permissions.Set{hookstest.NotesCollection: permissions.Write, hookstest.SecretsCollection: permissions.Read}
	secretURL := "/api/collections/secrets/records/" + hookstest.AliceSecretID
	readOnlySecrets := `This API key can only read the \"secrets\" collection: it cannot create, update or delete its records.`
	noComments := `This API key cannot access the \"comments\" collection: it has no permission on it.`
	runPermissionChecks(t, o, perms, []permissionCheck{
		{"write notes", http.MethodPatch, o.NoteURL(), `{"title":"edited"}`, 200, `"title":"edited"`},
		{"create a note", http.MethodPost, "/api/collections/notes/records", `{"owner":"` + o.ID + `","title":"new"}`, 200, `"title":"new"`},
		{"read a secret", http.MethodGet, secretURL, "", 200, hookstest.AliceSecretTitle},
		{"list secrets", http.MethodGet, "/api/collections/secrets/records", "", 200, `"totalItems":1`},
		{"update a secret", http.MethodPatch, secretURL, `{"title":"x"}`, 403, readOnlySecrets},
		{"create a secret", http.MethodPost, "/api/collections/secrets/records", `{"owner":"` + o.ID + `","title":"x"}`, 403, readOnlySecrets},
		{"delete a secret", http.MethodDelete, secretURL, "", 403, readOnlySecrets},
		{"a secret in a batch", http.MethodPost, "/api/batch", `{"requests":[{"method":"PATCH","url":"` + o.NoteURL() + `","body":{"title":"x"}},{"method":"DELETE","url":"` + secretURL + `"}]}`, 400, readOnlySecrets},
		{"comments: not named", http.MethodGet, "/api/collections/comments/records", "", 403, noComments},
		{"the owner's own record: not named", http.MethodGet, o.URL(), "", 403, `cannot access the \"users\" collection`},
		{"expand a secret: read is enough", http.MethodGet, o.NoteURL() + "?expand=secret", "", 200, hookstest.AliceSecretTitle},
		{"filter through a secret", http.MethodGet, "/api/collections/notes/records?filter=" + query(`secret.title!=""`), "", 200, `"totalItems":1`},
		{"sort by a secret", http.MethodGet, "/api/collections/notes/records?sort=secret.title", "", 200, `"totalItems":1`},
		{"expand comments through the back-relation", http.MethodGet, o.NoteURL() + "?expand=comments_via_note", "", 403, `cannot reach the \"comments\" collection through expand, filter or sort`},
		{"filter through @collection", http.MethodGet, "/api/collections/notes/records?filter=" + query(`@collection.comments.text?="x"`), "", 403, `cannot reach the \"comments\" collection`},
		{"link a note to a secret: read is enough", http.MethodPost, "/api/collections/notes/records", `{"owner":"` + o.ID + `","title":"n","secret":"` + hookstest.AliceSecretID + `"}`, 200, `"secret":"` + hookstest.AliceSecretID + `"`},
		{"link a comment: comments not named", http.MethodPost, "/api/collections/comments/records", `{"owner":"` + o.ID + `","note":"` + o.NoteID + `"}`, 403, noComments},
		{"subscribe to realtime: file token", http.MethodPost, "/api/files/token", "", 200, `"token":"`},
		{"the app's routes: not named", http.MethodGet, "/hello", "", 403, `This API key cannot call routes the app adds: its permissions do not include them (\"@routes\").`},
		{"health", http.MethodGet, "/api/health", "", 200, `"code":200`},
	})
}

// "*" is every collection not named, "none" takes one away.
func TestOthersAndNone(t *testing.T) {
	o := hookstest.AliceOwner
	perms := permissions.Set{permissions.Others: permissions.Write, hookstest.SecretsCollection: permissions.None, permissions.Routes: permissions.Read}
	runPermissionChecks(t, o, perms, []permissionCheck{
		{"notes, through *", http.MethodPatch, o.NoteURL(), `{"title":"edited"}`, 200, `"title":"edited"`},
		{"comments, through *", http.MethodGet, "/api/collections/comments/records", "", 200, `"totalItems":1`},
		{"secrets: none", http.MethodGet, "/api/collections/secrets/records/" + hookstest.AliceSecretID, "", 403, `cannot access the \"secrets\" collection: it has no permission on it`},
		{"expand into secrets", http.MethodGet, o.NoteURL() + "?expand=secret", "", 403, `cannot reach the \"secrets\" collection`},
		{"api_keys: never, whatever * says", http.MethodGet, "/api/collections/api_keys/records", "", 403, "API keys cannot manage API keys"},
		{"api_key_usage: never", http.MethodGet, "/api/collections/api_key_usage/records", "", 403, "API keys cannot read or change the usage"},
	})
}

// A Go route asks Permits; sessions are permitted (PocketBase's rules
// decide for them).
func TestPermitsInAGoRoute(t *testing.T) {
	o := hookstest.AliceOwner
	for _, c := range []struct {
		perms   permissions.Set
		status  int
		content string
	}{
		{nil, 200, `"mayWrite":true`},
		{permissions.Set{hookstest.SecretsCollection: permissions.Read, permissions.Routes: permissions.Read}, 200, `"mayWrite":false`},
		{permissions.Set{hookstest.NotesCollection: permissions.Write, permissions.Routes: permissions.Read}, 403, "This API key cannot read secrets."},
	} {
		env := o.New(t)
		key, _ := issueFor(t, env, o, keystore.Options{Permissions: c.perms})
		scenario(t, env, tests.ApiScenario{
			Name: "Permits with " + c.perms.Describe(), Method: http.MethodGet, URL: "/secrets-report",
			Headers: bearer(key), ExpectedStatus: c.status, ExpectedContent: []string{c.content},
			BeforeTestFunc: addRoutes,
		})
	}
	env := o.New(t)
	scenario(t, env, tests.ApiScenario{
		Name: "Permits for a session", Method: http.MethodGet, URL: "/secrets-report",
		Headers:        map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)},
		ExpectedStatus: 200, ExpectedContent: []string{`"mayWrite":true`},
		BeforeTestFunc: addRoutes,
	})
}

// Realtime: subscribing needs read on the topic's collection and on every
// collection its options reach; records sent are checked again (enrich).
func TestPermissionsOnRealtime(t *testing.T) {
	env := hookstest.New(t)
	defer env.App.Cleanup()
	srv := env.Serve(t)
	key, _ := issue(t, env, keystore.Options{Permissions: permissions.Set{hookstest.NotesCollection: permissions.Read}})

	for topic, want := range map[string]int{
		"notes/*":           http.StatusNoContent, // read is enough
		"secrets/*":         http.StatusForbidden, // refused, not silently empty
		"users/*":           http.StatusForbidden,
		"_pb_users_auth_/*": http.StatusForbidden,
		`notes/*?options={"query":{"expand":"owner"}}`:            http.StatusForbidden,
		`notes/*?options={"query":{"expand":"secret"}}`:           http.StatusForbidden,
		`notes/*?options={"query":{"filter":"secret.title!=''"}}`: http.StatusForbidden,
	} {
		c := connectRealtime(t, srv.URL)
		if res := c.subscribe(t, key, topic); res.StatusCode != want {
			t.Errorf("subscribe %q: status %d, want %d", topic, res.StatusCode, want)
		}
	}
}

// Permissions change after creation (PATCH), and the next request follows.
func TestPermissionsCanBeChanged(t *testing.T) {
	env := hookstest.New(t)
	defer env.App.Cleanup()
	srv := env.Serve(t)
	key, record := issue(t, env, keystore.Options{Permissions: permissions.Set{hookstest.NotesCollection: permissions.Read}})
	jwt := hookstest.JWT(t, env.App, hookstest.AliceID)
	note := hookstest.AliceOwner.NoteURL()

	if status, body := call(t, srv.URL, http.MethodPatch, note, "Bearer "+key, `{"title":"x"}`); status != 403 {
		t.Fatalf("write with read: %d %s", status, body)
	}
	if status, body := call(t, srv.URL, http.MethodPatch, keysURL+"/"+record.Id, jwt, `{"permissions":{"notes":"write"}}`); status != 200 || !strings.Contains(body, `"permissions":{"notes":"write"}`) {
		t.Fatalf("PATCH permissions: %d %s", status, body)
	}
	if status, body := call(t, srv.URL, http.MethodPatch, note, "Bearer "+key, `{"title":"x"}`); status != 200 {
		t.Fatalf("write after the change: %d %s", status, body)
	}
	if status, body := call(t, srv.URL, http.MethodPatch, keysURL+"/"+record.Id, jwt, `{"permissions":{"notes":"owner"}}`); status != 400 || !strings.Contains(body, "validation_permissions") {
		t.Fatalf("PATCH a bad level: %d %s", status, body)
	}
	if status, body := call(t, srv.URL, http.MethodPatch, keysURL+"/"+record.Id, jwt, `{"permissions":null}`); status != 200 || !strings.Contains(body, `"permissions":null`) {
		t.Fatalf("PATCH to full access: %d %s", status, body)
	}
	if status, body := call(t, srv.URL, http.MethodGet, hookstest.AliceOwner.URL(), "Bearer "+key, ""); status != 200 {
		t.Fatalf("full access after the change: %d %s", status, body)
	}
	// a key cannot change its own permissions
	if status, body := call(t, srv.URL, http.MethodPatch, keysURL+"/"+record.Id, "Bearer "+key, `{"permissions":null}`); status != 403 {
		t.Fatalf("a key changing its permissions: %d %s", status, body)
	}
}

// collectionOf returns the id of the named collection in o's app.
func collectionOf(t *testing.T, o hookstest.Owner, name string) string {
	t.Helper()
	env := o.New(t)
	defer env.App.Cleanup()
	return collectionID(t, env, name)
}

func query(s string) string { return url.QueryEscape(s) }
