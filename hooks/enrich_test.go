package hooks_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// The second line: whatever the request check lets through, no api_keys
// record and no record outside a scoped key's list leaves the server. These
// tests slip an expand past the first check (a hook bound after pbkeys
// changes the request once the policy has passed it, as a spelling nobody
// foresaw would) and look at what is sent. The same request with the
// owner's session does get the records, so the tests would see a leak.

// slipExpand makes every record view and realtime subscription expand
// expand after pbkeys has checked it.
func slipExpand(app core.App, expand string) {
	app.OnRecordViewRequest().BindFunc(func(e *core.RecordRequestEvent) error {
		info, err := e.RequestInfo()
		if err != nil {
			return err
		}
		info.Query["expand"] = expand
		return e.Next()
	})
	app.OnRealtimeSubscribeRequest().BindFunc(func(e *core.RealtimeSubscribeRequestEvent) error {
		for i, topic := range e.Subscriptions {
			e.Subscriptions[i] = topic + `?options={"query":{"expand":"` + expand + `"}}`
		}
		return e.Next()
	})
}

func TestEnrichNeverSendsKeysOrOutOfScopeRecords(t *testing.T) {
	cases := []struct {
		name, url, expand string
		scoped            bool
		markers           []string
	}{
		{"api_keys expanded on the owner", aliceURL, "api_keys_via_user", false, keyMarkers},
		{"api_keys expanded from a note", aliceNoteURL, "owner.api_keys_via_user", false, keyMarkers},
		{"a secret expanded for a notes-only key", aliceNoteURL, "secret", true, outOfScopeMarkers},
		{"comments expanded for a notes-only key", aliceNoteURL, "comments_via_note", true, outOfScopeMarkers},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := hookstest.New(t)
			defer env.App.Cleanup()
			hookstest.LinkKeysToOwners(t, env.App)
			slipExpand(env.App, c.expand)
			srv := env.Serve(t)
			key := hookstest.AliceKey
			if c.scoped {
				key, _ = issue(t, env, keystore.Options{Permissions: permissions.Set{hookstest.NotesCollection: permissions.Write, permissions.Routes: permissions.Write}})
			}
			if c.scoped && strings.HasPrefix(c.url, aliceURL) {
				t.Fatal("a scoped key cannot view users at all; pick a notes URL")
			}

			// the owner's session gets the expand: the slip works
			if status, body := call(t, srv.URL, http.MethodGet, c.url, hookstest.JWT(t, env.App, hookstest.AliceID), ""); status != 200 || !containsAny(body, c.markers) {
				t.Fatalf("session: %d %s, want the expanded records", status, body)
			}
			// the key gets the record without them
			status, body := call(t, srv.URL, http.MethodGet, c.url, "Bearer "+key, "")
			if status != 200 || containsAny(body, c.markers) {
				t.Fatalf("key: %d %s, want 200 without the expanded records", status, body)
			}
		})
	}
}

func TestEnrichKeepsRealtimeEventsClean(t *testing.T) {
	env := hookstest.New(t)
	defer env.App.Cleanup()
	hookstest.LinkKeysToOwners(t, env.App)
	slipExpand(env.App, "api_keys_via_user")
	srv := env.Serve(t)

	viaKey := connectRealtime(t, srv.URL)
	if res := viaKey.subscribe(t, hookstest.AliceKey, "users/"+hookstest.AliceID); res.StatusCode != http.StatusNoContent {
		t.Fatalf("key subscribe: %d", res.StatusCode)
	}
	viaSession := connectRealtime(t, srv.URL)
	if res := viaSession.subscribe(t, hookstest.JWT(t, env.App, hookstest.AliceID), "users/"+hookstest.AliceID); res.StatusCode != http.StatusNoContent {
		t.Fatalf("session subscribe: %d", res.StatusCode)
	}

	// Saving Alice makes PocketBase replace every Alice client's auth
	// record with the saved one, then broadcast: the key's client must
	// still be known as a key's. Twice, to cover the replaced record too.
	for _, name := range []string{"Alice A.", "Alice B."} {
		alice, err := env.App.FindRecordById("users", hookstest.AliceID)
		if err != nil {
			t.Fatal(err)
		}
		alice.Set("name", name)
		if err := env.App.Save(alice); err != nil {
			t.Fatal(err)
		}
		if ev := viaSession.next(t, 5*time.Second); !strings.Contains(ev.Data, hookstest.AliceKeyLabel) {
			t.Fatalf("session event without the expand (the slip did not work): %s", ev.Data)
		}
		// The key's client gets the event without the expanded keys.
		ev := viaKey.next(t, 5*time.Second)
		if !strings.Contains(ev.Data, name) || containsAny(ev.Data, keyMarkers) {
			t.Fatalf("key event: %s, want %q without api_keys records", ev.Data, name)
		}
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
