// Package pbtest builds PocketBase test apps with pbkeys registered and a
// small, deterministic data set, so API, page and benchmark tests share one
// fixture. Ids, secrets and JWTs are constants or derived from fixed
// secrets, so table-driven ApiScenarios can name them before the app exists.
package pbtest

import (
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	_ "github.com/pbkeys/pbkeys/migrations" // the api_keys collection
)

// Fixture users. Passwords are the same for both.
const (
	AliceID    = "u1alice00000000"
	AliceEmail = "alice@example.com"
	BobID      = "u2bob0000000000"
	BobEmail   = "bob@example.com"
	Password   = "correct horse battery"
)

// Fixture keys: AliceKey belongs to Alice, BobKey to Bob.
const (
	AliceKeyID     = "k1alice00000001"
	AliceKeySecret = "4dONW9nY_twlMQ3O-ZFbGeE6yTNybcUolPYe121ICiI"
	AliceKey       = AliceKeyID + "." + AliceKeySecret
	AliceKeyLabel  = "Alice CI"

	BobKeyID     = "k2bob0000000001"
	BobKeySecret = "eCcbn6PT_normYhcjqfOiwH_2-61XvT70FD55-voYz8"
	BobKey       = BobKeyID + "." + BobKeySecret
	BobKeyLabel  = "Bob laptop"
)

// Fixture notes: a "notes" collection whose rules let only the owner list,
// view, create, update and delete. Alice's note links (relation "secret")
// to Alice's secret and has a comment of hers.
const (
	NotesCollection = "notes"
	AliceNoteID     = "n1alice00000001"
	BobNoteID       = "n2bob0000000001"
)

// Fixture collections beside notes, with the same owner-only rules, for
// keys limited to notes: "secrets" (with a protected file) is reachable
// from a note through its "secret" relation, "comments" through the
// back-relation comments_via_note.
const (
	SecretsCollection  = "secrets"
	AliceSecretID      = "s1alice00000001"
	AliceSecretTitle   = "Alice's secret"
	CommentsCollection = "comments"
	AliceCommentID     = "c1alice00000001"
	AliceCommentText   = "Alice's comment"
)

// TestArgon2 are cheap argon2id parameters for tests (1 MiB instead of
// 64 MiB); production keeps apikey.DefaultParams.
var TestArgon2 = argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// usersAuthSecret and the users' token keys are fixed, so a JWT made by one
// test app is valid in every other one.
const usersAuthSecret = "pbkeys-test-users-auth-token-secret-0123456789"

// Config returns the hooks configuration used by tests.
func Config() hooks.Config {
	cfg := hooks.DefaultConfig()
	cfg.Argon2 = TestArgon2
	cfg.LastUsedFlushInterval = 50 * time.Millisecond
	return cfg
}

// Env is a test app with pbkeys registered and the fixture loaded.
type Env struct {
	App   *tests.TestApp
	Store *keystore.Store
}

// New returns a fresh Env; the app is cleaned up when t ends unless the
// caller hands it to an ApiScenario (which cleans it up itself).
func New(t testing.TB, configure ...func(*hooks.Config)) *Env {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config()
	for _, f := range configure {
		f(&cfg)
	}
	store, err := hooks.Register(app, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed(app); err != nil {
		t.Fatal(err)
	}
	return &Env{App: app, Store: store}
}

// Factory returns an ApiScenario TestAppFactory building a fresh Env.
func Factory(configure ...func(*hooks.Config)) func(testing.TB) *tests.TestApp {
	return func(t testing.TB) *tests.TestApp {
		return New(t, configure...).App
	}
}

// JWT returns a valid PocketBase auth token for the fixture user id.
func JWT(t testing.TB, app core.App, userID string) string {
	t.Helper()
	user, err := app.FindRecordById("users", userID)
	if err != nil {
		t.Fatal(err)
	}
	token, err := user.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// SuperuserJWT returns an auth token for a fixture superuser.
func SuperuserJWT(t testing.TB, app core.App) string {
	t.Helper()
	su, err := app.FindAuthRecordByEmail(core.CollectionNameSuperusers, "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	token, err := su.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func seed(app core.App) error {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	users.AuthToken.Secret = usersAuthSecret
	if err := app.Save(users); err != nil {
		return err
	}

	superusers, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		return err
	}
	su := core.NewRecord(superusers)
	su.SetEmail("admin@example.com")
	su.SetPassword(Password)
	if err := app.Save(su); err != nil {
		return err
	}

	for _, u := range []struct{ id, email string }{{AliceID, AliceEmail}, {BobID, BobEmail}} {
		r := core.NewRecord(users)
		r.Id = u.id
		r.SetEmail(u.email)
		r.SetPassword(Password)
		r.SetVerified(true)
		if err := app.Save(r); err != nil {
			return err
		}
		r.SetTokenKey("pbkeys-test-token-key-" + u.id) // fixed, see usersAuthSecret
		if err := app.Save(r); err != nil {
			return err
		}
	}

	keys, err := app.FindCollectionByNameOrId(keystore.Collection)
	if err != nil {
		return err
	}
	for _, k := range []struct{ id, owner, secret, label string }{
		{AliceKeyID, AliceID, AliceKeySecret, AliceKeyLabel},
		{BobKeyID, BobID, BobKeySecret, BobKeyLabel},
	} {
		hash, err := apikey.Hash(k.secret, TestArgon2)
		if err != nil {
			return err
		}
		r := core.NewRecord(keys)
		r.Id = k.id
		r.Set(keystore.FieldUser, k.owner)
		r.Set(keystore.FieldLabel, k.label)
		r.Set(keystore.FieldKeyHash, hash)
		if err := app.Save(r); err != nil {
			return err
		}
	}

	ownerOnly := types.Pointer("owner = @request.auth.id")
	ownedCollection := func(name string, fields ...core.Field) (*core.Collection, error) {
		c := core.NewBaseCollection(name)
		c.ListRule, c.ViewRule, c.UpdateRule, c.DeleteRule = ownerOnly, ownerOnly, ownerOnly, ownerOnly
		c.CreateRule = types.Pointer(`@request.auth.id != "" && @request.body.owner = @request.auth.id`)
		c.Fields.Add(&core.RelationField{Name: "owner", CollectionId: users.Id, Required: true, MaxSelect: 1, CascadeDelete: true})
		c.Fields.Add(fields...)
		return c, app.Save(c)
	}
	secrets, err := ownedCollection(SecretsCollection,
		&core.TextField{Name: "title"},
		&core.FileField{Name: "file", MaxSelect: 1, MaxSize: 1 << 20, Protected: true},
	)
	if err != nil {
		return err
	}
	notes, err := ownedCollection(NotesCollection,
		&core.TextField{Name: "title"},
		&core.FileField{Name: "attachment", MaxSelect: 1, MaxSize: 1 << 20, Protected: true},
		&core.RelationField{Name: "secret", CollectionId: secrets.Id, MaxSelect: 1},
	)
	if err != nil {
		return err
	}
	comments, err := ownedCollection(CommentsCollection,
		&core.TextField{Name: "text"},
		&core.RelationField{Name: "note", CollectionId: notes.Id, MaxSelect: 1},
	)
	if err != nil {
		return err
	}

	secret := core.NewRecord(secrets)
	secret.Id = AliceSecretID
	secret.Set("owner", AliceID)
	secret.Set("title", AliceSecretTitle)
	if err := app.Save(secret); err != nil {
		return err
	}
	for _, n := range []struct{ id, owner, title, secret string }{
		{AliceNoteID, AliceID, "Alice's note", AliceSecretID},
		{BobNoteID, BobID, "Bob's note", ""},
	} {
		r := core.NewRecord(notes)
		r.Id = n.id
		r.Set("owner", n.owner)
		r.Set("title", n.title)
		r.Set("secret", n.secret)
		if err := app.Save(r); err != nil {
			return err
		}
	}
	comment := core.NewRecord(comments)
	comment.Id = AliceCommentID
	comment.Set("owner", AliceID)
	comment.Set("note", AliceNoteID)
	comment.Set("text", AliceCommentText)
	if err := app.Save(comment); err != nil {
		return err
	}
	return nil
}
