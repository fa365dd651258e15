package hooks_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
)

// A key's hash is never returned, not even to superusers, so it must not
// be searchable one prefix at a time either: a filter or sort that reads
// api_keys' key_hash — on the keys' list, through a back-relation, through
// @collection — is refused for everyone, on REST and realtime. (Batch
// sub-requests create, update and delete: they never filter.)
func TestNoOneSearchesKeyHashes(t *testing.T) {
	prefix := "argon2id$v=19$m=1024,t=1,p=1$" // the fixture's parameters
	keys, users := "/api/collections/api_keys/records", "/api/collections/users/records"
	refused := []struct{ name, url string }{
		{"filter on the hash (the review's query)", keys + "?filter=" + q("key_hash~'"+prefix+"'")},
		{"filter on the hash, equality", keys + "?filter=" + q("key_hash = 'x'")},
		{"filter with the hash inside an or", keys + "?filter=" + q("label != '' || key_hash ~ 'x'")},
		{"sort by the hash", keys + "?sort=key_hash"},
		{"sort by the hash, descending", keys + "?sort=-key_hash"},
		{"sort by the hash after another field", keys + "?sort=" + q("label, +key_hash")},
		{"the keys' list by collection name in upper case", "/api/collections/API_KEYS/records?filter=" + q("key_hash~'x'")},
		{"through a back-relation", users + "?filter=" + q("api_keys_via_user.key_hash ?~ 'x'")},
		{"through a back-relation, sorted", users + "?sort=api_keys_via_user.key_hash"},
		{"through @collection", users + "?filter=" + q("@collection.api_keys.key_hash ~ 'x'")},
	}
	allowed := []struct{ name, url, want string }{
		{"filter on the label", keys + "?filter=" + q("label = '"+hookstest.AliceKeyLabel+"'"), `"totalItems":1`},
		{"sort by creation", keys + "?sort=-created", `"totalItems":2`},
		{"users with a filter of their own", users + "?filter=" + q("email != ''") + "&sort=-created", `"totalItems":2`},
	}
	for _, who := range []string{"superuser", "owner", "guest", "key"} {
		auth := func(t testing.TB, app *tests.TestApp) map[string]string {
			switch who {
			case "superuser":
				return map[string]string{"Authorization": hookstest.SuperuserJWT(t, app)}
			case "owner":
				return map[string]string{"Authorization": hookstest.JWT(t, app, hookstest.AliceID)}
			case "key":
				return bearer(hookstest.AliceKey)
			}
			return nil
		}
		for _, r := range refused {
			s := tests.ApiScenario{
				Name:               who + ": " + r.name,
				Method:             http.MethodGet,
				URL:                r.url,
				ExpectedStatus:     400,
				ExpectedContent:    []string{"key_hash cannot be used in a filter or a sort, not even by superusers"},
				NotExpectedContent: []string{hookstest.AliceKeyID, hookstest.AliceKeyLabel, `"items"`},
			}
			s.TestAppFactory = func(t testing.TB) *tests.TestApp {
				env := hookstest.New(t)
				hookstest.LinkKeysToOwners(t, env.App)
				s.Headers = auth(t, env.App)
				return env.App
			}
			s.Test(t)
		}
	}
	for _, a := range allowed {
		s := tests.ApiScenario{Name: "superuser: " + a.name, Method: http.MethodGet, URL: a.url, ExpectedStatus: 200, ExpectedContent: []string{a.want}}
		s.TestAppFactory = func(t testing.TB) *tests.TestApp {
			env := hookstest.New(t)
			s.Headers = map[string]string{"Authorization": hookstest.SuperuserJWT(t, env.App)}
			return env.App
		}
		s.Test(t)
	}
}

// TestNoOneSubscribesOnKeyHashes: a realtime topic whose options filter on
// the hash is refused (an event that comes or not would answer the guess).
func TestNoOneSubscribesOnKeyHashes(t *testing.T) {
	env := hookstest.New(t)
	defer env.App.Cleanup()
	hookstest.LinkKeysToOwners(t, env.App)
	srv := env.Serve(t)
	su := hookstest.SuperuserJWT(t, env.App)
	for _, c := range []struct {
		topic  string
		status int
	}{
		{"api_keys/*" + options(map[string]any{"filter": "key_hash ~ 'argon2id'"}), 400},
		{"api_keys/" + hookstest.AliceKeyID + options(map[string]any{"filter": "key_hash ~ 'x'"}), 400},
		{"API_KEYS/*" + options(map[string]any{"filter": "key_hash ~ 'x'"}), 400},
		{"users/*" + options(map[string]any{"filter": "api_keys_via_user.key_hash ?~ 'x'"}), 400},
		{"users/*" + options(map[string]any{"filter": "@collection.api_keys.key_hash ~ 'x'"}), 400},
		{"api_keys/*" + options(map[string]any{"filter": "label != ''"}), 204},
		{"api_keys/*", 204},
	} {
		rt := connectRealtime(t, srv.URL)
		if res := rt.subscribe(t, su, c.topic); res.StatusCode != c.status {
			t.Errorf("superuser subscribes %s: %d, want %d", c.topic, res.StatusCode, c.status)
		}
	}
	// the owner, with a session, is refused the same way
	rt := connectRealtime(t, srv.URL)
	topic := "users/*" + options(map[string]any{"filter": "api_keys_via_user.key_hash ?~ 'x'"})
	if res := rt.subscribe(t, hookstest.JWT(t, env.App, hookstest.AliceID), topic); res.StatusCode != 400 {
		t.Errorf("owner subscribes %s: %d, want 400", topic, res.StatusCode)
	}
}
