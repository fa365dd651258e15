package hooks_test

import (
	"context"
	"database/sql"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// countDataQueries counts every SQL statement, read or write, that app
// runs on its data database from now on.
func countDataQueries(t testing.TB, app core.App) *atomic.Int64 {
	t.Helper()
	n := &atomic.Int64{}
	hooked := map[*dbx.DB]bool{}
	for _, b := range []dbx.Builder{app.ConcurrentDB(), app.NonconcurrentDB()} {
		db, ok := b.(*dbx.DB)
		if !ok {
			t.Fatalf("the data database is %T, want *dbx.DB", b)
		}
		if hooked[db] {
			continue
		}
		hooked[db] = true
		query, exec := db.QueryLogFunc, db.ExecLogFunc
		db.QueryLogFunc = func(ctx context.Context, d time.Duration, q string, rows *sql.Rows, err error) {
			n.Add(1)
			if query != nil {
				query(ctx, d, q, rows, err)
			}
		}
		db.ExecLogFunc = func(ctx context.Context, d time.Duration, q string, res sql.Result, err error) {
			n.Add(1)
			if exec != nil {
				exec(ctx, d, q, res, err)
			}
		}
	}
	return n
}

// A key whose checksum does not match is refused with 401 before any
// database read or argon2id run; the same request with a well-formed key
// does both, so the counters see what they count. Keys issued before the
// checksum keep working.
func TestChecksumMismatchIsRefusedOffline(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	key, record := issue(t, env, keystore.Options{Label: "typed by hand"})
	typo := []byte(key)
	if typo[40] == 'x' { // another base62 character: only the checksum is wrong
		typo[40] = 'y'
	} else {
		typo[40] = 'x'
	}
	wrongSecret, err := apikey.NewSecret(record.Id)
	if err != nil {
		t.Fatal(err)
	}
	unknownSecret, err := apikey.NewSecret("zzzzzzzzzzzzzzz")
	if err != nil {
		t.Fatal(err)
	}
	h := inProcessMux(t, env)
	env.Store.WaitNotifications() // the new key's mail reads the owner in the background
	queries := countDataQueries(t, env.App)
	// (The cases that must not read come first: no last-used write is
	// pending until a key has authenticated.)

	for _, c := range []struct {
		name    string
		key     string
		status  int
		message string
		reads   bool   // the database is read
		argon2  uint64 // argon2id runs
	}{
		{"a typo in the secret", string(typo), 401, "The API key is mistyped or incomplete: its checksum does not match.", false, 0},
		{"the secret under another key's id", hookstest.AliceKeyID + key[apikey.IDLength:], 401, "checksum does not match", false, 0},
		{"the last character missing", key[:len(key)-1], 401, "The API key is malformed.", false, 0},
		// the same requests, well-formed: now the database and argon2id work
		{"a well-formed key of an unknown id", "zzzzzzzzzzzzzzz." + unknownSecret, 401, "invalid or has been revoked", true, 0},
		{"a well-formed key with a wrong secret", record.Id + "." + wrongSecret, 401, "invalid or has been revoked", true, 1},
		{"the key", key, 200, `"totalItems":`, true, 1},
		{"a legacy key", hookstest.AliceKey, 200, `"totalItems":`, true, 1},
	} {
		queries.Store(0)
		runs := hooks.Argon2Runs(env.App)
		rec := getAs(h, "/api/collections/notes/records", "Bearer "+c.key, ownerIP)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.message) {
			t.Errorf("%s: status %d %s, want %d with %q", c.name, rec.Code, rec.Body.String(), c.status, c.message)
		}
		if c.status == 401 && rec.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Errorf("%s: no invalid_token challenge", c.name)
		}
		if n := queries.Load(); (n > 0) != c.reads {
			t.Errorf("%s: %d database queries, want reads=%v", c.name, n, c.reads)
		}
		if n := hooks.Argon2Runs(env.App) - runs; n != c.argon2 {
			t.Errorf("%s: %d argon2id runs, want %d", c.name, n, c.argon2)
		}
	}
}
