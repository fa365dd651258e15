package hooks_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/internal/pbtest"
)

// expectInvalidToken checks the RFC 6750 challenge on a 401 caused by a key.
func expectInvalidToken(t testing.TB, _ *tests.TestApp, res *http.Response) {
	t.Helper()
	if got := res.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q, want Bearer error=\"invalid_token\"", got)
	}
}

func bearer(key string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + key}
}

const aliceNoteURL = "/api/collections/notes/records/" + pbtest.AliceNoteID

func TestKeyAuthenticatesAsOwner(t *testing.T) {
	scenarios := []tests.ApiScenario{
		{
			Name:            "Bearer key reaches a record only its owner may view",
			Method:          http.MethodGet,
			URL:             aliceNoteURL,
			Headers:         bearer(pbtest.AliceKey),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"id":"` + pbtest.AliceNoteID + `"`, `"title":"Alice's note"`},
			ExpectedEvents:  map[string]int{"OnRecordViewRequest": 1},
		},
		{
			Name:            "bare key, as the JS and Dart SDKs send it after authStore.save(key)",
			Method:          http.MethodGet,
			URL:             aliceNoteURL,
			Headers:         map[string]string{"Authorization": pbtest.AliceKey},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"title":"Alice's note"`},
		},
		{
			Name:            "scheme is case-insensitive",
			Method:          http.MethodGet,
			URL:             aliceNoteURL,
			Headers:         map[string]string{"Authorization": "bEaReR " + pbtest.AliceKey},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"title":"Alice's note"`},
		},
		{
			Name:            "without auth the same record is hidden (404)",
			Method:          http.MethodGet,
			URL:             aliceNoteURL,
			ExpectedStatus:  404,
			ExpectedContent: []string{`"status":404`},
		},
		{
			Name:            "a key does not reach another user's record",
			Method:          http.MethodGet,
			URL:             "/api/collections/notes/records/" + pbtest.BobNoteID,
			Headers:         bearer(pbtest.AliceKey),
			ExpectedStatus:  404,
			ExpectedContent: []string{`"status":404`},
		},
		{
			Name:            "list shows only the owner's records",
			Method:          http.MethodGet,
			URL:             "/api/collections/notes/records",
			Headers:         bearer(pbtest.AliceKey),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"totalItems":1`, pbtest.AliceNoteID},
			NotExpectedContent: []string{
				pbtest.BobNoteID,
			},
		},
		{
			Name:            "@request.auth.id in a createRule sees the owner",
			Method:          http.MethodPost,
			URL:             "/api/collections/notes/records",
			Headers:         bearer(pbtest.AliceKey),
			Body:            strings.NewReader(`{"owner":"` + pbtest.AliceID + `","title":"via key"}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"title":"via key"`, `"owner":"` + pbtest.AliceID + `"`},
		},
		{
			Name:            "createRule still refuses records for someone else",
			Method:          http.MethodPost,
			URL:             "/api/collections/notes/records",
			Headers:         bearer(pbtest.AliceKey),
			Body:            strings.NewReader(`{"owner":"` + pbtest.BobID + `","title":"forged"}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"status":400`},
		},
		{
			Name:            "expand works as for the owner",
			Method:          http.MethodGet,
			URL:             aliceNoteURL + "?expand=owner",
			Headers:         bearer(pbtest.AliceKey),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"expand":{"owner":{`, `"email":"` + pbtest.AliceEmail + `"`},
		},
		{
			Name:            "a file token can be minted for protected files",
			Method:          http.MethodPost,
			URL:             "/api/files/token",
			Headers:         bearer(pbtest.AliceKey),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"token":"`},
			NotExpectedContent: []string{
				pbtest.AliceKeySecret,
			},
		},
		{
			Name:    "batch sub-requests run as the owner",
			Method:  http.MethodPost,
			URL:     "/api/batch",
			Headers: bearer(pbtest.AliceKey),
			Body: strings.NewReader(`{"requests":[
				{"method":"POST","url":"/api/collections/notes/records","body":{"owner":"` + pbtest.AliceID + `","title":"batched"}},
				{"method":"PATCH","url":"/api/collections/notes/records/` + pbtest.AliceNoteID + `","body":{"title":"renamed"}}
			]}`),
			BeforeTestFunc:  enableBatch,
			ExpectedStatus:  200,
			ExpectedContent: []string{`"title":"batched"`, `"title":"renamed"`},
		},
	}
	for _, s := range scenarios {
		s.TestAppFactory = pbtest.Factory()
		s.Test(t)
	}
}

func TestJWTAuthUnchanged(t *testing.T) {
	scenarios := []tests.ApiScenario{
		{
			Name:            "PocketBase JWT still authenticates",
			Method:          http.MethodGet,
			URL:             aliceNoteURL,
			ExpectedStatus:  200,
			ExpectedContent: []string{`"title":"Alice's note"`},
		},
	}
	for _, s := range scenarios {
		env := pbtest.New(t)
		s.Headers = map[string]string{"Authorization": pbtest.JWT(t, env.App, pbtest.AliceID)}
		s.TestAppFactory = func(testing.TB) *tests.TestApp { return env.App }
		s.Test(t)
	}

	// An invalid JWT stays PocketBase's business: a guest, not our 401.
	s := tests.ApiScenario{
		Name:            "an invalid JWT is a guest, as in stock PocketBase",
		Method:          http.MethodGet,
		URL:             aliceNoteURL,
		Headers:         map[string]string{"Authorization": "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6IngifQ.c2lnbmF0dXJl"},
		ExpectedStatus:  404,
		ExpectedContent: []string{`"status":404`},
		TestAppFactory:  pbtest.Factory(),
	}
	s.Test(t)
}

func TestInvalidKeysAre401(t *testing.T) {
	wrongSecret := pbtest.AliceKeyID + "." + pbtest.BobKeySecret
	unknownID := "zzzzzzzzzzzzzzz." + pbtest.AliceKeySecret
	scenarios := []tests.ApiScenario{
		{Name: "unknown id", Headers: bearer(unknownID)},
		{Name: "wrong secret", Headers: bearer(wrongSecret)},
		{Name: "wrong secret, bare form", Headers: map[string]string{"Authorization": wrongSecret}},
		{Name: "malformed: secret too short", Headers: bearer(pbtest.AliceKey[:len(pbtest.AliceKey)-1])},
		{Name: "malformed: secret too long", Headers: bearer(pbtest.AliceKey + "A")},
		{Name: "malformed: upper-case id", Headers: bearer(strings.ToUpper(pbtest.AliceKeyID) + "." + pbtest.AliceKeySecret)},
		{Name: "malformed: non-canonical base64 tail", Headers: bearer(pbtest.AliceKeyID + "." + pbtest.AliceKeySecret[:42] + "J")},
		{Name: "malformed: not base64url", Headers: bearer(pbtest.AliceKeyID + "." + strings.Repeat("+", 43))},
		{Name: "malformed: short key-shaped value", Headers: bearer("abc.def")},
		{Name: "malformed: three dots", Headers: bearer("a.b.c.d")},
		{
			Name:    "deleted key",
			Headers: bearer(pbtest.AliceKey),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				deleteRecord(t, app, "api_keys", pbtest.AliceKeyID)
			},
		},
		{
			Name:    "owner deleted (the key goes with it)",
			Headers: bearer(pbtest.AliceKey),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				deleteRecord(t, app, "users", pbtest.AliceID)
			},
		},
		{
			Name:    "owner no longer passes the users authRule",
			Headers: bearer(pbtest.AliceKey),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				blockAliceByAuthRule(t, app)
			},
		},
	}
	for _, s := range scenarios {
		s.Method = http.MethodGet
		s.URL = aliceNoteURL
		s.ExpectedStatus = 401
		s.ExpectedContent = []string{`"status":401`, `"message":"The API key`, `"data":{}`}
		// the error never echoes what was presented
		s.NotExpectedContent = []string{pbtest.AliceKeySecret, pbtest.BobKeySecret, "Alice's note"}
		s.AfterTestFunc = expectInvalidToken
		s.TestAppFactory = pbtest.Factory()
		s.Test(t)
	}
}

func TestAuthRuleStillPassingKeepsKeyWorking(t *testing.T) {
	s := tests.ApiScenario{
		Name:    "verified owner passes a verified-only authRule",
		Method:  http.MethodGet,
		URL:     aliceNoteURL,
		Headers: bearer(pbtest.AliceKey),
		BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
			users, _ := app.FindCollectionByNameOrId("users")
			users.AuthRule = types.Pointer("verified = true")
			if err := app.Save(users); err != nil {
				t.Fatal(err)
			}
		},
		ExpectedStatus:  200,
		ExpectedContent: []string{`"title":"Alice's note"`},
		TestAppFactory:  pbtest.Factory(),
	}
	s.Test(t)
}

func enableBatch(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
	t.Helper()
	app.Settings().Batch.Enabled = true
	app.Settings().Batch.MaxRequests = 10
	if err := app.Save(app.Settings()); err != nil {
		t.Fatal(err)
	}
}

func deleteRecord(t testing.TB, app core.App, collection, id string) {
	t.Helper()
	r, err := app.FindRecordById(collection, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Delete(r); err != nil {
		t.Fatal(err)
	}
}

// blockAliceByAuthRule makes Alice fail the users authRule, as an app's
// "verified = true" rule would after her verification is withdrawn.
func blockAliceByAuthRule(t testing.TB, app core.App) {
	t.Helper()
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.AuthRule = types.Pointer("verified = true")
	if err := app.Save(users); err != nil {
		t.Fatal(err)
	}
	alice, err := app.FindRecordById("users", pbtest.AliceID)
	if err != nil {
		t.Fatal(err)
	}
	alice.SetVerified(false)
	if err := app.Save(alice); err != nil {
		t.Fatal(err)
	}
}
