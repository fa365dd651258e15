package hooks_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"pbkeys/internal/pbtest"
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
