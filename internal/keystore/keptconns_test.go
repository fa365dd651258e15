package keystore_test

import (
	"database/sql"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

func readPool(app core.App) *sql.DB { return app.ConcurrentDB().(*dbx.DB).DB() }

// findAlicesKey is FindWithOwner of the fixture's key, which must work.
func findAlicesKey(t *testing.T, env *hookstest.Env) {
	t.Helper()
	key, owner, err := env.Store.FindWithOwner(hookstest.AliceKeyID)
	if err != nil || key.Id != hookstest.AliceKeyID || owner.Id != hookstest.AliceID {
		t.Fatalf("FindWithOwner: %v, %v, %v", key, owner, err)
	}
}

// TestLookupConnectionsGoBackBeforeTheDatabaseCloses: the connections the
// lookup keeps are taken from PocketBase's read pool (in use, as the pool
// sees them) and all returned to it before PocketBase closes it.
func TestLookupConnectionsGoBackBeforeTheDatabaseCloses(t *testing.T) {
	env := hookstest.New(t)
	pool := readPool(env.App)
	for range 20 {
		findAlicesKey(t, env)
	}
	if n := pool.Stats().InUse; n < 1 {
		t.Fatalf("%d connections in use after lookups, want the kept one(s)", n)
	}
	inUseAtClose := -1
	env.App.OnBootstrapClear().BindFunc(func(e *core.BootstrapEvent) error {
		inUseAtClose = pool.Stats().InUse
		return e.Next()
	})
	env.App.Cleanup()
	if inUseAtClose != 0 {
		t.Fatalf("%d connections still in use when PocketBase closed its pool", inUseAtClose)
	}
}

// TestLookupWithoutKeptConnections: with a read pool too small to spare a
// quarter of it, the lookup keeps none and runs on the pool.
func TestLookupWithoutKeptConnections(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	readPool(env.App).SetMaxOpenConns(3)
	lookupsKeepNothing(t, env, "from a pool of 3")
}

// TestLookupKeepsNoConnectionAfterRelease: a lookup that runs after the
// kept connections were given back (the pool is about to close) works on
// the pool and keeps none of it.
func TestLookupKeepsNoConnectionAfterRelease(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	findAlicesKey(t, env)
	keystore.ReleaseLookupConns(env.Store)
	lookupsKeepNothing(t, env, "after the release")
}

// lookupsKeepNothing runs lookups, which must work, and fails the test if
// a connection of the pool is then in use (kept).
func lookupsKeepNothing(t *testing.T, env *hookstest.Env, when string) {
	t.Helper()
	for range 5 {
		findAlicesKey(t, env)
	}
	if n := readPool(env.App).Stats().InUse; n != 0 {
		t.Fatalf("%d connections kept %s", n, when)
	}
}
