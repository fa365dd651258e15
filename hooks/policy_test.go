package hooks_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/filesystem"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/pbtest"
)

const aliceURL = "/api/collections/users/records/" + pbtest.AliceID

func TestKeyMayNotEscalate(t *testing.T) {
	scenarios := []tests.ApiScenario{
		// no access at all to api_keys
		{Name: "list api_keys", Method: http.MethodGet, URL: "/api/collections/api_keys/records"},
		{Name: "view own key", Method: http.MethodGet, URL: "/api/collections/api_keys/records/" + pbtest.AliceKeyID},
		{Name: "create a key", Method: http.MethodPost, URL: "/api/collections/api_keys/records", Body: strings.NewReader(`{"label":"persist"}`)},
		{Name: "relabel own key", Method: http.MethodPatch, URL: "/api/collections/api_keys/records/" + pbtest.AliceKeyID, Body: strings.NewReader(`{"label":"x"}`)},
		{Name: "delete own key", Method: http.MethodDelete, URL: "/api/collections/api_keys/records/" + pbtest.AliceKeyID},

		// no new credentials or sessions
		{Name: "auth-with-oauth2", Method: http.MethodPost, URL: "/api/collections/users/auth-with-oauth2", Body: strings.NewReader(`{"provider":"github","code":"x","codeVerifier":"y","redirectURL":"http://x"}`)},
		{Name: "auth-refresh", Method: http.MethodPost, URL: "/api/collections/users/auth-refresh"},
		{Name: "request-email-change", Method: http.MethodPost, URL: "/api/collections/users/request-email-change", Body: strings.NewReader(`{"newEmail":"attacker@example.com"}`)},

		// no credential changes through a record update
		{Name: "change email", Method: http.MethodPatch, URL: aliceURL, Body: strings.NewReader(`{"email":"attacker@example.com"}`)},
		{Name: "change password", Method: http.MethodPatch, URL: aliceURL, Body: strings.NewReader(`{"oldPassword":"` + pbtest.Password + `","password":"attacker-pass-123","passwordConfirm":"attacker-pass-123"}`)},
		{Name: "change verified", Method: http.MethodPatch, URL: aliceURL, Body: strings.NewReader(`{"verified":false}`)},
		{Name: "change email visibility", Method: http.MethodPatch, URL: aliceURL, Body: strings.NewReader(`{"emailVisibility":true}`)},

		// no reading keys through other collections
		{Name: "expand keys from the owner", Method: http.MethodGet, URL: aliceURL + "?expand=api_keys_via_user"},
		{Name: "filter on the back-relation", Method: http.MethodGet, URL: "/api/collections/users/records?filter=" + url.QueryEscape("api_keys_via_user.label?='Alice CI'")},
		{Name: "filter through @collection", Method: http.MethodGet, URL: "/api/collections/notes/records?filter=" + url.QueryEscape("@collection.api_keys.label?='Alice CI'")},
		{Name: "sort by the back-relation", Method: http.MethodGet, URL: "/api/collections/users/records?sort=api_keys_via_user.label"},

		// no deleting the owner's account
		{Name: "delete own account", Method: http.MethodDelete, URL: aliceURL},
	}
	for _, s := range scenarios {
		s.Name = "key: " + s.Name + " → 403"
		s.Headers = bearer(pbtest.AliceKey)
		s.ExpectedStatus = 403
		s.ExpectedContent = []string{`"status":403`, `"message":"API keys cannot`}
		s.NotExpectedContent = []string{pbtest.AliceKeySecret}
		s.AfterTestFunc = expectAliceUnchanged
		s.TestAppFactory = pbtest.Factory()
		s.Test(t)
	}
}

func TestKeyMayNotEscalateInsideBatch(t *testing.T) {
	scenarios := []struct{ name, request string }{
		{"create a key", `{"method":"POST","url":"/api/collections/api_keys/records","body":{"label":"persist"}}`},
		{"delete own key", `{"method":"DELETE","url":"/api/collections/api_keys/records/` + pbtest.AliceKeyID + `"}`},
		{"change email", `{"method":"PATCH","url":"` + aliceURL + `","body":{"email":"attacker@example.com"}}`},
		{"change password", `{"method":"PATCH","url":"` + aliceURL + `","body":{"oldPassword":"` + pbtest.Password + `","password":"attacker-pass-123","passwordConfirm":"attacker-pass-123"}}`},
		{"delete own account", `{"method":"DELETE","url":"` + aliceURL + `"}`},
		{"expand keys from the owner", `{"method":"PATCH","url":"` + aliceURL + `?expand=api_keys_via_user","body":{"name":"x"}}`},
	}
	for _, sc := range scenarios {
		s := tests.ApiScenario{
			Name:           "key in batch: " + sc.name + " → 403",
			Method:         http.MethodPost,
			URL:            "/api/batch",
			Headers:        bearer(pbtest.AliceKey),
			Body:           strings.NewReader(`{"requests":[` + sc.request + `]}`),
			BeforeTestFunc: enableBatch,
			ExpectedStatus: 400, // PocketBase wraps a failed sub-request in a 400...
			ExpectedContent: []string{
				`"status":403`, // ...that carries the sub-request's 403
				`API keys cannot`,
			},
			AfterTestFunc:  expectAliceUnchanged,
			TestAppFactory: pbtest.Factory(),
		}
		s.Test(t)
	}
}

// expectAliceUnchanged checks that a refused request left Alice's account
// and keys as they were.
func expectAliceUnchanged(t testing.TB, app *tests.TestApp, _ *http.Response) {
	t.Helper()
	alice, err := app.FindRecordById("users", pbtest.AliceID)
	if err != nil {
		t.Fatalf("Alice's account is gone: %v", err)
	}
	if alice.Email() != pbtest.AliceEmail || !alice.ValidatePassword(pbtest.Password) || !alice.Verified() {
		t.Fatalf("Alice's credentials changed: email=%q verified=%v", alice.Email(), alice.Verified())
	}
	keys, err := app.FindAllRecords("api_keys")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("want the 2 fixture keys, got %d", len(keys))
	}
	if k, _ := app.FindRecordById("api_keys", pbtest.AliceKeyID); k == nil || k.GetString("label") != pbtest.AliceKeyLabel {
		t.Fatal("Alice's key changed")
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
			Body:            strings.NewReader(`{"email":"` + pbtest.AliceEmail + `","name":"Al"}`),
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
			ExpectedContent: []string{`"id":"` + pbtest.AliceID + `"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
				alice, _ := app.FindRecordById("users", pbtest.AliceID)
				if alice.TokenKey() == "attacker-token-key-0123456789012345" {
					t.Fatal("tokenKey was changed through a key")
				}
			},
		},
	}
	for _, s := range scenarios {
		s.Headers = bearer(pbtest.AliceKey)
		s.TestAppFactory = pbtest.Factory()
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
			ExpectedContent: []string{`"totalItems":1`, pbtest.AliceKeyID},
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
		env := pbtest.New(t)
		s.Headers = map[string]string{"Authorization": pbtest.JWT(t, env.App, pbtest.AliceID)}
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
	setup := func(t *testing.T) (*pbtest.Env, string, string, string) {
		env := pbtest.New(t)
		t.Cleanup(env.App.Cleanup)
		srv := env.Serve(t)
		secretFile := attachFile(t, env.App, pbtest.SecretsCollection, pbtest.AliceSecretID, "file", "the secret plan")
		noteFile := attachFile(t, env.App, pbtest.NotesCollection, pbtest.AliceNoteID, "attachment", "a note attachment")
		return env, srv.URL, secretFile, noteFile
	}
	get := func(t *testing.T, base, path, token string) (int, string) {
		t.Helper()
		return call(t, base, http.MethodGet, path+"?token="+token, "", "")
	}

	t.Run("a notes-only key's token opens notes files, not other collections'", func(t *testing.T) {
		env, base, secretFile, noteFile := setup(t)
		key, _ := issue(t, env, keystore.Options{Collections: []string{pbtest.NotesCollection}})
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
		{"revoked", func(t *testing.T, app core.App) { deleteRecord(t, app, "api_keys", pbtest.AliceKeyID) }, "invalid or has been revoked"},
		{"disabled", func(t *testing.T, app core.App) { setField(t, app, pbtest.AliceKeyID, "disabled", true) }, "disabled"},
		{"expired", func(t *testing.T, app core.App) {
			setField(t, app, pbtest.AliceKeyID, "expires", time.Now().Add(-time.Second))
		}, "expired"},
	} {
		t.Run("a token stops working when its key is "+end.name, func(t *testing.T) {
			env, base, secretFile, _ := setup(t)
			token := fileToken(t, base, pbtest.AliceKey)
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
		token := fileToken(t, base, pbtest.JWT(t, env.App, pbtest.AliceID))
		deleteRecord(t, env.App, "api_keys", pbtest.AliceKeyID)
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
		{"superuser", `{"user":"` + pbtest.BobID + `"}`},
	} {
		env := pbtest.New(t)
		auth := pbtest.JWT(t, env.App, pbtest.AliceID)
		if c.who == "superuser" {
			auth = pbtest.SuperuserJWT(t, env.App)
		}
		scenario(t, env, tests.ApiScenario{
			Name: c.who + " PATCH " + c.body, Method: http.MethodPatch, URL: keysURL + "/" + pbtest.AliceKeyID,
			Headers: map[string]string{"Authorization": auth}, Body: strings.NewReader(c.body),
			ExpectedStatus: 400, ExpectedContent: []string{"roll the key to change anything else"},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
				k, _ := app.FindRecordById("api_keys", pbtest.AliceKeyID)
				if k.GetString("replaced_by") != "" || k.GetString("label") != pbtest.AliceKeyLabel || k.GetString("user") != pbtest.AliceID {
					t.Fatal("a fixed field changed")
				}
			},
		})
	}
	// and the two that do
	env := pbtest.New(t)
	scenario(t, env, tests.ApiScenario{
		Name: "owner PATCH label and disabled", Method: http.MethodPatch, URL: keysURL + "/" + pbtest.AliceKeyID,
		Headers: map[string]string{"Authorization": pbtest.JWT(t, env.App, pbtest.AliceID)},
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
		{core.CollectionNameExternalAuths, map[string]any{"recordRef": pbtest.AliceID, "collectionRef": users, "provider": "github", "providerId": "alice-gh"}},
		{core.CollectionNameAuthOrigins, map[string]any{"recordRef": pbtest.AliceID, "collectionRef": users, "fingerprint": "abc123"}},
	} {
		for _, viaBatch := range []bool{false, true} {
			env := pbtest.New(t)
			id := newAuthRecord(t, env.App, c.collection, c.fields)
			url := "/api/collections/" + c.collection + "/records/" + id
			s := tests.ApiScenario{
				Name: "key deletes its owner's " + c.collection + " record", Method: http.MethodDelete, URL: url,
				Headers: bearer(pbtest.AliceKey), ExpectedStatus: 403, ExpectedContent: []string{"API keys cannot add, change or remove sign-in methods"},
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
		env := pbtest.New(t)
		id := newAuthRecord(t, env.App, c.collection, c.fields)
		scenario(t, env, tests.ApiScenario{
			Name: "session deletes its " + c.collection + " record", Method: http.MethodDelete,
			URL:            "/api/collections/" + c.collection + "/records/" + id,
			Headers:        map[string]string{"Authorization": pbtest.JWT(t, env.App, pbtest.AliceID)},
			ExpectedStatus: 204,
		})
	}
}

func TestKeyShapedValuesAreNeverGuests(t *testing.T) {
	for _, header := range []string{
		pbtest.AliceKey + ".",             // two dots: JWT-shaped, but a key id first
		"Bearer " + pbtest.AliceKey + ".", // the same with the scheme
		pbtest.AliceKeyID + ".e30.c2ln",   // a key id, then a JWT-like tail
		pbtest.AliceKeyID + "..",
	} {
		s := tests.ApiScenario{
			Name: "Authorization: " + header, Method: http.MethodGet, URL: "/api/collections/notes/records",
			Headers: map[string]string{"Authorization": header}, ExpectedStatus: 401,
			ExpectedContent: []string{`"message":"The API key is malformed."`}, AfterTestFunc: expectInvalidToken,
			TestAppFactory: pbtest.Factory(),
		}
		s.Test(t)
	}
}

func TestFiltersAreDecidedOnWhatTheyReadNotTheirText(t *testing.T) {
	env := pbtest.New(t)
	scoped, _ := issue(t, env, keystore.Options{Collections: []string{pbtest.NotesCollection}})
	env.App.Cleanup()
	for _, c := range []struct {
		name, key, url string
	}{
		{"the word api_keys in a string", pbtest.AliceKey, "/api/collections/notes/records?filter=" + q("title != 'api_keys_via_user'")},
		{"the word secret in a string, scoped key", scoped, "/api/collections/notes/records?filter=" + q("title != 'secret.title'")},
		{"a field of its own collection", scoped, "/api/collections/notes/records?filter=" + q("title ~ 'Alice'") + "&sort=-title"},
		{"a relation kept as an id", scoped, "/api/collections/notes/records?filter=" + q("secret = '"+pbtest.AliceSecretID+"'")},
	} {
		env := pbtest.New(t)
		key := c.key
		if key == scoped {
			key, _ = issue(t, env, keystore.Options{Collections: []string{pbtest.NotesCollection}})
		}
		scenario(t, env, tests.ApiScenario{
			Name: c.name, Method: http.MethodGet, URL: c.url, Headers: bearer(key),
			ExpectedStatus: 200, ExpectedContent: []string{`"items":[`},
		})
	}
}
