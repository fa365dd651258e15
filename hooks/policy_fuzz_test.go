package hooks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// FuzzKeyPolicy sends generated expand, filter, sort and realtime option
// values through the router with a full-access key and keys with
// permissions (write notes; read notes; write notes and read comments;
// everything but secrets and users, which are "none"), and checks what
// comes back: no response body and no realtime message may carry an
// api_keys record, nor, for a key with permissions, a record of a
// collection it may not read. It asserts on what leaves the server, not on status
// codes, so it holds whatever PocketBase makes of the input. And it writes
// a generated body field (a relation's name and its modifiers, or
// anything else) set to a record's id, in a create, an update and a batch:
// no key may link a note to an api_keys record, nor a key with
// permissions to a secret, and the answer must not depend on whether the
// id exists. CI
// runs it briefly (make fuzz); locally:
//
//	go test -run '^$' -fuzz '^FuzzKeyPolicy$' -fuzztime 1m ./hooks
func FuzzKeyPolicy(f *testing.F) {
	for _, seed := range [][5]string{
		{"api_keys_via_user", "", "", "", "key"},
		{"api _keys_via_user", "api_keys_via_user.label ?= 'Alice CI'", "-api_keys_via_user.label", "", "secret"},
		{".secret", "secret.title = 'x'", "secret.title", "", "secret+"},
		{"sec ret", "comments_via_note.text ?= 'x'", "comments_via_note.text", "", "+secret"},
		{"comments(note)", "COMMENTS_via_note.text != ''", "+SECRET.title", "", "key-"},
		{"owner.api_keys(user)", "@collection.api_keys.label ?= 'x'", "owner.api_keys_via_user.label", "", "+key"},
		{"owner", "owner.email != ''", "", `?options={"query":{"expand":"api_keys_via_user","n":1}}`, "SECRET"},
		{"", "", "", `?options={"query":{"expand":"api_keys_via_user"}}&x=%zz`, "owner"},
		{"", "", "", `?options=%7B%22query%22%3A%7B%22expand%22%3A%22api_keys(user)%22%7D%7D`, "key+"},
		{"title", "title != 'api_keys'", "-created", "", "title"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	}

	h := newPolicyHarness(f)
	f.Fuzz(func(t *testing.T, expand, filter, sort, topicTail, field string) {
		if containsAny(expand+filter+sort+topicTail+field, append(keyMarkers, outOfScopeMarkers...)) {
			t.Skip("the input names a marker; a response could echo it")
		}
		for _, k := range h.keys {
			h.checkREST(t, k, expand, filter, sort)
			h.checkRealtime(t, k, expand, filter, topicTail)
			h.checkLinks(t, k, field)
		}
	})
}

// fuzzSecretID is a secret of Alice's that no note links to: the
// notes-only key must never make one link to it. fuzzMissingID exists
// nowhere.
const (
	fuzzSecretID  = "s2alice00000002"
	fuzzMissingID = "zzzzzzzzzzzzzzz"
)

// checkLinks writes field — set to a record's id that exists, then to one
// that does not — in a create, an update and a batch, and checks that the
// two answers have the same status, that no note links to an api_keys
// record, and that the notes-only key made no note link to a secret.
func (h *policyHarness) checkLinks(t *testing.T, k *fuzzKey, field string) {
	if strings.EqualFold(strings.Trim(field, "+- "), "id") {
		return // a chosen id is unique: the second create fails for that reason alone
	}
	linked := h.linksTo(t, fuzzSecretID)
	for _, target := range []string{fuzzSecretID, hookstest.BobKeyID} {
		for _, w := range []struct{ method, url, body string }{
			{http.MethodPost, "/api/collections/notes/records", `{"owner":"` + hookstest.AliceID + `","title":"fuzz",%s}`},
			{http.MethodPatch, aliceNoteURL, `{%s}`},
			{http.MethodPost, "/api/batch", `{"requests":[{"method":"PATCH","url":"` + aliceNoteURL + `","body":{%s}}]}`},
		} {
			var statuses [2]int
			for i, id := range []string{target, fuzzMissingID} {
				pair, _ := json.Marshal(map[string]string{field: id})
				body := fmt.Sprintf(w.body, strings.TrimSuffix(strings.TrimPrefix(string(pair), "{"), "}"))
				statuses[i], _ = call(t, h.base, w.method, w.url, "Bearer "+k.key, body)
			}
			if statuses[0] != statuses[1] && (target != fuzzSecretID || k.scoped) {
				t.Fatalf("%s: %s %s with %q: %d for an existing id, %d for a missing one", k.name, w.method, w.url, field, statuses[0], statuses[1])
			}
		}
	}
	if n := h.linksTo(t, hookstest.BobKeyID); n > 0 {
		t.Fatalf("%s: %d notes link to an API key after writing %q", k.name, n, field)
	}
	if n := h.linksTo(t, fuzzSecretID); k.scoped && n != linked {
		t.Fatalf("%s: notes linking to a secret went from %d to %d after writing %q", k.name, linked, n, field)
	}
}

// linksTo counts the notes whose secret or key relation holds id.
func (h *policyHarness) linksTo(t *testing.T, id string) int {
	t.Helper()
	var n int
	err := h.env.App.DB().NewQuery("SELECT COUNT(*) FROM notes WHERE secret LIKE {:id} OR [[key]] LIKE {:id}").
		Bind(map[string]any{"id": "%" + id + "%"}).Row(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// policyHarness is one served app shared by every fuzz input.
type policyHarness struct {
	env  *hookstest.Env
	base string
	keys []*fuzzKey
	mu   sync.Mutex // one input at a time on the realtime clients
}

type fuzzKey struct {
	name, key string
	scoped    bool     // has permissions, none on secrets
	markers   []string // what must never reach this key
	rt        *realtimeClient
}

func newPolicyHarness(f *testing.F) *policyHarness {
	env := hookstest.New(f)
	f.Cleanup(env.App.Cleanup)
	hookstest.LinkKeysToOwners(f, env.App)
	addRelation(f, env.App, "key", keystore.Collection)
	secret := core.NewRecord(collection(f, env.App, hookstest.SecretsCollection))
	secret.Id = fuzzSecretID
	secret.Set("owner", hookstest.AliceID)
	if err := env.App.Save(secret); err != nil {
		f.Fatal(err)
	}
	enableBatch(f, env.App, nil)
	srv := env.Serve(f)
	h := &policyHarness{env: env, base: srv.URL}
	h.keys = []*fuzzKey{{name: "full-access key", key: hookstest.AliceKey, markers: keyMarkers}}
	// Keys with permissions: what they may not read must never reach them,
	// and none may link a note to a secret.
	noSecrets := []string{hookstest.AliceSecretTitle, hookstest.AliceEmail}
	for _, k := range []struct {
		name    string
		perms   permissions.Set
		markers []string
	}{
		{"notes-only key", permissions.Set{hookstest.NotesCollection: permissions.Write, permissions.Routes: permissions.Write}, outOfScopeMarkers},
		{"notes read-only key", permissions.Set{hookstest.NotesCollection: permissions.Read}, outOfScopeMarkers},
		{"write notes, read comments key", permissions.Set{hookstest.NotesCollection: permissions.Write, hookstest.CommentsCollection: permissions.Read}, noSecrets},
		{"everything but secrets and users key", permissions.Set{permissions.Others: permissions.Write, hookstest.SecretsCollection: permissions.None, "users": permissions.None}, noSecrets},
	} {
		key, _ := issue(f, env, keystore.Options{Label: k.name, Permissions: k.perms})
		h.keys = append(h.keys, &fuzzKey{name: k.name, key: key, scoped: true, markers: append(append([]string{}, keyMarkers...), k.markers...)})
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
		"notes/" + hookstest.AliceNoteID,
		"notes/*?options=" + string(opts),
		"users/" + hookstest.AliceID + "?options=" + string(opts),
		"users/" + hookstest.AliceID + topicTail,
	}
	if res := k.rt.subscribe(t, k.key, topics...); res.StatusCode != http.StatusNoContent {
		return // refused: nothing will be sent
	}
	touch(t, h.env.App, hookstest.NotesCollection, hookstest.AliceNoteID, "title")
	touch(t, h.env.App, "users", hookstest.AliceID, "name")
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

func collection(t testing.TB, app core.App, name string) *core.Collection {
	t.Helper()
	c, err := app.FindCollectionByNameOrId(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
