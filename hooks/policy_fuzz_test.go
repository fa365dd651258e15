package hooks_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/pbtest"
)

// FuzzKeyPolicy sends generated expand, filter, sort and realtime option
// values through the router with a full-access key and a notes-only key,
// and checks what comes back: no response body and no realtime message
// may carry an api_keys record, nor, for the notes-only key, a record of
// another collection. It asserts on what leaves the server, not on status
// codes, so it holds whatever PocketBase makes of the input. CI runs it
// briefly (make fuzz); locally:
//
//	go test -run '^$' -fuzz '^FuzzKeyPolicy$' -fuzztime 1m ./hooks
func FuzzKeyPolicy(f *testing.F) {
	for _, seed := range [][4]string{
		{"api_keys_via_user", "", "", ""},
		{"api _keys_via_user", "api_keys_via_user.label ?= 'Alice CI'", "-api_keys_via_user.label", ""},
		{".secret", "secret.title = 'x'", "secret.title", ""},
		{"sec ret", "comments_via_note.text ?= 'x'", "comments_via_note.text", ""},
		{"comments(note)", "COMMENTS_via_note.text != ''", "+SECRET.title", ""},
		{"owner.api_keys(user)", "@collection.api_keys.label ?= 'x'", "owner.api_keys_via_user.label", ""},
		{"owner", "owner.email != ''", "", `?options={"query":{"expand":"api_keys_via_user","n":1}}`},
		{"", "", "", `?options={"query":{"expand":"api_keys_via_user"}}&x=%zz`},
		{"", "", "", `?options=%7B%22query%22%3A%7B%22expand%22%3A%22api_keys(user)%22%7D%7D`},
		{"title", "title != 'api_keys'", "-created", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}

	h := newPolicyHarness(f)
	f.Fuzz(func(t *testing.T, expand, filter, sort, topicTail string) {
		if containsAny(expand+filter+sort+topicTail, append(keyMarkers, outOfScopeMarkers...)) {
			t.Skip("the input names a marker; a response could echo it")
		}
		for _, k := range h.keys {
			h.checkREST(t, k, expand, filter, sort)
			h.checkRealtime(t, k, expand, filter, topicTail)
		}
	})
}

// policyHarness is one served app shared by every fuzz input.
type policyHarness struct {
	env  *pbtest.Env
	base string
	keys []*fuzzKey
	mu   sync.Mutex // one input at a time on the realtime clients
}

type fuzzKey struct {
	name, key string
	markers   []string // what must never reach this key
	rt        *realtimeClient
}

func newPolicyHarness(f *testing.F) *policyHarness {
	env := pbtest.New(f)
	f.Cleanup(env.App.Cleanup)
	pbtest.LinkKeysToOwners(f, env.App)
	enableBatch(f, env.App, nil)
	srv := env.Serve(f)
	scoped, _ := issue(f, env, keystore.Options{Label: "notes only", Collections: []string{pbtest.NotesCollection}})
	h := &policyHarness{env: env, base: srv.URL}
	h.keys = []*fuzzKey{
		{name: "full-access key", key: pbtest.AliceKey, markers: keyMarkers},
		{name: "notes-only key", key: scoped, markers: append(append([]string{}, keyMarkers...), outOfScopeMarkers...)},
	}
	for _, k := range h.keys {
		k.rt = connectRealtime(f, srv.URL)
	}
	return h
}

func (h *policyHarness) checkREST(t *testing.T, k *fuzzKey, expand, filter, sort string) {
	query := url.Values{"expand": {expand}, "filter": {filter}, "sort": {sort}}.Encode()
	notes, users := "/api/collections/notes/records", "/api/collections/users/records"
	for _, u := range []string{
		notes + "?" + query,
		users + "?" + query,
		aliceNoteURL + "?expand=" + url.QueryEscape(expand),
		aliceURL + "?expand=" + url.QueryEscape(expand),
	} {
		_, body := call(t, h.base, http.MethodGet, u, "Bearer "+k.key, "")
		k.expectClean(t, "GET "+u, body)
	}
	batch, _ := json.Marshal(map[string]any{"requests": []map[string]any{
		{"method": "PATCH", "url": aliceNoteURL + "?expand=" + url.QueryEscape(expand), "body": map[string]any{}},
	}})
	_, body := call(t, h.base, http.MethodPost, "/api/batch", "Bearer "+k.key, string(batch))
	k.expectClean(t, "batch", body)
}

func (h *policyHarness) checkRealtime(t *testing.T, k *fuzzKey, expand, filter, topicTail string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drain(t)
	opts, _ := json.Marshal(map[string]any{"query": map[string]string{"expand": expand, "filter": filter}})
	topics := []string{
		"notes/" + pbtest.AliceNoteID,
		"notes/*?options=" + string(opts),
		"users/" + pbtest.AliceID + "?options=" + string(opts),
		"users/" + pbtest.AliceID + topicTail,
	}
	if res := k.rt.subscribe(t, k.key, topics...); res.StatusCode != http.StatusNoContent {
		return // refused: nothing will be sent
	}
	touch(t, h.env.App, pbtest.NotesCollection, pbtest.AliceNoteID, "title")
	touch(t, h.env.App, "users", pbtest.AliceID, "name")
	// The plain notes topic always gets the event; give the others a moment.
	deadline := time.After(time.Second)
	for got := 0; ; {
		select {
		case ev, ok := <-k.rt.events:
			if !ok {
				t.Fatal("realtime stream closed")
			}
			k.expectClean(t, "realtime "+ev.Name, ev.Data)
			got++
			if got == 1 {
				deadline = time.After(50 * time.Millisecond)
			}
			continue
		case <-deadline:
		}
		return
	}
}

// drain checks and empties every key's event queue before an input:
// events that came after the last check (the other key's client hears the
// touches too) must be clean as well, and with hundreds of inputs a run the
// queue (64 events) would fill and block the client's reader.
func (h *policyHarness) drain(t *testing.T) {
	for _, k := range h.keys {
		for empty := false; !empty; {
			select {
			case ev, ok := <-k.rt.events:
				if !ok {
					t.Fatal("realtime stream closed")
				}
				k.expectClean(t, "realtime "+ev.Name+" (late)", ev.Data)
			default:
				empty = true
			}
		}
	}
}

func (k *fuzzKey) expectClean(t *testing.T, what, body string) {
	t.Helper()
	for _, m := range k.markers {
		if strings.Contains(body, m) {
			t.Fatalf("%s: %s received %q: %s", k.name, what, m, body)
		}
	}
}

// touch saves a record with a new value in field, so realtime subscribers
// get an event.
func touch(t testing.TB, app core.App, collection, id, field string) {
	t.Helper()
	r, err := app.FindRecordById(collection, id)
	if err != nil {
		t.Fatal(err)
	}
	r.Set(field, "touched "+time.Now().Format(time.RFC3339Nano))
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
}
