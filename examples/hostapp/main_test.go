package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	pbkeys "github.com/pbkeys/pbkeys/hooks"
)

// TestKeyCreatedOnTheAppAuthenticatesThere: a user of the host app creates
// a key over REST and uses it on the app's own route and collection.
func TestKeyCreatedOnTheAppAuthenticatesThere(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	if err := setup(app, pbkeys.Config{}); err != nil {
		t.Fatal(err)
	}
	base := serve(t, app)

	users, _ := app.FindCollectionByNameOrId("users")
	alice := core.NewRecord(users)
	alice.SetEmail("alice@example.com")
	alice.SetPassword("alice-password-1")
	if err := app.Save(alice); err != nil {
		t.Fatal(err)
	}
	session, err := alice.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}

	status, body := call(t, http.MethodPost, base+"/api/collections/api_keys/records", session, `{"label":"host app"}`)
	var created struct{ Key string }
	if err := json.Unmarshal([]byte(body), &created); status != 200 || err != nil || created.Key == "" {
		t.Fatalf("create a key: %d %s", status, body)
	}
	key := "Bearer " + created.Key

	for _, c := range []struct {
		method, path, auth, body string
		status                   int
		want                     string
	}{
		{http.MethodGet, "/hello", key, "", 200, `"hello":"alice@example.com"`},
		{http.MethodPost, "/api/collections/tasks/records", key, `{"owner":"` + alice.Id + `","title":"from a key"}`, 200, `"title":"from a key"`},
		{http.MethodGet, "/api/collections/tasks/records", key, "", 200, `"totalItems":1`},
		{http.MethodGet, "/hello", "Bearer " + created.Key[:16] + strings.Repeat("A", 43), "", 401, "The API key is invalid"},
		{http.MethodGet, "/api-keys/login", "", "", 200, "Sign in"},
	} {
		status, body := call(t, c.method, base+c.path, c.auth, c.body)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d %s, want %d with %s", c.method, c.path, status, body, c.status, c.want)
		}
	}
}

// serve runs app's full router on a loopback server until t ends.
func serve(t *testing.T, app core.App) string {
	t.Helper()
	router, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	event := &core.ServeEvent{App: app, Router: router}
	if err := app.OnServe().Trigger(event, func(e *core.ServeEvent) error { return e.Next() }); err != nil {
		t.Fatal(err)
	}
	mux, err := router.BuildMux()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func call(t *testing.T, method, url, authorization, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}
