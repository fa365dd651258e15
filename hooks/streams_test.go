package hooks_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// TestMain removes the pbkeys binary the cross-process tests build.
func TestMain(m *testing.M) {
	code := m.Run()
	hookstest.RemoveBinary()
	os.Exit(code)
}

// A key that stops being usable — revoked, disabled or expired; by the
// pages (the keystore, in this process), over REST, or by the CLI in
// another process — gets 401 on its next request and loses its realtime
// streams within about a second, also when nothing is being sent on them.
// No message is sent during the wait: the stream must end on its own.
func TestUnusableKeysLoseTheirStreams(t *testing.T) {
	type env = hookstest.Env
	cli := func(t *testing.T, e *env, args ...string) {
		t.Helper()
		cmd := hookstest.Command(t, e.App.DataDir(), append([]string{"apikeys"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pbkeys apikeys %v: %v\n%s", args, err, out)
		}
	}
	for _, c := range []struct {
		name    string
		expires time.Duration // when the key expires, from its creation; 0: never
		change  func(t *testing.T, e *env, base, keyID string)
		message string
	}{
		{name: "revoked by the pages", change: func(t *testing.T, e *env, _, id string) {
			if _, err := e.Store.Revoke(e.Alice(t), id); err != nil {
				t.Fatal(err)
			}
		}, message: "invalid or has been revoked"},
		{name: "disabled by the pages", change: func(t *testing.T, e *env, _, id string) {
			if _, err := e.Store.SetDisabled(e.Alice(t), id, true); err != nil {
				t.Fatal(err)
			}
		}, message: "disabled"},
		{name: "disabled over REST", change: func(t *testing.T, e *env, base, id string) {
			if status, body := call(t, base, http.MethodPatch, keysURL+"/"+id, hookstest.JWT(t, e.App, hookstest.AliceID), `{"disabled":true}`); status != 200 {
				t.Fatalf("PATCH: %d %s", status, body)
			}
		}, message: "disabled"},
		{name: "revoked over REST", change: func(t *testing.T, e *env, base, id string) {
			if status, body := call(t, base, http.MethodDelete, keysURL+"/"+id, hookstest.JWT(t, e.App, hookstest.AliceID), ""); status != 204 {
				t.Fatalf("DELETE: %d %s", status, body)
			}
		}, message: "invalid or has been revoked"},
		{name: "disabled by the CLI in another process", change: func(t *testing.T, e *env, _, id string) {
			cli(t, e, "disable", id)
		}, message: "disabled"},
		{name: "revoked by the CLI in another process", change: func(t *testing.T, e *env, _, id string) {
			cli(t, e, "revoke", id)
		}, message: "invalid or has been revoked"},
		{name: "expired", expires: 2 * time.Second, change: func(t *testing.T, e *env, _, id string) {
			time.Sleep(2 * time.Second) // nothing changes: time passes
		}, message: "expired"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := hookstest.New(t)
			defer e.App.Cleanup()
			srv := e.Serve(t)
			opts := keystore.Options{Label: "streaming"}
			if c.expires > 0 {
				opts.ExpiresAt = time.Now().Add(c.expires)
			}
			key, record := issue(t, e, opts)

			stream := connectRealtime(t, srv.URL)
			if res := stream.subscribe(t, key, "notes/*"); res.StatusCode != http.StatusNoContent {
				t.Fatalf("subscribe: %d", res.StatusCode)
			}
			c.change(t, e, srv.URL, record.Id)
			changed := time.Now()

			// Within about a second: one sweep interval, with slack for a
			// loaded machine. This bounds a behaviour, not a speed.
			if ev := stream.next(t, 3*time.Second); ev.Name != "closed" {
				t.Fatalf("got %s: %s, want the stream to end", ev.Name, ev.Data)
			}
			t.Logf("stream ended %s after the change", time.Since(changed).Round(10*time.Millisecond))
			status, body := call(t, srv.URL, http.MethodGet, aliceNoteURL, "Bearer "+key, "")
			if status != http.StatusUnauthorized || !strings.Contains(body, c.message) {
				t.Fatalf("next request: %d %s, want 401 saying %q", status, body, c.message)
			}
		})
	}
}

// A stream keeps the grant it was opened with, so new permissions or
// addresses end it (made here at once, made by another process within
// about a second); the client subscribes again under the new ones.
func TestChangedPermissionsEndStreams(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(t *testing.T, e *hookstest.Env, base, keyID string)
	}{
		{"permissions over REST", func(t *testing.T, e *hookstest.Env, base, id string) {
			if status, body := call(t, base, http.MethodPatch, keysURL+"/"+id, hookstest.JWT(t, e.App, hookstest.AliceID), `{"permissions":{"notes":"read","secrets":"read"}}`); status != 200 {
				t.Fatalf("PATCH: %d %s", status, body)
			}
		}},
		{"addresses over REST", func(t *testing.T, e *hookstest.Env, base, id string) {
			if status, body := call(t, base, http.MethodPatch, keysURL+"/"+id, hookstest.JWT(t, e.App, hookstest.AliceID), `{"allowed_ips":["127.0.0.0/8","::1"]}`); status != 200 {
				t.Fatalf("PATCH: %d %s", status, body)
			}
		}},
		{"permissions by another process", func(t *testing.T, e *hookstest.Env, _, id string) {
			other := e.AnotherProcess(t)
			key, err := other.App.FindRecordById(keystore.Collection, id)
			if err != nil {
				t.Fatal(err)
			}
			key.Set(keystore.FieldPermissions, map[string]string{"notes": "write"})
			if err := other.App.Save(key); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := hookstest.New(t)
			defer e.App.Cleanup()
			srv := e.Serve(t)
			key, record := issue(t, e, keystore.Options{Label: "streaming", Permissions: permissions.Set{hookstest.NotesCollection: permissions.Read}})
			stream := connectRealtime(t, srv.URL)
			if res := stream.subscribe(t, key, "notes/*"); res.StatusCode != http.StatusNoContent {
				t.Fatalf("subscribe: %d", res.StatusCode)
			}
			c.change(t, e, srv.URL, record.Id)
			if ev := stream.next(t, 3*time.Second); ev.Name != "closed" {
				t.Fatalf("got %s: %s, want the stream to end", ev.Name, ev.Data)
			}
			// the key still works, under its new permissions
			again := connectRealtime(t, srv.URL)
			if res := again.subscribe(t, key, "notes/*"); res.StatusCode != http.StatusNoContent {
				t.Fatalf("subscribe again: %d", res.StatusCode)
			}
		})
	}
}
