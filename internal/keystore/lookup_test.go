package keystore_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
	"github.com/pbkeys/pbkeys/internal/usage"
)

// TestLookupMatchesFindRecordById: the lookup builds the same records
// PocketBase's own FindRecordById does, field by field, also after the
// schema changes under it.
func TestLookupMatchesFindRecordById(t *testing.T) {
	env := hookstest.New(t, func(c *hooks.Config) { c.OwnerCollections = []string{"users", "bots"} })
	t.Cleanup(env.App.Cleanup)

	// A key with every lifecycle field set, and a key of a second owner
	// collection: each kind of value survives the trip.
	rich, _, err := env.Store.Issue(env.Alice(t), keystore.Options{
		Label: "rich «key» n12:ab 3:", ExpiresAt: time.Now().Add(48 * time.Hour),
		Permissions: permissions.Set{"notes": permissions.Read, "secrets": permissions.Write, permissions.Routes: permissions.Read},
		AllowedIPs:  allowList(t, "10.0.0.0/8", "2001:db8::1"), RatePerMinute: 600,
	}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if err := usage.Write(env.App, []usage.KeyUsage{{
		KeyID: rich.Id, LastUsed: time.Now(), IP: "203.0.113.7", UserAgent: "deploy.sh/1.0 «ü»",
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.SetDisabled(env.Alice(t), rich.Id, true); err != nil {
		t.Fatal(err)
	}
	bot := newBot(t, env.App)
	botKey, _, err := env.Store.Issue(bot, keystore.Options{Label: "bot"}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	// NULLs, as JSON columns hold when nothing was ever written to them
	if _, err := env.App.DB().NewQuery("UPDATE api_keys SET permissions = NULL, allowed_ips = NULL WHERE id = {:id}").
		Bind(map[string]any{"id": botKey.Id}).Execute(); err != nil {
		t.Fatal(err)
	}

	check := func(t *testing.T) {
		t.Helper()
		for _, k := range []struct{ id, collection, owner string }{
			{hookstest.AliceKeyID, "users", hookstest.AliceID},
			{rich.Id, "users", hookstest.AliceID},
			{botKey.Id, "bots", bot.Id},
		} {
			checkKey(t, env, k.id, k.collection, k.owner)
		}
	}
	check(t)

	// a new field on users: the statement is prepared again and reads it
	users, err := env.App.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.Fields.Add(&core.TextField{Name: "nickname"})
	if err := env.App.Save(users); err != nil {
		t.Fatal(err)
	}
	alice, _ := env.App.FindRecordById("users", hookstest.AliceID)
	alice.Set("nickname", "al")
	if err := env.App.Save(alice); err != nil {
		t.Fatal(err)
	}
	// and a new field on api_keys: the lookup's statement, prepared on the
	// connections kept for it, is prepared again and reads it
	keys, err := env.App.FindCollectionByNameOrId(keystore.Collection)
	if err != nil {
		t.Fatal(err)
	}
	keys.Fields.Add(&core.TextField{Name: "team"})
	if err := env.App.Save(keys); err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.DB().NewQuery("UPDATE api_keys SET team = 'ops' WHERE id = {:id}").
		Bind(map[string]any{"id": hookstest.AliceKeyID}).Execute(); err != nil {
		t.Fatal(err)
	}
	check(t)
	key, owner, err := env.Store.FindWithOwner(hookstest.AliceKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if owner.GetString("nickname") != "al" || key.GetString("team") != "ops" {
		t.Fatalf("nickname = %q, team = %q after the schema changes", owner.GetString("nickname"), key.GetString("team"))
	}

	if _, _, err := env.Store.FindWithOwner("zzzzzzzzzzzzzzz"); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("unknown id: %v, want sql.ErrNoRows", err)
	}
}

// checkKey compares FindWithOwner's records with FindRecordById's.
func checkKey(t *testing.T, env *hookstest.Env, keyID, ownerCollection, ownerID string) {
	t.Helper()
	{
		key, owner, err := env.Store.FindWithOwner(keyID)
		if err != nil {
			t.Fatal(err)
		}
		wantKey, _ := env.App.FindRecordById(keystore.Collection, keyID)
		wantOwner, _ := env.App.FindRecordById(ownerCollection, ownerID)
		for _, pair := range []struct{ got, want *core.Record }{{key, wantKey}, {owner, wantOwner}} {
			if pair.got.Collection().Id != pair.want.Collection().Id || pair.got.Id != pair.want.Id {
				t.Fatalf("got %s/%s, want %s/%s", pair.got.Collection().Name, pair.got.Id, pair.want.Collection().Name, pair.want.Id)
			}
			if pair.got.IsNew() {
				t.Fatal("a loaded record must not be new")
			}
			for _, f := range pair.want.Collection().Fields {
				name := f.GetName()
				if g, w := pair.got.GetRaw(name), pair.want.GetRaw(name); !equalValue(g, w) {
					t.Errorf("%s.%s = %#v, want %#v", pair.want.Collection().Name, name, g, w)
				}
				if g, w := pair.got.Original().GetRaw(name), pair.want.Original().GetRaw(name); !equalValue(g, w) {
					t.Errorf("original %s.%s = %#v, want %#v", pair.want.Collection().Name, name, g, w)
				}
			}
		}
		// the password hash is loaded, not re-hashed, so the owner still signs in
		if ownerCollection == "users" && !owner.ValidatePassword(hookstest.Password) {
			t.Fatal("owner's password hash was not loaded as stored")
		}
	}
}

func equalValue(a, b any) bool {
	if ap, ok := a.(*core.PasswordFieldValue); ok {
		bp, ok := b.(*core.PasswordFieldValue)
		return ok && ap.Hash == bp.Hash && ap.Plain == bp.Plain
	}
	type stringer interface{ String() string }
	if as, ok := a.(stringer); ok {
		if bs, ok := b.(stringer); ok {
			return as.String() == bs.String()
		}
	}
	return a == b || (isSlice(a) && isSlice(b))
}

func isSlice(v any) bool {
	switch v.(type) {
	case []string, []any:
		return true
	}
	return false
}

// TestLookupReadsOneKeyRow: the lookup reads the key by its primary key,
// never through another index. (When it joined the owner, SQLite preferred
// the list's index (owner_collection, owner, created, id), which covered
// what the join read, and visited every key of the collection on every
// request: with 100,000 keys, a second per request.) The planner's
// statistics here say the table is tiny, as they do for a server whose
// keys grew since PocketBase last ran PRAGMA optimize: the case that made
// it choose that index.
func TestLookupReadsOneKeyRow(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	query, err := keystore.LookupSQL(env.App)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := readPool(env.App).Query("EXPLAIN QUERY PLAN "+query, hookstest.AliceKeyID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := "SEARCH api_keys USING INDEX sqlite_autoindex_api_keys_1 (id=?)"
	if len(plan) != 1 || plan[0] != want {
		t.Errorf("plan %q, want [%q]", plan, want)
	}
	// and it still finds the key
	findAlicesKey(t, env)
}

// TestLookupFallsBackToPocketBase: when the lookup's own reading fails for
// any reason but "no such row" — here the owner's prepared query closed
// under it, as a concurrent schema change closes it — the answer is
// PocketBase's FindRecordById's, not an error.
func TestLookupFallsBackToPocketBase(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	findAlicesKey(t, env) // prepares the owner query
	keystore.CloseOwnerQueries(env.Store)
	for range 3 {
		findAlicesKey(t, env)
	}
	if _, _, err := env.Store.FindWithOwner("zzzzzzzzzzzzzzz"); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("an unknown key: %v, want sql.ErrNoRows", err)
	}
}

// allowList parses entries as REST would take them.
func allowList(t testing.TB, entries ...string) addrlist.List {
	t.Helper()
	raw, _ := json.Marshal(entries)
	list, err := addrlist.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return list
}
