package keystore_test

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

func countKeys(t testing.TB, app core.App) int {
	t.Helper()
	n, err := app.CountRecords(keystore.Collection)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestKeysGoWithTheirOwner(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	if err := env.App.Delete(env.Alice(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.Find(hookstest.AliceKeyID); err == nil {
		t.Fatal("Alice's key outlived her account")
	}
	if _, err := env.Store.Find(hookstest.BobKeyID); err != nil {
		t.Fatalf("Bob's key went with Alice's account: %v", err)
	}
}

func TestKeysGoWithTheirOwnerCollection(t *testing.T) {
	env := hookstest.New(t, func(c *hooks.Config) { c.OwnerCollections = []string{"users", "bots"} })
	t.Cleanup(env.App.Cleanup)
	bot := newBot(t, env.App)
	bots := bot.Collection()
	if _, _, err := env.Store.Issue(bot, keystore.Options{Label: "bot key"}, keystore.Origin{}); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, env.App); n != 3 {
		t.Fatalf("%d keys, want the fixture's 2 and the bot's", n)
	}
	if err := env.App.Delete(bots); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, env.App); n != 2 {
		t.Fatalf("%d keys after deleting the bots collection, want the fixture's 2", n)
	}
}

func TestRulesHoldForEverySave(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	keys, _ := env.App.FindCollectionByNameOrId(keystore.Collection)

	// A save that bypasses the REST API still gets the keystore's rules.
	r := core.NewRecord(keys)
	r.Set(keystore.FieldLabel, "  trimmed  ")
	r.Set(keystore.FieldOwner, hookstest.AliceID)
	r.Set(keystore.FieldOwnerCollection, "_pb_users_auth_")
	r.Set(keystore.FieldKeyHash, "$argon2id$v=19$m=16,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g")
	if err := env.App.Save(r); err != nil {
		t.Fatal(err)
	}
	if got := r.GetString(keystore.FieldLabel); got != "trimmed" {
		t.Errorf("label %q, want it trimmed", got)
	}

	for name, set := range map[string]func(r *core.Record){
		"owner of a collection that may not own keys": func(r *core.Record) {
			r.Set(keystore.FieldOwner, hookstest.AliceNoteID)
			r.Set(keystore.FieldOwnerCollection, "notes")
		},
		"owner that does not exist": func(r *core.Record) {
			r.Set(keystore.FieldOwner, "u9nobody0000000")
		},
		"superusers cannot own keys": func(r *core.Record) {
			su, _ := env.App.FindAuthRecordByEmail(core.CollectionNameSuperusers, "admin@example.com")
			r.Set(keystore.FieldOwner, su.Id)
			r.Set(keystore.FieldOwnerCollection, su.Collection().Id)
		},
		"an expiry in the past":  func(r *core.Record) { r.Set(keystore.FieldExpires, "2020-01-01 00:00:00.000Z") },
		"an unknown collection":  func(r *core.Record) { r.Set(keystore.FieldPermissions, map[string]string{"nope": "read"}) },
		"a range with host bits": func(r *core.Record) { r.Set(keystore.FieldAllowedIPs, []string{"10.0.0.1/8"}) },
	} {
		r := core.NewRecord(keys)
		r.Set(keystore.FieldLabel, "x")
		r.Set(keystore.FieldOwner, hookstest.AliceID)
		r.Set(keystore.FieldOwnerCollection, "_pb_users_auth_")
		r.Set(keystore.FieldKeyHash, "$argon2id$v=19$m=16,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g")
		set(r)
		if err := env.App.Save(r); err == nil {
			t.Errorf("%s: saved", name)
		}
	}
}

// TestRulesWithoutTheRestOfPbkeys: the keystore alone, on an app where
// nothing else of pbkeys is registered, still keeps its rules.
func TestRulesWithoutTheRestOfPbkeys(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	store, err := keystore.Register(app, keystore.Config{Argon2: hookstest.TestArgon2})
	if err != nil {
		t.Fatal(err)
	}
	u := saveUser(t, app, "carol@example.com")
	r, key, err := store.Issue(u, keystore.Options{Label: " lone "}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetString(keystore.FieldLabel) != "lone" || !strings.HasPrefix(key.String(), r.Id+".") {
		t.Fatalf("issued %q as %q", key.String(), r.GetString(keystore.FieldLabel))
	}
	if _, _, err := store.Issue(u, keystore.Options{Label: ""}, keystore.Origin{}); err == nil {
		t.Fatal("an empty label was saved")
	}
}

func TestSuperusersCannotBeOwnerCollections(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	if _, err := keystore.Register(app, keystore.Config{OwnerCollections: []string{"users", "_superusers"}}); err == nil {
		t.Fatal("_superusers accepted as an owner collection")
	}
}

// newBot saves an auth collection "bots" (an owner collection where a test
// configures it so) with one record, and returns the record.
func newBot(t *testing.T, app core.App) *core.Record {
	t.Helper()
	bots := core.NewAuthCollection("bots")
	if err := app.Save(bots); err != nil {
		t.Fatal(err)
	}
	bot := core.NewRecord(bots)
	bot.SetEmail("bot@example.com")
	bot.SetPassword("a long bot password")
	if err := app.Save(bot); err != nil {
		t.Fatal(err)
	}
	return bot
}

// saveUser saves a users record with email.
func saveUser(t *testing.T, app core.App, email string) *core.Record {
	t.Helper()
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	u := core.NewRecord(users)
	u.SetEmail(email)
	u.SetPassword("a long password")
	if err := app.Save(u); err != nil {
		t.Fatal(err)
	}
	return u
}
