package hooks_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
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

const aliceNoteURL = "/api/collections/notes/records/" + hookstest.AliceNoteID

func TestKeyAuthenticatesAsOwner(t *testing.T) {
	for _, o := range hookstest.Owners {
		scenarios := []tests.ApiScenario{
			{
				Name:            "Bearer key reaches a record only its owner may view",
				Method:          http.MethodGet,
				URL:             o.NoteURL(),
				Headers:         bearer(o.Key),
				ExpectedStatus:  200,
				ExpectedContent: []string{`"id":"` + o.NoteID + `"`, `"title":"` + o.NoteTitle + `"`},
				ExpectedEvents:  map[string]int{"OnRecordViewRequest": 1},
			},
			{
				Name:            "bare key, as the JS and Dart SDKs send it after authStore.save(key)",
				Method:          http.MethodGet,
				URL:             o.NoteURL(),
				Headers:         map[string]string{"Authorization": o.Key},
				ExpectedStatus:  200,
				ExpectedContent: []string{`"title":"` + o.NoteTitle + `"`},
			},
			{
				Name:            "scheme is case-insensitive",
				Method:          http.MethodGet,
				URL:             o.NoteURL(),
				Headers:         map[string]string{"Authorization": "bEaReR " + o.Key},
				ExpectedStatus:  200,
				ExpectedContent: []string{`"title":"` + o.NoteTitle + `"`},
			},
			{
				Name:            "without auth the same record is hidden (404)",
				Method:          http.MethodGet,
				URL:             o.NoteURL(),
				ExpectedStatus:  404,
				ExpectedContent: []string{`"status":404`},
			},
			{
				Name:            "a key does not reach another user's record",
				Method:          http.MethodGet,
				URL:             "/api/collections/notes/records/" + hookstest.BobNoteID,
				Headers:         bearer(o.Key),
				ExpectedStatus:  404,
				ExpectedContent: []string{`"status":404`},
			},
			{
				Name:               "list shows only the owner's records",
				Method:             http.MethodGet,
				URL:                "/api/collections/notes/records",
				Headers:            bearer(o.Key),
				ExpectedStatus:     200,
				ExpectedContent:    []string{`"totalItems":1`, o.NoteID},
				NotExpectedContent: []string{hookstest.BobNoteID},
			},
			{
				Name:            "@request.auth.id in a createRule sees the owner",
				Method:          http.MethodPost,
				URL:             "/api/collections/notes/records",
				Headers:         bearer(o.Key),
				Body:            strings.NewReader(`{"` + o.NoteField + `":"` + o.ID + `","title":"via key"}`),
				ExpectedStatus:  200,
				ExpectedContent: []string{`"title":"via key"`, `"` + o.NoteField + `":"` + o.ID + `"`},
			},
			{
				Name:            "createRule still refuses records for someone else",
				Method:          http.MethodPost,
				URL:             "/api/collections/notes/records",
				Headers:         bearer(o.Key),
				Body:            strings.NewReader(`{"owner":"` + hookstest.BobID + `","title":"forged"}`),
				ExpectedStatus:  400,
				ExpectedContent: []string{`"status":400`},
			},
			{
				Name:            "expand works as for the owner",
				Method:          http.MethodGet,
				URL:             o.NoteURL() + "?expand=" + o.NoteField,
				Headers:         bearer(o.Key),
				ExpectedStatus:  200,
				ExpectedContent: []string{`"expand":{"` + o.NoteField + `":{`, `"email":"` + o.Email + `"`},
			},
			{
				Name:               "a file token can be minted for protected files",
				Method:             http.MethodPost,
				URL:                "/api/files/token",
				Headers:            bearer(o.Key),
				ExpectedStatus:     200,
				ExpectedContent:    []string{`"token":"`},
				NotExpectedContent: []string{o.KeySecret},
			},
			{
				Name:    "batch sub-requests run as the owner",
				Method:  http.MethodPost,
				URL:     "/api/batch",
				Headers: bearer(o.Key),
				Body: strings.NewReader(`{"requests":[
					{"method":"POST","url":"/api/collections/notes/records","body":{"` + o.NoteField + `":"` + o.ID + `","title":"batched"}},
					{"method":"PATCH","url":"` + o.NoteURL() + `","body":{"title":"renamed"}}
				]}`),
				BeforeTestFunc:  enableBatch,
				ExpectedStatus:  200,
				ExpectedContent: []string{`"title":"batched"`, `"title":"renamed"`},
			},
		}
		for _, s := range scenarios {
			s.Name = o.Kind + ": " + s.Name
			s.TestAppFactory = o.Factory()
			s.Test(t)
		}
	}
}

// A key authenticates as its owner record, whatever its collection, so an
// app's rules can tell service accounts from people.
func TestRulesSeeTheOwnersCollection(t *testing.T) {
	deploys := func(t testing.TB) *tests.TestApp {
		env := hookstest.New(t, hookstest.ServiceAccounts)
		c := core.NewBaseCollection("deploys")
		c.ListRule = types.Pointer(`@request.auth.collectionName = "service_accounts"`)
		c.Fields.Add(&core.TextField{Name: "version"})
		if err := env.App.Save(c); err != nil {
			t.Fatal(err)
		}
		r := core.NewRecord(c)
		r.Set("version", "v1.2.3")
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
		return env.App
	}
	for _, c := range []struct {
		o    hookstest.Owner
		want string
	}{
		{hookstest.BotOwner, `"totalItems":1`},
		{hookstest.AliceOwner, `"totalItems":0`},
	} {
		s := tests.ApiScenario{
			Name: c.o.Kind + "'s key on a service-accounts-only collection", Method: http.MethodGet,
			URL: "/api/collections/deploys/records", Headers: bearer(c.o.Key),
			ExpectedStatus: 200, ExpectedContent: []string{c.want}, TestAppFactory: deploys,
		}
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
		env := hookstest.New(t)
		s.Headers = map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)}
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
		TestAppFactory:  hookstest.Factory(),
	}
	s.Test(t)
}

func TestInvalidKeysAre401(t *testing.T) {
	wrongSecret := hookstest.AliceKeyID + "." + hookstest.BobKeySecret
	unknownID := "zzzzzzzzzzzzzzz." + hookstest.AliceKeySecret
	scenarios := []tests.ApiScenario{
		{Name: "unknown id", Headers: bearer(unknownID)},
		{Name: "wrong secret", Headers: bearer(wrongSecret)},
		{Name: "wrong secret, bare form", Headers: map[string]string{"Authorization": wrongSecret}},
		{Name: "malformed: secret too short", Headers: bearer(hookstest.AliceKey[:len(hookstest.AliceKey)-1])},
		{Name: "malformed: secret too long", Headers: bearer(hookstest.AliceKey + "A")},
		{Name: "malformed: upper-case id", Headers: bearer(strings.ToUpper(hookstest.AliceKeyID) + "." + hookstest.AliceKeySecret)},
		{Name: "malformed: non-canonical base64 tail", Headers: bearer(hookstest.AliceKeyID + "." + hookstest.AliceKeySecret[:42] + "J")},
		{Name: "malformed: not base64url", Headers: bearer(hookstest.AliceKeyID + "." + strings.Repeat("+", 43))},
		{Name: "malformed: short key-shaped value", Headers: bearer("abc.def")},
		{Name: "malformed: three dots", Headers: bearer("a.b.c.d")},
		// a key cut down to its id is refused, never a guest
		{Name: "key id alone", Headers: bearer(hookstest.AliceKeyID)},
		{Name: "key id alone, bare form", Headers: map[string]string{"Authorization": hookstest.AliceKeyID}},
		{Name: "key id and a dot", Headers: bearer(hookstest.AliceKeyID + ".")},
		{Name: "an id-shaped value no key has", Headers: bearer("zzzzzzzzzzzzzzz")},
		{
			Name:    "deleted key",
			Headers: bearer(hookstest.AliceKey),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				deleteRecord(t, app, "api_keys", hookstest.AliceKeyID)
			},
		},
	}
	for _, s := range scenarios {
		s.Method = http.MethodGet
		s.URL = aliceNoteURL
		s.ExpectedStatus = 401
		s.ExpectedContent = []string{`"status":401`, `"message":"The API key`, `"data":{}`}
		// the error never echoes what was presented
		s.NotExpectedContent = []string{hookstest.AliceKeySecret, hookstest.BobKeySecret, "Alice's note"}
		s.AfterTestFunc = expectInvalidToken
		s.TestAppFactory = hookstest.Factory()
		s.Test(t)
	}

	// A key id alone is 401 with its own message, on the owner's own
	// record (which a guest could not list either) as on a list a guest
	// could read (an empty list, not an answer).
	for _, o := range hookstest.Owners {
		for _, url := range []string{o.NoteURL(), "/api/collections/notes/records"} {
			s := tests.ApiScenario{
				Name:               o.Kind + ": key id alone on " + url,
				Method:             http.MethodGet,
				URL:                url,
				Headers:            bearer(o.KeyID),
				ExpectedStatus:     401,
				ExpectedContent:    []string{`"message":"The API key is incomplete: it is only a key id.`},
				NotExpectedContent: []string{`"items"`, o.NoteTitle},
				AfterTestFunc:      expectInvalidToken,
				TestAppFactory:     o.Factory(),
			}
			s.Test(t)
		}
	}

	// The owner is read, and its collection's authRule checked, on every
	// request, whatever the owner collection.
	for _, o := range hookstest.Owners {
		for _, s := range []tests.ApiScenario{
			{
				Name: "owner deleted (the key goes with it)",
				BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
					deleteRecord(t, app, o.Collection, o.ID)
				},
				ExpectedContent: []string{`"message":"The API key is invalid or has been revoked."`},
			},
			{
				Name: "owner no longer passes its collection's authRule",
				BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
					blockByAuthRule(t, app, o)
				},
				ExpectedContent: []string{`"message":"The API key's owner is not allowed to authenticate."`},
			},
			{
				Name: "owner's collection no longer an owner collection",
				BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
					c, _ := app.FindCollectionByNameOrId(o.Collection)
					c.Name += "_renamed"
					if err := app.Save(c); err != nil {
						t.Fatal(err)
					}
				},
				ExpectedContent: []string{`"message":"The API key's owner is not allowed to authenticate."`},
			},
		} {
			s.Name = o.Kind + ": " + s.Name
			s.Method = http.MethodGet
			s.URL = o.NoteURL()
			s.Headers = bearer(o.Key)
			s.ExpectedStatus = 401
			s.NotExpectedContent = []string{o.KeySecret, o.NoteTitle}
			s.AfterTestFunc = expectInvalidToken
			s.TestAppFactory = o.Factory()
			s.Test(t)
		}
	}
}

func TestAuthRuleStillPassingKeepsKeyWorking(t *testing.T) {
	s := tests.ApiScenario{
		Name:    "verified owner passes a verified-only authRule",
		Method:  http.MethodGet,
		URL:     aliceNoteURL,
		Headers: bearer(hookstest.AliceKey),
		BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
			users, _ := app.FindCollectionByNameOrId("users")
			users.AuthRule = types.Pointer("verified = true")
			if err := app.Save(users); err != nil {
				t.Fatal(err)
			}
		},
		ExpectedStatus:  200,
		ExpectedContent: []string{`"title":"Alice's note"`},
		TestAppFactory:  hookstest.Factory(),
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
	blockByAuthRule(t, app, hookstest.AliceOwner)
}

// blockByAuthRule makes o fail its collection's authRule, as an app's
// "verified = true" rule would after its verification is withdrawn.
func blockByAuthRule(t testing.TB, app core.App, o hookstest.Owner) {
	t.Helper()
	c, err := app.FindCollectionByNameOrId(o.Collection)
	if err != nil {
		t.Fatal(err)
	}
	c.AuthRule = types.Pointer("verified = true")
	if err := app.Save(c); err != nil {
		t.Fatal(err)
	}
	owner, err := app.FindRecordById(o.Collection, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	owner.SetVerified(false)
	if err := app.Save(owner); err != nil {
		t.Fatal(err)
	}
}
