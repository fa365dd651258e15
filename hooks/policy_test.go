package hooks_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/filesystem"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

const aliceURL = "/api/collections/users/records/" + hookstest.AliceID

// linkedKeys is the fixture with o and api_keys linked to their owners by
// relation fields, as an operator might add in the dashboard: the
// back-relations api_keys_via_user and api_keys_via_bot then exist for
// expand, filter and sort.
func linkedKeys(o hookstest.Owner) func(testing.TB) *tests.TestApp {
	return func(t testing.TB) *tests.TestApp {
		env := o.New(t)
		hookstest.LinkKeysToOwners(t, env.App)
		return env.App
	}
}

// The guard holds for every owner collection: the same table for a user's
// key and a service account's.
func TestKeyMayNotEscalate(t *testing.T) {
	for _, o := range hookstest.Owners {
		records := "/api/collections/" + o.Collection + "/records"
		auth := "/api/collections/" + o.Collection + "/"
		back := "api_keys_via_" + o.LinkField
		scenarios := []tests.ApiScenario{
			// no access at all to api_keys
			{Name: "list api_keys", Method: http.MethodGet, URL: "/api/collections/api_keys/records"},
			{Name: "view own key", Method: http.MethodGet, URL: "/api/collections/api_keys/records/" + o.KeyID},
			{Name: "create a key", Method: http.MethodPost, URL: "/api/collections/api_keys/records", Body: strings.NewReader(`{"label":"persist"}`)},
			{Name: "relabel own key", Method: http.MethodPatch, URL: "/api/collections/api_keys/records/" + o.KeyID, Body: strings.NewReader(`{"label":"x"}`)},
			{Name: "delete own key", Method: http.MethodDelete, URL: "/api/collections/api_keys/records/" + o.KeyID},
			{Name: "roll own key", Method: http.MethodPost, URL: "/api/api-keys/" + o.KeyID + "/roll", Body: strings.NewReader(`{"grace":"now"}`)},

			// no new credentials or sessions
			{Name: "auth-with-oauth2", Method: http.MethodPost, URL: auth + "auth-with-oauth2", Body: strings.NewReader(`{"provider":"github","code":"x","codeVerifier":"y","redirectURL":"http://x"}`)},
			{Name: "auth-refresh", Method: http.MethodPost, URL: auth + "auth-refresh"},
			{Name: "request-email-change", Method: http.MethodPost, URL: auth + "request-email-change", Body: strings.NewReader(`{"newEmail":"attacker@example.com"}`)},

			// no credential changes through a record update
			{Name: "change email", Method: http.MethodPatch, URL: o.URL(), Body: strings.NewReader(`{"email":"attacker@example.com"}`)},
			{Name: "change password", Method: http.MethodPatch, URL: o.URL(), Body: strings.NewReader(`{"oldPassword":"` + hookstest.Password + `","password":"attacker-pass-123","passwordConfirm":"attacker-pass-123"}`)},
			{Name: "change verified", Method: http.MethodPatch, URL: o.URL(), Body: strings.NewReader(`{"verified":false}`)},
			{Name: "change email visibility", Method: http.MethodPatch, URL: o.URL(), Body: strings.NewReader(`{"emailVisibility":true}`)},

			// no reading keys through other collections
			{Name: "expand keys from the owner", Method: http.MethodGet, URL: o.URL() + "?expand=" + back},
			{Name: "filter on the back-relation", Method: http.MethodGet, URL: records + "?filter=" + url.QueryEscape(back+".label?='"+o.KeyLabel+"'")},
			{Name: "filter through @collection", Method: http.MethodGet, URL: "/api/collections/notes/records?filter=" + url.QueryEscape("@collection.api_keys.label?='"+o.KeyLabel+"'")},
			{Name: "sort by the back-relation", Method: http.MethodGet, URL: records + "?sort=" + back + ".label"},

			// no deleting the owner's account
			{Name: "delete own account", Method: http.MethodDelete, URL: o.URL()},

			// no reading or forging the keys' usage
			{Name: "list api_key_usage", Method: http.MethodGet, URL: "/api/collections/api_key_usage/records"},
			{Name: "create a usage row", Method: http.MethodPost, URL: "/api/collections/api_key_usage/records", Body: strings.NewReader(`{"key":"` + o.KeyID + `","day":"2020-01-01","requests":1}`)},
			{Name: "filter through @collection.api_key_usage", Method: http.MethodGet, URL: "/api/collections/notes/records?filter=" + url.QueryEscape("@collection.api_key_usage.requests > 0")},
			{Name: "the usage route", Method: http.MethodGet, URL: "/api/api-keys/" + o.KeyID + "/usage"},

			// no reading or forging the keys' events
			{Name: "list api_key_events", Method: http.MethodGet, URL: "/api/collections/api_key_events/records"},
			{Name: "create an event row", Method: http.MethodPost, URL: "/api/collections/api_key_events/records", Body: strings.NewReader(`{"key":"` + o.KeyID + `","owner":"` + o.ID + `","owner_collection":"x","action":"created","actor_kind":"system","label":"forged"}`)},
			{Name: "filter through @collection.api_key_events", Method: http.MethodGet, URL: "/api/collections/notes/records?filter=" + url.QueryEscape("@collection.api_key_events.action ?= 'created'")},
			{Name: "sort through @collection.api_key_events", Method: http.MethodGet, URL: "/api/collections/notes/records?sort=@collection.api_key_events.created"},
			{Name: "the events route", Method: http.MethodGet, URL: "/api/api-keys/" + o.KeyID + "/events"},
		}
		for _, s := range scenarios {
			s.Name = o.Kind + "'s key: " + s.Name + " → 403"
			s.Headers = bearer(o.Key)
			s.ExpectedStatus = 403
			s.ExpectedContent = []string{`"status":403`, `"message":"API keys cannot`}
			s.NotExpectedContent = []string{o.KeySecret}
			s.AfterTestFunc = expectOwnerUnchanged(o)
			s.TestAppFactory = linkedKeys(o)
			s.Test(t)
		}
	}
}

func TestKeyMayNotEscalateInsideBatch(t *testing.T) {
	for _, o := range hookstest.Owners {
		scenarios := []struct{ name, request string }{
			{"create a key", `{"method":"POST","url":"/api/collections/api_keys/records","body":{"label":"persist"}}`},
			{"delete own key", `{"method":"DELETE","url":"/api/collections/api_keys/records/` + o.KeyID + `"}`},
			{"change email", `{"method":"PATCH","url":"` + o.URL() + `","body":{"email":"attacker@example.com"}}`},
			{"change password", `{"method":"PATCH","url":"` + o.URL() + `","body":{"oldPassword":"` + hookstest.Password + `","password":"attacker-pass-123","passwordConfirm":"attacker-pass-123"}}`},
			{"delete own account", `{"method":"DELETE","url":"` + o.URL() + `"}`},
			{"expand keys from the owner", `{"method":"PATCH","url":"` + o.URL() + `?expand=api_keys_via_` + o.LinkField + `","body":{"name":"x"}}`},
			{"create an event row", `{"method":"POST","url":"/api/collections/api_key_events/records","body":{"key":"` + o.KeyID + `","owner":"` + o.ID + `","owner_collection":"x","action":"created","actor_kind":"system","label":"forged"}}`},
			{"a note, filtered through the events", `{"method":"PATCH","url":"` + o.NoteURL() + `?filter=` + url.QueryEscape("@collection.api_key_events.action ?= 'created'") + `&expand=owner","body":{"title":"x"}}`},
		}
		for _, sc := range scenarios {
			s := tests.ApiScenario{
				Name:           o.Kind + "'s key in batch: " + sc.name + " → 403",
				Method:         http.MethodPost,
				URL:            "/api/batch",
				Headers:        bearer(o.Key),
				Body:           strings.NewReader(`{"requests":[` + sc.request + `]}`),
				BeforeTestFunc: enableBatch,
				ExpectedStatus: 400, // PocketBase wraps a failed sub-request in a 400...
				ExpectedContent: []string{
					`"status":403`, // ...that carries the sub-request's 403
					`API keys cannot`,
				},
				AfterTestFunc:  expectOwnerUnchanged(o),
				TestAppFactory: linkedKeys(o),
			}
			s.Test(t)
		}
	}
}

// expectOwnerUnchanged checks that a refused request left o's account and
// the fixture's keys as they were.
func expectOwnerUnchanged(o hookstest.Owner) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(t testing.TB, app *tests.TestApp, _ *http.Response) {
		t.Helper()
		owner, err := app.FindRecordById(o.Collection, o.ID)
		if err != nil {
			t.Fatalf("the %s's account is gone: %v", o.Kind, err)
		}
		if owner.Email() != o.Email || !owner.Verified() || owner.GetBool(core.FieldNameEmailVisibility) ||
			(o.Collection == "users" && !owner.ValidatePassword(hookstest.Password)) || owner.ValidatePassword("attacker-pass-123") {
			t.Fatalf("the %s's credentials changed: email=%q verified=%v", o.Kind, owner.Email(), owner.Verified())
		}
		want := 2 // Alice's and Bob's
		if o.Configure != nil {
			want++ // and the bot's
		}
		if n, err := app.CountRecords("api_keys"); err != nil || int(n) != want {
			t.Fatalf("want the %d fixture keys, got %d (%v)", want, n, err)
		}
		if k, _ := app.FindRecordById("api_keys", o.KeyID); k == nil || k.GetString("label") != o.KeyLabel {
			t.Fatalf("the %s's key changed", o.Kind)
		}
		// (the refused request itself is a use of the key, and is counted)
		if n, _ := app.CountRecords("api_key_usage", dbx.HashExp{"day": "2020-01-01"}); n != 0 {
			t.Fatalf("%d usage rows were forged", n)
		}
		if n, _ := app.CountRecords("api_key_events", dbx.HashExp{"label": "forged"}); n != 0 {
			t.Fatalf("%d events were forged", n)
		}
	}
}

func TestKeyMayStillDoOrdinaryAccountWork(t *testing.T) {
	scenarios := []tests.ApiScenario{
		{
			Name:            "key may update non-credential fields of the owner",
			Method:          http.MethodPatch,
			URL:             aliceURL,
			Body:            strings.NewReader(`{"name":"Alice A."}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"name":"Alice A."`},
		},
		{
			Name:            "sending the unchanged email is not a change",
			Method:          http.MethodPatch,
			URL:             aliceURL,
			Body:            strings.NewReader(`{"email":"` + hookstest.AliceEmail + `","name":"Al"}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"name":"Al"`},
		},
		{
			// tokenKey is hidden: PocketBase drops it from non-superuser
			// bodies, so the owner's sessions survive.
			Name:            "a tokenKey in the body is ignored",
			Method:          http.MethodPatch,
			URL:             aliceURL,
			Body:            strings.NewReader(`{"tokenKey":"attacker-token-key-0123456789012345"}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"id":"` + hookstest.AliceID + `"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
				alice, _ := app.FindRecordById("users", hookstest.AliceID)
				if alice.TokenKey() == "attacker-token-key-0123456789012345" {
					t.Fatal("tokenKey was changed through a key")
				}
			},
		},
	}
	for _, s := range scenarios {
		s.Headers = bearer(hookstest.AliceKey)
		s.TestAppFactory = hookstest.Factory()
		s.Test(t)
	}
}

func TestJWTMayStillManageAccountAndKeys(t *testing.T) {
	scenarios := []tests.ApiScenario{
		{
			Name:            "JWT lists its keys",
			Method:          http.MethodGet,
			URL:             "/api/collections/api_keys/records",
			ExpectedStatus:  200,
			ExpectedContent: []string{`"totalItems":1`, hookstest.AliceKeyID},
		},
		{
			Name:            "JWT refresh still mints a JWT",
			Method:          http.MethodPost,
			URL:             "/api/collections/users/auth-refresh",
			ExpectedStatus:  200,
			ExpectedContent: []string{`"token":"`, `"record":{`},
		},
		{
			Name:           "JWT deletes the account (stock PocketBase rule)",
			Method:         http.MethodDelete,
			URL:            aliceURL,
			ExpectedStatus: 204,
		},
	}
	for _, s := range scenarios {
		env := hookstest.New(t)
		s.Headers = map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)}
		s.TestAppFactory = func(testing.TB) *tests.TestApp { return env.App }
		s.Test(t)
	}
}

// attachFile stores a protected file on a fixture record and returns its
// download path.
func attachFile(t testing.TB, app core.App, collection, id, field, content string) string {
	t.Helper()
	r, err := app.FindRecordById(collection, id)
	if err != nil {
		t.Fatal(err)
	}
	f, err := filesystem.NewFileFromBytes([]byte(content), "file.txt")
	if err != nil {
		t.Fatal(err)
	}
	r.Set(field, f)
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	return "/api/files/" + collection + "/" + id + "/" + r.GetString(field)
}

// fileToken asks for a file token with authorization.
func fileToken(t testing.TB, base, authorization string) string {
	t.Helper()
	status, body := call(t, base, http.MethodPost, "/api/files/token", authorization, "")
	var res struct{ Token string }
	if err := json.Unmarshal([]byte(body), &res); status != 200 || err != nil || res.Token == "" {
		t.Fatalf("file token: %d %s", status, body)
	}
	return res.Token
}

func TestFileTokensStayBoundToTheirKey(t *testing.T) {
	setup := func(t *testing.T) (*hookstest.Env, string, string, string) {
		env := hookstest.New(t)
		t.Cleanup(env.App.Cleanup)
		srv := env.Serve(t)
		secretFile := attachFile(t, env.App, hookstest.SecretsCollection, hookstest.AliceSecretID, "file", "the secret plan")
		noteFile := attachFile(t, env.App, hookstest.NotesCollection, hookstest.AliceNoteID, "attachment", "a note attachment")
		return env, srv.URL, secretFile, noteFile
	}
	get := func(t *testing.T, base, path, token string) (int, string) {
		t.Helper()
		return call(t, base, http.MethodGet, path+"?token="+token, "", "")
	}

	t.Run("a notes-only key's token opens notes files, not other collections'", func(t *testing.T) {
		env, base, secretFile, noteFile := setup(t)
		key, _ := issue(t, env, keystore.Options{Permissions: permissions.Set{hookstest.NotesCollection: permissions.Write, permissions.Routes: permissions.Write}})
		token := fileToken(t, base, key)
		if status, body := get(t, base, noteFile, token); status != 200 || body != "a note attachment" {
			t.Fatalf("notes file: %d %s", status, body)
		}
		if status, body := get(t, base, secretFile, token); status != 403 || strings.Contains(body, "the secret plan") {
			t.Fatalf("secrets file with a notes-only key's token: %d %s, want 403", status, body)
		}
	})
	for _, end := range []struct {
		name  string
		apply func(t *testing.T, app core.App)
		msg   string
	}{
		{"revoked", func(t *testing.T, app core.App) { deleteRecord(t, app, "api_keys", hookstest.AliceKeyID) }, "invalid or has been revoked"},
		{"disabled", func(t *testing.T, app core.App) { setField(t, app, hookstest.AliceKeyID, "disabled", true) }, "disabled"},
		{"expired", func(t *testing.T, app core.App) {
			setField(t, app, hookstest.AliceKeyID, "expires", time.Now().Add(-time.Second))
		}, "expired"},
	} {
		t.Run("a token stops working when its key is "+end.name, func(t *testing.T) {
			env, base, secretFile, _ := setup(t)
			token := fileToken(t, base, hookstest.AliceKey)
			if status, body := get(t, base, secretFile, token); status != 200 || body != "the secret plan" {
				t.Fatalf("before: %d %s", status, body)
			}
			end.apply(t, env.App)
			if status, body := get(t, base, secretFile, token); status != 401 || !strings.Contains(body, end.msg) {
				t.Fatalf("after the key is %s: %d %s, want 401", end.name, status, body)
			}
		})
	}
	t.Run("a session's token is PocketBase's, unchanged", func(t *testing.T) {
		env, base, secretFile, _ := setup(t)
		token := fileToken(t, base, hookstest.JWT(t, env.App, hookstest.AliceID))
		deleteRecord(t, env.App, "api_keys", hookstest.AliceKeyID)
		if status, body := get(t, base, secretFile, token); status != 200 || body != "the secret plan" {
			t.Fatalf("session token: %d %s", status, body)
		}
	})
}

func TestOnlyLabelAndDisabledChange(t *testing.T) {
	for _, c := range []struct{ who, body string }{
		{"owner", `{"replaced_by":"zzzzzzzzzzzzzzz"}`},
		{"owner", `{"label":"ok","replaced_by":"zzzzzzzzzzzzzzz"}`},
		{"superuser", `{"replaced_by":"zzzzzzzzzzzzzzz"}`},
		{"owner", `{"last_used":"2020-01-01 00:00:00.000Z"}`},
		{"superuser", `{"owner":"` + hookstest.BobID + `"}`},
		{"superuser", `{"owner_collection":"pbc_0000000000"}`},
	} {
		env := hookstest.New(t)
		auth := hookstest.JWT(t, env.App, hookstest.AliceID)
		if c.who == "superuser" {
			auth = hookstest.SuperuserJWT(t, env.App)
		}
		scenario(t, env, tests.ApiScenario{
			Name: c.who + " PATCH " + c.body, Method: http.MethodPatch, URL: keysURL + "/" + hookstest.AliceKeyID,
			Headers: map[string]string{"Authorization": auth}, Body: strings.NewReader(c.body),
			ExpectedStatus: 400, ExpectedContent: []string{"roll the key to change anything else"},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
				k, _ := app.FindRecordById("api_keys", hookstest.AliceKeyID)
				if k.GetString("replaced_by") != "" || k.GetString("label") != hookstest.AliceKeyLabel || k.GetString("owner") != hookstest.AliceID {
					t.Fatal("a fixed field changed")
				}
			},
		})
	}
	// and the two that do
	env := hookstest.New(t)
	scenario(t, env, tests.ApiScenario{
		Name: "owner PATCH label and disabled", Method: http.MethodPatch, URL: keysURL + "/" + hookstest.AliceKeyID,
		Headers: map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)},
		Body:    strings.NewReader(`{"label":"renamed","disabled":true}`), ExpectedStatus: 200,
		ExpectedContent: []string{`"label":"renamed"`, `"disabled":true`},
	})
}

func TestKeyCannotChangeSignInMethods(t *testing.T) {
	newAuthRecord := func(t testing.TB, app core.App, collection string, set map[string]any) string {
		t.Helper()
		c, err := app.FindCollectionByNameOrId(collection)
		if err != nil {
			t.Fatal(err)
		}
		r := core.NewRecord(c)
		for k, v := range set {
			r.Set(k, v)
		}
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
		return r.Id
	}
	users := "_pb_users_auth_"
	for _, c := range []struct {
		collection string
		fields     map[string]any
	}{
		{core.CollectionNameExternalAuths, map[string]any{"recordRef": hookstest.AliceID, "collectionRef": users, "provider": "github", "providerId": "alice-gh"}},
		{core.CollectionNameAuthOrigins, map[string]any{"recordRef": hookstest.AliceID, "collectionRef": users, "fingerprint": "abc123"}},
	} {
		for _, viaBatch := range []bool{false, true} {
			env := hookstest.New(t)
			id := newAuthRecord(t, env.App, c.collection, c.fields)
			url := "/api/collections/" + c.collection + "/records/" + id
			s := tests.ApiScenario{
				Name: "key deletes its owner's " + c.collection + " record", Method: http.MethodDelete, URL: url,
				Headers: bearer(hookstest.AliceKey), ExpectedStatus: 403, ExpectedContent: []string{"API keys cannot add, change or remove sign-in methods"},
				BeforeTestFunc: enableBatch,
				AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
					if _, err := app.FindRecordById(c.collection, id); err != nil {
						t.Fatalf("the %s record was deleted: %v", c.collection, err)
					}
				},
			}
			if viaBatch {
				s.Name += " in a batch"
				s.Method, s.URL = http.MethodPost, "/api/batch"
				s.Body = strings.NewReader(`{"requests":[{"method":"DELETE","url":"` + url + `"}]}`)
				s.ExpectedStatus = 400
			}
			scenario(t, env, s)
		}
		// a session still may, as in stock PocketBase
		env := hookstest.New(t)
		id := newAuthRecord(t, env.App, c.collection, c.fields)
		scenario(t, env, tests.ApiScenario{
			Name: "session deletes its " + c.collection + " record", Method: http.MethodDelete,
			URL:            "/api/collections/" + c.collection + "/records/" + id,
			Headers:        map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)},
			ExpectedStatus: 204,
		})
	}
}

func TestKeyShapedValuesAreNeverGuests(t *testing.T) {
	for _, header := range []string{
		hookstest.AliceKey + ".",             // two dots: JWT-shaped, but a key id first
		"Bearer " + hookstest.AliceKey + ".", // the same with the scheme
		hookstest.AliceKeyID + ".e30.c2ln",   // a key id, then a JWT-like tail
		hookstest.AliceKeyID + "..",
	} {
		s := tests.ApiScenario{
			Name: "Authorization: " + header, Method: http.MethodGet, URL: "/api/collections/notes/records",
			Headers: map[string]string{"Authorization": header}, ExpectedStatus: 401,
			ExpectedContent: []string{`"message":"The API key is malformed."`}, AfterTestFunc: expectInvalidToken,
			TestAppFactory: hookstest.Factory(),
		}
		s.Test(t)
	}
}

func TestFiltersAreDecidedOnWhatTheyReadNotTheirText(t *testing.T) {
	env := hookstest.New(t)
	scoped, _ := issue(t, env, keystore.Options{Permissions: permissions.Set{hookstest.NotesCollection: permissions.Write, permissions.Routes: permissions.Write}})
	env.App.Cleanup()
	for _, c := range []struct {
		name, key, url string
	}{
		{"the word api_keys in a string", hookstest.AliceKey, "/api/collections/notes/records?filter=" + q("title != 'api_keys_via_user'")},
		{"the word secret in a string, scoped key", scoped, "/api/collections/notes/records?filter=" + q("title != 'secret.title'")},
		{"a field of its own collection", scoped, "/api/collections/notes/records?filter=" + q("title ~ 'Alice'") + "&sort=-title"},
		{"a relation kept as an id", scoped, "/api/collections/notes/records?filter=" + q("secret = '"+hookstest.AliceSecretID+"'")},
	} {
		env := hookstest.New(t)
		key := c.key
		if key == scoped {
			key, _ = issue(t, env, keystore.Options{Permissions: permissions.Set{hookstest.NotesCollection: permissions.Write, permissions.Routes: permissions.Write}})
		}
		scenario(t, env, tests.ApiScenario{
			Name: c.name, Method: http.MethodGet, URL: c.url, Headers: bearer(key),
			ExpectedStatus: 200, ExpectedContent: []string{`"items":[`},
		})
	}
}
