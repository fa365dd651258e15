package hooks_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Setting a relation reaches its target collection. A key may not link a
// record to one it may not reach — api_keys for every key, collections
// outside a scoped key's list — in any spelling PocketBase reads: the
// plain field, its "+"/"-" modifiers (core.RelationField.FindSetter), a
// JSON, multipart (@jsonPayload too) or urlencoded body, a form post's URL
// query (PocketBase reads a form together with the query), and batch
// sub-requests. It is refused before PocketBase validates the ids, so the
// answer is the same whether the id exists or not: no existence oracle.

// link is a record write that sets a relation; {id} is the related id,
// {own} the owner's relation field ("owner" or "bot") and {me} its id.
type link struct {
	name, method, url, contentType, body string
}

func (l link) fill(o hookstest.Owner, id string) link {
	r := strings.NewReplacer("{id}", id, "{own}", o.NoteField, "{me}", o.ID, "{note}", o.NoteURL())
	l.url, l.body = r.Replace(l.url), r.Replace(l.body)
	if l.contentType == "" {
		l.contentType = "application/json"
	}
	return l
}

// linkSpellings set the notes relation field, to id.
func linkSpellings(field string) []link {
	notes := "/api/collections/notes/records"
	return []link{
		{name: "create, plain", method: "POST", url: notes, body: `{"{own}":"{me}","title":"o1","` + field + `":"{id}"}`},
		{name: "create, a list", method: "POST", url: notes, body: `{"{own}":"{me}","title":"o1","` + field + `":["{id}"]}`},
		{name: "create, append", method: "POST", url: notes, body: `{"{own}":"{me}","title":"o1","` + field + `+":"{id}"}`},
		{name: "create, prepend", method: "POST", url: notes, body: `{"{own}":"{me}","title":"o1","+` + field + `":"{id}"}`},
		{name: "update, plain", method: "PATCH", url: "{note}", body: `{"` + field + `":"{id}"}`},
		{name: "update, append", method: "PATCH", url: "{note}", body: `{"` + field + `+":["{id}"]}`},
		{name: "update, remove", method: "PATCH", url: "{note}", body: `{"` + field + `-":"{id}"}`},
		{name: "create, urlencoded", method: "POST", url: notes, contentType: "application/x-www-form-urlencoded",
			body: "{own}={me}&title=o1&" + field + "={id}"},
		{name: "create, multipart", method: "POST", url: notes, contentType: "multipart",
			body: "{own}={me}&title=o1&" + field + "={id}"},
		{name: "create, multipart @jsonPayload", method: "POST", url: notes, contentType: "multipart",
			body: `@jsonPayload={"{own}":"{me}","title":"o1","` + field + `":"{id}"}`},
		{name: "update, multipart with the relation in the URL query", method: "PATCH", url: "{note}?" + field + "={id}", contentType: "multipart",
			body: "title=o1"},
		{name: "batch create", method: "POST", url: "/api/batch",
			body: `{"requests":[{"method":"POST","url":"` + notes + `","body":{"{own}":"{me}","title":"o1","` + field + `":"{id}"}}]}`},
		{name: "batch update, second sub-request", method: "POST", url: "/api/batch",
			body: `{"requests":[{"method":"PATCH","url":"{note}","body":{"title":"x"}},{"method":"PATCH","url":"{note}","body":{"` + field + `+":"{id}"}}]}`},
		{name: "batch upsert", method: "POST", url: "/api/batch",
			body: `{"requests":[{"method":"PUT","url":"` + notes + `","body":{"{own}":"{me}","title":"o1","` + field + `":"{id}"}}]}`},
		{name: "batch, the relation in the sub-request's query", method: "POST", url: "/api/batch",
			body: `{"requests":[{"method":"PATCH","url":"{note}?` + field + `={id}","body":{"title":"x"}}]}`},
	}
}

// send makes the request of l with authorization.
func (l link) send(t testing.TB, base, authorization string) (int, string) {
	t.Helper()
	if l.contentType != "multipart" {
		return callAs(t, base, l.method, l.url, authorization, l.contentType, l.body)
	}
	values, err := url.ParseQuery(l.body)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	payload := ""
	for k := range values {
		if k == "@jsonPayload" {
			payload = values.Get(k)
			continue
		}
		fields[k] = values.Get(k)
	}
	buf, ct := formBody(t, fields, payload)
	return callAs(t, base, l.method, l.url, authorization, ct, buf.String())
}

func TestScopedKeyLinksNoOtherCollectionInAnySpelling(t *testing.T) {
	for _, o := range hookstest.Owners {
		runLinks(t, o, []string{hookstest.NotesCollection}, "secret", hookstest.AliceSecretID, `cannot link to records of the \"secrets\" collection`)
	}
}

func TestNoKeyLinksAPIKeysInAnySpelling(t *testing.T) {
	for _, o := range hookstest.Owners {
		for _, scope := range [][]string{nil, {hookstest.NotesCollection}} {
			runLinks(t, o, scope, "key", o.KeyID, "API keys cannot manage API keys")
		}
	}
}

// runLinks tries every spelling of setting field (a relation of notes) to
// existing, and to an id that does not exist, with a key of o's limited to
// scope: each is refused with want (a batch: in the refused sub-request's
// response, PocketBase's batch shape), identically for both ids, and no
// note changes.
func runLinks(t *testing.T, o hookstest.Owner, scope []string, field, existing, want string) {
	env := o.New(t)
	defer env.App.Cleanup()
	addRelation(t, env.App, "key", keystore.Collection)
	enableBatch(t, env.App, nil)
	srv := env.Serve(t)
	key, _ := issueFor(t, env, o, keystore.Options{Permissions: writeOn(scope...)})
	before := noteState(t, env.App)
	for _, l := range linkSpellings(field) {
		t.Run(o.Kind+", key limited to "+strings.Join(scope, ",")+": "+l.name, func(t *testing.T) {
			status, body := l.fill(o, existing).send(t, srv.URL, "Bearer "+key)
			wantStatus := http.StatusForbidden
			if strings.HasPrefix(l.url, "/api/batch") {
				wantStatus = http.StatusBadRequest
				if !strings.Contains(body, `"code":"batch_request_failed"`) || !strings.Contains(body, `"status":403`) {
					t.Errorf("batch refusal not in PocketBase's shape: %s", body)
				}
			}
			if status != wantStatus || !strings.Contains(body, want) {
				t.Fatalf("%d %s, want %d with %q", status, body, wantStatus, want)
			}
			status2, body2 := l.fill(o, "zzzzzzzzzzzzzzz").send(t, srv.URL, "Bearer "+key)
			if status2 != status || body2 != body {
				t.Fatalf("the answer depends on whether the id exists:\n%d %s\n%d %s", status, body, status2, body2)
			}
			if after := noteState(t, env.App); after != before {
				t.Fatalf("notes changed: %s → %s", before, after)
			}
		})
	}
}

// TestScopedKeyStillWritesItsCollection: what a notes-only key may do
// with relations: link its own owner record (a key acts as it), and clear
// a relation (that reaches nothing).
func TestScopedKeyStillWritesItsCollection(t *testing.T) {
	for _, o := range hookstest.Owners {
		for _, c := range []struct{ name, method, url, body, want string }{
			{"create a note owned by the key's owner", http.MethodPost, "/api/collections/notes/records", `{"{own}":"{me}","title":"mine"}`, `"title":"mine"`},
			{"clear a relation to another collection", http.MethodPatch, "{note}", `{"secret":""}`, `"secret":""`},
			{"clear it with an empty list", http.MethodPatch, "{note}", `{"secret":[]}`, `"secret":""`},
		} {
			l := link{method: c.method, url: c.url, body: c.body}.fill(o, "")
			scenarioFor(t, o, tests.ApiScenario{
				Name: o.Kind + "'s notes-only key: " + c.name, Method: c.method, URL: l.url, Body: strings.NewReader(l.body),
				ExpectedStatus: 200, ExpectedContent: []string{c.want},
			}, []string{hookstest.NotesCollection})
		}
	}
}

// scenarioFor runs s in a fresh app of o's with a key of o's limited to
// scope as the request's Authorization.
func scenarioFor(t *testing.T, o hookstest.Owner, s tests.ApiScenario, scope []string) {
	t.Helper()
	s.TestAppFactory = func(t testing.TB) *tests.TestApp {
		env := o.New(t)
		key, _ := issueFor(t, env, o, keystore.Options{Permissions: writeOn(scope...)})
		s.Headers = map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}
		return env.App
	}
	s.Test(t)
}

// addRelation gives notes a relation field to target, as an app might.
func addRelation(t testing.TB, app core.App, field, target string) {
	t.Helper()
	notes, err := app.FindCollectionByNameOrId(hookstest.NotesCollection)
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.FindCollectionByNameOrId(target)
	if err != nil {
		t.Fatal(err)
	}
	notes.Fields.Add(&core.RelationField{Name: field, CollectionId: c.Id, MaxSelect: 5})
	if err := app.Save(notes); err != nil {
		t.Fatal(err)
	}
}

// noteState is every note's id, title and relations, for "nothing changed".
func noteState(t testing.TB, app core.App) string {
	t.Helper()
	notes, err := app.FindAllRecords(hookstest.NotesCollection)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range notes {
		b.WriteString(n.Id + "|" + n.GetString("title") + "|" + n.GetString("secret") + "|" + n.GetString("key") + ";")
	}
	return b.String()
}
