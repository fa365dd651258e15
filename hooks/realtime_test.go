package hooks_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// sseEvent is one server-sent event of PocketBase's realtime stream.
type sseEvent struct {
	Name string
	Data string
}

// realtimeClient is a minimal SSE client of /api/realtime.
type realtimeClient struct {
	base   string
	id     string
	events chan sseEvent // closed when the stream ends
}

func connectRealtime(t testing.TB, base string) *realtimeClient {
	t.Helper()
	res, err := http.Get(base + "/api/realtime")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	c := &realtimeClient{base: base, events: make(chan sseEvent, 64)}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				ev.Name = strings.TrimPrefix(line, "event:")
			case strings.HasPrefix(line, "data:"):
				ev.Data = strings.TrimPrefix(line, "data:")
			case line == "":
				if ev.Name != "" {
					c.events <- ev
				}
				ev = sseEvent{}
			}
		}
	}()
	connect := c.next(t, 5*time.Second)
	if connect.Name != "PB_CONNECT" {
		t.Fatalf("first event = %q, want PB_CONNECT", connect.Name)
	}
	var data struct{ ClientID string }
	if err := json.Unmarshal([]byte(connect.Data), &data); err != nil {
		t.Fatal(err)
	}
	c.id = data.ClientID
	return c
}

// subscribe sets the client's subscriptions with the given Authorization.
func (c *realtimeClient) subscribe(t testing.TB, authorization string, topics ...string) *http.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"clientId": c.id, "subscriptions": topics})
	req, _ := http.NewRequest(http.MethodPost, c.base+"/api/realtime", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", authorization)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// next returns the next event, failing after timeout. A closed stream
// returns an event named "closed".
func (c *realtimeClient) next(t testing.TB, timeout time.Duration) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			return sseEvent{Name: "closed"}
		}
		return ev
	case <-time.After(timeout):
		t.Fatalf("no realtime event within %s", timeout)
		return sseEvent{}
	}
}

// expectNoEvent fails if an event (other than the stream closing) arrives
// within wait.
func (c *realtimeClient) expectNoEvent(t testing.TB, wait time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		if ok {
			t.Fatalf("unexpected realtime event %s: %s", ev.Name, ev.Data)
		}
	case <-time.After(wait):
	}
}

func saveNote(t testing.TB, app core.App, ownerID, title string) *core.Record {
	t.Helper()
	notes, err := app.FindCollectionByNameOrId(hookstest.NotesCollection)
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewRecord(notes)
	r.Set("owner", ownerID)
	r.Set("title", title)
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// saveNoteOf saves a note that o owns.
func saveNoteOf(t testing.TB, app core.App, o hookstest.Owner, title string) *core.Record {
	t.Helper()
	notes, err := app.FindCollectionByNameOrId(hookstest.NotesCollection)
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewRecord(notes)
	r.Set(o.NoteField, o.ID)
	r.Set("title", title)
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRealtimeWithKeySeesOwnersEventsOnly(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind, func(t *testing.T) {
			env := o.New(t)
			defer env.App.Cleanup()
			srv := env.Serve(t)

			c := connectRealtime(t, srv.URL)
			if res := c.subscribe(t, "Bearer "+o.Key, "notes/*"); res.StatusCode != http.StatusNoContent {
				t.Fatalf("subscribe with key: status %d, want 204", res.StatusCode)
			}

			saveNote(t, env.App, hookstest.BobID, "bob's secret plan")
			saveNoteOf(t, env.App, o, "the owner's new note")

			ev := c.next(t, 5*time.Second)
			if !strings.Contains(ev.Data, "the owner's new note") {
				t.Fatalf("got event %s: %s, want the owner's note", ev.Name, ev.Data)
			}
			c.expectNoEvent(t, 300*time.Millisecond) // Bob's note never arrives
		})
	}
}

func TestRealtimeStopsWhenKeyIsRevoked(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind, func(t *testing.T) {
			env := o.New(t)
			defer env.App.Cleanup()
			srv := env.Serve(t)

			c := connectRealtime(t, srv.URL)
			if res := c.subscribe(t, o.Key, "notes/*"); res.StatusCode != http.StatusNoContent {
				t.Fatalf("subscribe with key: status %d, want 204", res.StatusCode)
			}
			saveNoteOf(t, env.App, o, "before revocation")
			if ev := c.next(t, 5*time.Second); !strings.Contains(ev.Data, "before revocation") {
				t.Fatalf("got %s: %s", ev.Name, ev.Data)
			}

			deleteRecord(t, env.App, "api_keys", o.KeyID)

			saveNoteOf(t, env.App, o, "after revocation")
			for {
				ev := c.next(t, 5*time.Second)
				if ev.Name == "closed" {
					break // the stream of the revoked key was ended
				}
				if strings.Contains(ev.Data, "after revocation") {
					t.Fatal("a revoked key still receives the owner's events")
				}
			}

			// Reconnecting and subscribing again with the revoked key is refused.
			c2 := connectRealtime(t, srv.URL)
			if res := c2.subscribe(t, o.Key, "notes/*"); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("re-subscribe with revoked key: status %d, want 401", res.StatusCode)
			}
		})
	}
}

func TestRealtimeKeepsOtherClientsWhenAKeyIsRevoked(t *testing.T) {
	env := hookstest.New(t)
	defer env.App.Cleanup()
	srv := env.Serve(t)

	viaJWT := connectRealtime(t, srv.URL)
	if res := viaJWT.subscribe(t, hookstest.JWT(t, env.App, hookstest.AliceID), "notes/*"); res.StatusCode != http.StatusNoContent {
		t.Fatalf("subscribe with JWT: status %d", res.StatusCode)
	}
	deleteRecord(t, env.App, "api_keys", hookstest.AliceKeyID)
	saveNote(t, env.App, hookstest.AliceID, "still delivered")
	if ev := viaJWT.next(t, 5*time.Second); !strings.Contains(ev.Data, "still delivered") {
		t.Fatalf("JWT subscriber got %s: %s", ev.Name, ev.Data)
	}
}

func TestRealtimeKeyCannotWatchKeys(t *testing.T) {
	env := hookstest.New(t)
	defer env.App.Cleanup()
	hookstest.LinkKeysToOwners(t, env.App)
	srv := env.Serve(t)

	keys, err := env.App.FindCollectionByNameOrId("api_keys")
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{
		"api_keys/*", "api_keys/" + hookstest.AliceKeyID, keys.Id + "/*", "api_keys?options={}",
		`users/*?options={"query":{"expand":"api_keys_via_user"}}`,
		`notes/*?options={"query":{"filter":"@collection.api_keys.label ?= 'x'"}}`,
	} {
		c := connectRealtime(t, srv.URL)
		if res := c.subscribe(t, hookstest.AliceKey, "notes/*", topic); res.StatusCode != http.StatusForbidden {
			t.Fatalf("subscribe to %q with a key: status %d, want 403", topic, res.StatusCode)
		}
	}

	// A JWT subscriber of api_keys gets events without hashes or secrets.
	c := connectRealtime(t, srv.URL)
	if res := c.subscribe(t, hookstest.SuperuserJWT(t, env.App), "api_keys/*"); res.StatusCode != http.StatusNoContent {
		t.Fatalf("superuser subscribe: status %d", res.StatusCode)
	}
	_, key, err := env.Store.Issue(env.Record(t, "users", hookstest.AliceID), keystore.Options{Label: "watched"}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	ev := c.next(t, 5*time.Second)
	if !strings.Contains(ev.Data, `"label":"watched"`) {
		t.Fatalf("got %s: %s", ev.Name, ev.Data)
	}
	for _, leak := range []string{"key_hash", "$argon2id$", key.Secret} {
		if strings.Contains(ev.Data, leak) {
			t.Fatalf("realtime event leaks %q: %s", leak, ev.Data)
		}
	}
}
