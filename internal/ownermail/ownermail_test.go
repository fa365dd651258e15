package ownermail_test

import (
	"sync/atomic"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/ownermail"
)

// TestMailsGoBeforeTheDatabaseCloses: a key created just before the app
// shuts down still mails its owner; the mail, sent in the background,
// reads the owner before PocketBase closes its databases.
func TestMailsGoBeforeTheDatabaseCloses(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store, err := keystore.Register(app, keystore.Config{Argon2: hookstest.TestArgon2, Notify: ownermail.Register(app, "")})
	if err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int32
	app.OnMailerSend().BindFunc(func(e *core.MailerEvent) error {
		sent.Add(1)
		return e.Next()
	})
	u := saveUser(t, app, "dave@example.com")
	if _, _, err := store.Issue(u, keystore.Options{Label: "last one"}, keystore.Origin{Via: "test"}); err != nil {
		t.Fatal(err)
	}
	app.Cleanup()
	if n := sent.Load(); n != 1 {
		t.Fatalf("%d mails sent by the time the databases closed, want 1", n)
	}
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
