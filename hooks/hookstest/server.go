package hookstest

import (
	"net/http/httptest"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
)

// Serve starts env's full PocketBase router (default middlewares, our
// hooks, every route) on a loopback HTTP server, as `serve` would, for
// tests that need a real connection: realtime streams, browsers, load.
// The server is closed when t ends.
func (env *Env) Serve(t testing.TB) *httptest.Server {
	t.Helper()
	router, err := apis.NewRouter(env.App)
	if err != nil {
		t.Fatal(err)
	}
	event := &core.ServeEvent{App: env.App, Router: router}
	err = env.App.OnServe().Trigger(event, func(e *core.ServeEvent) error {
		return e.Next()
	})
	if err != nil {
		t.Fatal(err)
	}
	mux, err := router.BuildMux()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
