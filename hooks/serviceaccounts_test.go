package hooks_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
)

// TestServiceAccountsAsTheReadmeSays follows docs/service-accounts.md's "Service
// accounts" section on a fresh app configured by the environment: the
// superuser creates the collection (password sign-in off), a collection
// only service accounts may use, a service account and its key, all over
// REST; the key then works under the service account's rules only.
func TestServiceAccountsAsTheReadmeSays(t *testing.T) {
	t.Setenv("PBKEYS_OWNER_COLLECTIONS", "users,service_accounts")
	cfg, err := hooks.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tuning.Argon2 = hookstest.TestArgon2
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	if err := hooks.Register(app, cfg); err != nil {
		t.Fatal(err)
	}
	superusers, _ := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	su := core.NewRecord(superusers)
	su.SetEmail(hookstest.SuperuserEmail)
	su.SetPassword(hookstest.Password)
	if err := app.Save(su); err != nil {
		t.Fatal(err)
	}
	token, err := su.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	env := &hookstest.Env{App: app}
	srv := env.Serve(t)

	steps := []struct{ what, method, path, auth, body, want string }{
		{"the service_accounts collection", http.MethodPost, "/api/collections", token,
			`{"name":"service_accounts","type":"auth","passwordAuth":{"enabled":false},
			  "listRule":"id = @request.auth.id","viewRule":"id = @request.auth.id",
			  "fields":[{"name":"name","type":"text"}]}`, `"name":"service_accounts"`},
		{"a collection for deploy jobs", http.MethodPost, "/api/collections", token,
			`{"name":"deploys","type":"base",
			  "listRule":"@request.auth.collectionName = \"service_accounts\"",
			  "viewRule":"@request.auth.collectionName = \"service_accounts\"",
			  "createRule":"@request.auth.collectionName = \"service_accounts\"",
			  "fields":[{"name":"version","type":"text"}]}`, `"name":"deploys"`},
		{"the service account", http.MethodPost, "/api/collections/service_accounts/records", token,
			`{"email":"deploy-bot@example.com","name":"Deploy bot","password":"a-long-random-password-never-used","passwordConfirm":"a-long-random-password-never-used"}`,
			`"email":"deploy-bot@example.com"`},
	}
	var botID string
	for _, st := range steps {
		status, body := call(t, srv.URL, st.method, st.path, st.auth, st.body)
		if status != 200 || !strings.Contains(body, st.want) {
			t.Fatalf("%s: %d %s", st.what, status, body)
		}
		if strings.Contains(st.path, "service_accounts/records") {
			var r struct{ ID string }
			_ = json.Unmarshal([]byte(body), &r)
			botID = r.ID
		}
	}

	// its key, created by the superuser
	status, body := call(t, srv.URL, http.MethodPost, "/api/collections/api_keys/records", token,
		`{"label":"nightly deploy","owner":"`+botID+`","owner_collection":"service_accounts"}`)
	if status != 200 {
		t.Fatalf("the key: %d %s", status, body)
	}
	var created struct{ Key string }
	_ = json.Unmarshal([]byte(body), &created)

	// the service account cannot sign in with a password, but its key works
	if status, _ := call(t, srv.URL, http.MethodPost, "/api/collections/service_accounts/auth-with-password", "",
		`{"identity":"deploy-bot@example.com","password":"a-long-random-password-never-used"}`); status == 200 {
		t.Fatal("the service account signed in with its password")
	}
	if status, body := call(t, srv.URL, http.MethodPost, "/api/collections/deploys/records", "Bearer "+created.Key, `{"version":"v1.2.3"}`); status != 200 {
		t.Fatalf("create a deploy with the key: %d %s", status, body)
	}
	if status, body := call(t, srv.URL, http.MethodGet, "/api/collections/deploys/records", "Bearer "+created.Key, ""); status != 200 || !strings.Contains(body, `"totalItems":1`) {
		t.Fatalf("list deploys with the key: %d %s", status, body)
	}
	// and the guard holds for it as for a user's key
	if status, _ := call(t, srv.URL, http.MethodPost, "/api/collections/api_keys/records", "Bearer "+created.Key, `{"label":"more"}`); status != 403 {
		t.Fatalf("the key minting a key: %d, want 403", status)
	}
}

// TestOwnerCollectionsMustBeAuth: a configured owner collection that is
// not an auth collection stops the server's start with its name (a key
// acts as its owner, and only auth records can); one that does not exist
// yet is only a warning, since an operator may create it after; and the
// error for a key's owner lists only the collections that can own keys.
func TestOwnerCollectionsMustBeAuth(t *testing.T) {
	serve := func(env *hookstest.Env) error {
		router, err := apis.NewRouter(env.App)
		if err != nil {
			t.Fatal(err)
		}
		return env.App.OnServe().Trigger(&core.ServeEvent{App: env.App, Router: router}, func(e *core.ServeEvent) error {
			return e.Next()
		})
	}
	owners := func(names ...string) func(*hooks.Config) {
		return func(c *hooks.Config) { c.OwnerCollections = names }
	}

	env := hookstest.New(t, owners("users", hookstest.SecretsCollection, hookstest.NotesCollection))
	err := serve(env)
	if err == nil || !strings.Contains(err.Error(), "secrets (a base collection), notes (a base collection) cannot own API keys") {
		t.Fatalf("serve with base owner collections: %v", err)
	}

	env = hookstest.New(t, owners("users", "not_yet_created"))
	if err := serve(env); err != nil {
		t.Fatalf("serve with an owner collection to be created later: %v", err)
	}

	// A key's owner in a base collection, with an owner collection still
	// to be created: the message offers users only, the collection that can
	// own keys.
	s := tests.ApiScenario{
		Name:   "the create error lists only the collections that can own keys",
		Method: http.MethodPost,
		URL:    "/api/collections/api_keys/records",
		Body: strings.NewReader(`{"label":"x","owner":"` + hookstest.AliceSecretID +
			`","owner_collection":"` + hookstest.SecretsCollection + `"}`),
		Headers:            map[string]string{},
		ExpectedStatus:     400,
		ExpectedContent:    []string{`"message":"The owner must be a record of the users collection."`},
		NotExpectedContent: []string{"not_yet_created", "one of the collections"},
	}
	s.TestAppFactory = func(t testing.TB) *tests.TestApp {
		env := hookstest.New(t, owners("users", "not_yet_created"))
		s.Headers["Authorization"] = hookstest.SuperuserJWT(t, env.App)
		return env.App
	}
	s.Test(t)
}
