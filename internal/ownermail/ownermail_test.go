package ownermail_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// The expiry reminder says which key, how long it has left and when it
// stops, links to the pages, and escapes the label in its HTML.
func TestKeyExpiringMail(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	mail := ownermail.Register(app, "/api-keys")
	store, err := keystore.Register(app, keystore.Config{Argon2: hookstest.TestArgon2})
	if err != nil {
		t.Fatal(err)
	}
	u := saveUser(t, app, "erin@example.com")
	expires := time.Now().Add(3*24*time.Hour + time.Hour)
	key, _, err := store.Issue(u, keystore.Options{Label: "<b>deploy</b>", ExpiresAt: expires}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	mail.KeyExpiring(key, time.Now())
	mail.Wait()
	msg := app.TestMailer.LastMessage()
	if len(msg.To) != 1 || msg.To[0].Address != "erin@example.com" {
		t.Fatalf("to %v", msg.To)
	}
	if msg.Subject != `API key "<b>deploy</b>" on Acme expires in 3 days` {
		t.Errorf("subject %q", msg.Subject)
	}
	for _, want := range []string{key.Id, expires.UTC().Format("2006-01-02 15:04"), "roll it", "/api-keys"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, msg.Text)
		}
	}
	if strings.Contains(msg.HTML, "<b>deploy") || !strings.Contains(msg.HTML, "&lt;b&gt;deploy") {
		t.Errorf("the label is not escaped in the HTML:\n%s", msg.HTML)
	}
}
