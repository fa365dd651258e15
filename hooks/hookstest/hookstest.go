// Package hookstest builds PocketBase test apps with pbkeys registered and a
// small, deterministic data set, so API, page and benchmark tests share one
// fixture. Ids, secrets and JWTs are constants or derived from fixed
// secrets, so table-driven ApiScenarios can name them before the app exists.
package hookstest

import (
	"slices"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
	_ "github.com/pbkeys/pbkeys/migrations" // the api_keys collection
)

// Fixture users. Passwords are the same for both.
const (
	AliceID    = "u1alice00000000"
	AliceEmail = "alice@example.com"
	BobID      = "u2bob0000000000"
	BobEmail   = "bob@example.com"
	Password   = "correct horse battery"

	// SuperuserEmail is the fixture's superuser (password Password).
	SuperuserEmail = "admin@example.com"
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

// Fixture service account: a record of "service_accounts", an auth
// collection set up as docs/service-accounts.md says (password sign-in off, records made
// by a superuser), with a key and a note of its own. Only an Env built
// with ServiceAccounts has it.
const (
	ServiceAccountsCollection = "service_accounts"
	BotID                     = "sa1deploybot000"
	BotEmail                  = "deploy-bot@example.com"
	BotKeyID                  = "k3bot0000000001"
	BotKeySecret              = "fmGR8ELgHnDx_WSxbDMO2f1DUwr5m6WjiqSzBoYgG20"
	BotKey                    = BotKeyID + "." + BotKeySecret
	BotKeyLabel               = "Deploy bot key"
	BotNoteID                 = "n3bot0000000001"
	BotNoteTitle              = "Bot's note"
)

// TestArgon2 are cheap argon2id parameters for tests (1 MiB instead of
// 64 MiB); production keeps apikey.DefaultParams.
var TestArgon2 = argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// usersAuthSecret and the users' token keys are fixed, so a JWT made by one
// test app is valid in every other one.
const usersAuthSecret = "pbkeys-test-users-auth-token-secret-0123456789"

// Config returns the configuration used by tests: the defaults, with cheap
// argon2id and a fast last-used flush.
func Config() hooks.Config {
	return hooks.Config{Tuning: hooks.Tuning{
		Argon2: TestArgon2,
		Usage:  usage.Config{FlushInterval: 50 * time.Millisecond},
	}}
}

// ServiceAccounts configures pbkeys with the owner collections users and
// service_accounts, as PBKEYS_OWNER_COLLECTIONS=users,service_accounts
// does; New then also loads the service account fixture.
func ServiceAccounts(c *hooks.Config) {
	c.OwnerCollections = []string{"users", ServiceAccountsCollection}
}

// Owner is a fixture owner of a key, for test tables that run once per
// owner collection: Alice of users, and the deploy bot of service_accounts.
type Owner struct {
	Kind       string // "user", "service account": for test names
	Collection string
	ID, Email  string
	Key        string // its key, in plain text
	KeyID      string
	KeySecret  string
	KeyLabel   string
	NoteID     string // a note only this owner may see
	NoteTitle  string
	// NoteField is the notes' relation to this owner ("owner" for users,
	// "bot" for service accounts), LinkField the api_keys relation that
	// LinkKeysToOwners adds for it.
	NoteField, LinkField string
	// Configure is what New needs to load this owner (nil for users).
	Configure func(*hooks.Config)
}

// The fixture owners.
var (
	AliceOwner = Owner{
		Kind: "user", Collection: "users", ID: AliceID, Email: AliceEmail,
		Key: AliceKey, KeyID: AliceKeyID, KeySecret: AliceKeySecret, KeyLabel: AliceKeyLabel,
		NoteID: AliceNoteID, NoteTitle: "Alice's note", NoteField: "owner", LinkField: "user",
	}
	BotOwner = Owner{
		Kind: "service account", Collection: ServiceAccountsCollection, ID: BotID, Email: BotEmail,
		Key: BotKey, KeyID: BotKeyID, KeySecret: BotKeySecret, KeyLabel: BotKeyLabel,
		NoteID: BotNoteID, NoteTitle: BotNoteTitle, NoteField: "bot", LinkField: "bot",
		Configure: ServiceAccounts,
	}
	// Owners are both, for tables run once per owner collection.
	Owners = []Owner{AliceOwner, BotOwner}
)

// URL is the owner's own record in the REST API.
func (o Owner) URL() string { return "/api/collections/" + o.Collection + "/records/" + o.ID }

// NoteURL is the owner's note in the REST API.
func (o Owner) NoteURL() string {
	return "/api/collections/" + NotesCollection + "/records/" + o.NoteID
}

// New returns a fresh Env that has this owner.
func (o Owner) New(t testing.TB, configure ...func(*hooks.Config)) *Env {
	t.Helper()
	if o.Configure != nil {
		configure = append([]func(*hooks.Config){o.Configure}, configure...)
	}
	return New(t, configure...)
}

// Factory returns an ApiScenario TestAppFactory building an Env that has
// this owner.
func (o Owner) Factory(configure ...func(*hooks.Config)) func(testing.TB) *tests.TestApp {
	return func(t testing.TB) *tests.TestApp { return o.New(t, configure...).App }
}

// Record returns the owner's record in env.
func (o Owner) Record(t testing.TB, env *Env) *core.Record { return env.Record(t, o.Collection, o.ID) }

// Env is a test app with pbkeys registered and the fixture loaded.
type Env struct {
	App   *tests.TestApp
	Store *keystore.Store
	cfg   hooks.Config // what pbkeys was registered with (AnotherProcess)
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
	if err := hooks.Register(app, cfg); err != nil {
		t.Fatal(err)
	}
	if err := seed(app); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(cfg.OwnerCollections, ServiceAccountsCollection) {
		if err := seedServiceAccount(app); err != nil {
			t.Fatal(err)
		}
	}
	return &Env{App: app, Store: keystore.Of(app), cfg: cfg}
}

// Record returns the record of collection with id, failing t if there is
// none: owners for the Store's methods, mostly (Record(t, "users", AliceID)).
func (env *Env) Record(t testing.TB, collection, id string) *core.Record {
	t.Helper()
	r, err := env.App.FindRecordById(collection, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Alice returns Alice's users record.
func (env *Env) Alice(t testing.TB) *core.Record { return env.Record(t, "users", AliceID) }

// Bob returns Bob's users record.
func (env *Env) Bob(t testing.TB) *core.Record { return env.Record(t, "users", BobID) }

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

// JWT returns a valid PocketBase auth token for the owner in app (service
// accounts cannot sign in with a password, but a superuser's impersonation
// gives them one the same way).
func (o Owner) JWT(t testing.TB, app core.App) string {
	t.Helper()
	r, err := app.FindRecordById(o.Collection, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	token, err := r.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// SuperuserJWT returns an auth token for a fixture superuser.
func SuperuserJWT(t testing.TB, app core.App) string {
	t.Helper()
	su, err := app.FindAuthRecordByEmail(core.CollectionNameSuperusers, SuperuserEmail)
	if err != nil {
		t.Fatal(err)
	}
	token, err := su.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// cheapPasswords makes c hash passwords with bcrypt's lowest cost: the
// fixture's accounts are created for every test app, and at the default
// cost their hashing was most of a fixture's set-up time.
func cheapPasswords(c *core.Collection) {
	if f, ok := c.Fields.GetByName(core.FieldNamePassword).(*core.PasswordField); ok {
		f.Cost = bcrypt.MinCost
	}
}

func seed(app core.App) error {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	users.AuthToken.Secret = usersAuthSecret
	cheapPasswords(users)
	if err := app.Save(users); err != nil {
		return err
	}

	superusers, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		return err
	}
	cheapPasswords(superusers)
	if err := app.Save(superusers); err != nil {
		return err
	}
	su := core.NewRecord(superusers)
	su.SetEmail(SuperuserEmail)
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

	for _, k := range []struct{ id, owner, secret, label string }{
		{AliceKeyID, AliceID, AliceKeySecret, AliceKeyLabel},
		{BobKeyID, BobID, BobKeySecret, BobKeyLabel},
	} {
		if err := saveKey(app, k.id, k.owner, users.Id, k.secret, k.label); err != nil {
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

// seedServiceAccount adds the service_accounts collection as docs/service-accounts.md
// sets it up — an auth collection whose records cannot sign in with a
// password, each of which may read and update itself — with the deploy
// bot, its key and its note. The notes collection gets a relation "bot"
// to service accounts, and its rules let a note's bot use it as its owner
// does.
func seedServiceAccount(app core.App) error {
	c := core.NewAuthCollection(ServiceAccountsCollection)
	c.PasswordAuth.Enabled = false
	self := types.Pointer("id = @request.auth.id")
	c.ListRule, c.ViewRule, c.UpdateRule, c.DeleteRule = self, self, self, self
	c.Fields.Add(&core.TextField{Name: "name"})
	if err := app.Save(c); err != nil {
		return err
	}
	bot := core.NewRecord(c)
	bot.Id = BotID
	bot.SetEmail(BotEmail)
	bot.SetRandomPassword() // never used: password sign-in is off
	bot.SetVerified(true)
	bot.Set("name", "Deploy bot")
	if err := app.Save(bot); err != nil {
		return err
	}
	if err := saveKey(app, BotKeyID, BotID, c.Id, BotKeySecret, BotKeyLabel); err != nil {
		return err
	}

	notes, err := app.FindCollectionByNameOrId(NotesCollection)
	if err != nil {
		return err
	}
	notes.Fields.GetByName("owner").(*core.RelationField).Required = false
	notes.Fields.Add(&core.RelationField{Name: "bot", CollectionId: c.Id, MaxSelect: 1, CascadeDelete: true})
	ownerOrBot := types.Pointer(`@request.auth.id != "" && (owner = @request.auth.id || bot = @request.auth.id)`)
	notes.ListRule, notes.ViewRule, notes.UpdateRule, notes.DeleteRule = ownerOrBot, ownerOrBot, ownerOrBot, ownerOrBot
	notes.CreateRule = types.Pointer(`@request.auth.id != "" && (@request.body.owner = @request.auth.id || @request.body.bot = @request.auth.id)`)
	if err := app.Save(notes); err != nil {
		return err
	}
	note := core.NewRecord(notes)
	note.Id = BotNoteID
	note.Set("bot", BotID)
	note.Set("title", BotNoteTitle)
	return app.Save(note)
}

// saveKey stores a fixture key with a known secret.
func saveKey(app core.App, id, owner, ownerCollection, secret, label string) error {
	keys, err := app.FindCollectionByNameOrId(keystore.Collection)
	if err != nil {
		return err
	}
	hash, err := apikey.Hash(secret, TestArgon2)
	if err != nil {
		return err
	}
	r := core.NewRecord(keys)
	r.Id = id
	r.Set(keystore.FieldOwner, owner)
	r.Set(keystore.FieldOwnerCollection, ownerCollection)
	r.Set(keystore.FieldLabel, label)
	r.Set(keystore.FieldKeyHash, hash)
	return app.Save(r)
}

// LinkKeysToOwners adds what an operator might add in the dashboard: a
// relation field "user" from api_keys to users (and "bot" to service
// accounts, when there are), set on the fixture keys. It makes the
// back-relations api_keys_via_user and api_keys_via_bot exist (expand,
// filter, sort), so tests can show that no key reads api_keys through them.
func LinkKeysToOwners(t testing.TB, app core.App) {
	t.Helper()
	keys, err := app.FindCollectionByNameOrId(keystore.Collection)
	if err != nil {
		t.Fatal(err)
	}
	links := []struct{ field, collection, key, owner string }{
		{"user", "users", AliceKeyID, AliceID},
		{"user", "users", BobKeyID, BobID},
		{"bot", ServiceAccountsCollection, BotKeyID, BotID},
	}
	for _, l := range links {
		c, err := app.FindCollectionByNameOrId(l.collection)
		if err != nil {
			continue // no service accounts in this app
		}
		if keys.Fields.GetByName(l.field) == nil {
			keys.Fields.Add(&core.RelationField{Name: l.field, CollectionId: c.Id, MaxSelect: 1})
			if err := app.Save(keys); err != nil {
				t.Fatal(err)
			}
		}
		r, err := app.FindRecordById(keystore.Collection, l.key)
		if err != nil {
			t.Fatal(err)
		}
		r.Set(l.field, l.owner)
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
	}
}
