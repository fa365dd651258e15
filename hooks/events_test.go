package hooks_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// eventsAgent is the user agent the tests' clients send, to be found in
// the events.
const eventsAgent = "events-test/1.0 (+https://example.com)"

// send makes one request with a JSON body and eventsAgent against a served
// app, and returns the status and body.
func send(t testing.TB, base, method, url, authorization, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", eventsAgent)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

// mustSend is send that fails t unless the status is want.
func mustSend(t testing.TB, want int, base, method, url, authorization, body string) string {
	t.Helper()
	status, out := send(t, base, method, url, authorization, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, status, want, out)
	}
	return out
}

// keyEvents reads the events of key as the server keeps them.
func keyEvents(t testing.TB, app core.App, key string) []events.Event {
	t.Helper()
	list, err := events.List(app, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// actions are the events' actions, in their order.
func actions(list []events.Event) []string {
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.Action
	}
	return out
}

// expectEvents checks key's events (newest first) and that each came from
// actor, through a client at ip with eventsAgent (when ip is not empty).
// The fixture's keys were created by the system (the fixture saves them),
// which their oldest event, "created", says.
func expectEvents(t testing.TB, app core.App, key string, want []string, actor events.Actor, ip string) []events.Event {
	t.Helper()
	list := keyEvents(t, app, key)
	if got := actions(list); !slices.Equal(got, want) {
		t.Fatalf("events of %s: %v, want %v", key, got, want)
	}
	for _, e := range list {
		if (key == hookstest.AliceKeyID || key == hookstest.BobKeyID || key == hookstest.BotKeyID) && e.Action == "created" {
			if e.Actor != (events.Actor{Kind: events.KindSystem}) || e.IP != "" {
				t.Errorf("the fixture's key was created by %+v from %q", e.Actor, e.IP)
			}
			continue
		}
		if e.Actor != actor {
			t.Errorf("%s of %s by %+v, want %+v", e.Action, key, e.Actor, actor)
		}
		if ip != "" && (e.IP != ip || e.UserAgent != eventsAgent) {
			t.Errorf("%s of %s from %q %q, want %q %q", e.Action, key, e.IP, e.UserAgent, ip, eventsAgent)
		}
		if e.Created.IsZero() || e.Key != key {
			t.Errorf("%s: key %q created %v", e.Action, e.Key, e.Created)
		}
	}
	return list
}

// idOf is the "id" of a record in a JSON answer.
func idOf(t testing.TB, body string) string {
	t.Helper()
	var r struct{ ID string }
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.ID == "" {
		t.Fatalf("no id in %s (%v)", body, err)
	}
	return r.ID
}

// Every change an owner makes over REST is an event with the owner as the
// actor, their address and user agent: create, disable, enable, a change
// of permissions and of addresses, roll (the old key's "rolled", the new
// key's "created"), revoke. A relabel is none. For both owner collections.
func TestEventsOfAnOwnerOverREST(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind, func(t *testing.T) {
			env := o.New(t)
			t.Cleanup(env.App.Cleanup)
			srv := env.Serve(t)
			jwt := o.JWT(t, env.App)
			records := "/api/collections/api_keys/records"

			id := idOf(t, mustSend(t, 200, srv.URL, http.MethodPost, records, jwt, `{"label":"ev"}`))
			mustSend(t, 200, srv.URL, http.MethodPatch, records+"/"+id, jwt, `{"disabled":true}`)
			mustSend(t, 200, srv.URL, http.MethodPatch, records+"/"+id, jwt, `{"disabled":false}`)
			mustSend(t, 200, srv.URL, http.MethodPatch, records+"/"+id, jwt, `{"label":"relabelled"}`)
			mustSend(t, 200, srv.URL, http.MethodPatch, records+"/"+id, jwt, `{"permissions":{"notes":"read"}}`)
			mustSend(t, 200, srv.URL, http.MethodPatch, records+"/"+id, jwt, `{"allowed_ips":["10.0.0.0/8"]}`)
			newID := idOf(t, mustSend(t, 200, srv.URL, http.MethodPost, "/api/api-keys/"+id+"/roll", jwt, `{"grace":"1h"}`))
			mustSend(t, 204, srv.URL, http.MethodDelete, records+"/"+newID, jwt, "")

			owner := events.Actor{Kind: events.KindOwner, ID: o.ID}
			list := expectEvents(t, env.App, id, []string{"rolled", "permissions_changed", "permissions_changed", "enabled", "disabled", "created"}, owner, "127.0.0.1")
			expectEvents(t, env.App, newID, []string{"revoked", "created"}, owner, "127.0.0.1")

			var rolled struct{ ReplacedBy, Expires string }
			if err := json.Unmarshal(list[0].Detail, &rolled); err != nil || rolled.ReplacedBy != newID || rolled.Expires == "" {
				t.Errorf("rolled detail %s, want the replacement %s and the old key's end", list[0].Detail, newID)
			}
			for i, want := range []string{
				`{"allowed_ips":{"before":null,"after":["10.0.0.0/8"]}}`,
				`{"permissions":{"before":null,"after":{"notes":"read"}}}`,
			} {
				if got := string(list[1+i].Detail); got != want {
					t.Errorf("permissions_changed detail %s, want %s", got, want)
				}
			}
			if list[0].Label != "relabelled" || list[5].Label != "ev" {
				t.Errorf("labels %q, %q: want each event's label at the time", list[0].Label, list[5].Label)
			}
		})
	}
}

// A superuser's changes over REST (what the dashboard sends) are the
// superuser's, by id; one request changing two things makes two events.
func TestEventsOfASuperuserOverREST(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	srv := env.Serve(t)
	jwt := hookstest.SuperuserJWT(t, env.App)
	su, err := env.App.FindAuthRecordByEmail(core.CollectionNameSuperusers, hookstest.SuperuserEmail)
	if err != nil {
		t.Fatal(err)
	}
	records := "/api/collections/api_keys/records"

	id := idOf(t, mustSend(t, 200, srv.URL, http.MethodPost, records, jwt, `{"label":"by admin","owner":"`+hookstest.AliceID+`"}`))
	mustSend(t, 200, srv.URL, http.MethodPatch, records+"/"+id, jwt, `{"disabled":true,"permissions":{"*":"read"}}`)
	mustSend(t, 200, srv.URL, http.MethodPatch, records+"/"+id, jwt, `{"disabled":false,"allowed_ips":["192.0.2.1"]}`)
	mustSend(t, 204, srv.URL, http.MethodDelete, records+"/"+id, jwt, "")
	list := expectEvents(t, env.App, id, []string{"revoked", "permissions_changed", "enabled", "permissions_changed", "disabled", "created"},
		events.Actor{Kind: events.KindSuperuser, ID: su.Id}, "127.0.0.1")
	for _, e := range list {
		if e.Detail != nil && e.Action != "permissions_changed" {
			t.Errorf("%s has detail %s", e.Action, e.Detail)
		}
	}
}

// Batch sub-requests go through the same record hooks: the owner's
// changes are the owner's. A batch rolled back records nothing.
func TestEventsOfABatch(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	enableBatch(t, env.App, nil)
	srv := env.Serve(t)
	jwt := hookstest.JWT(t, env.App, hookstest.AliceID)

	mustSend(t, 200, srv.URL, http.MethodPost, "/api/batch", jwt, `{"requests":[
		{"method":"PATCH","url":"/api/collections/api_keys/records/`+hookstest.AliceKeyID+`","body":{"disabled":true}},
		{"method":"POST","url":"/api/collections/api_keys/records","body":{"label":"batched"}}
	]}`)
	owner := events.Actor{Kind: events.KindOwner, ID: hookstest.AliceID}
	expectEvents(t, env.App, hookstest.AliceKeyID, []string{"disabled", "created"}, owner, "127.0.0.1")
	keys, err := env.Store.List(env.Alice(t))
	if err != nil || len(keys) != 2 {
		t.Fatalf("Alice's keys: %d (%v)", len(keys), err)
	}
	expectEvents(t, env.App, keys[0].Id, []string{"created"}, owner, "127.0.0.1")

	send(t, srv.URL, http.MethodPost, "/api/batch", jwt, `{"requests":[
		{"method":"DELETE","url":"/api/collections/api_keys/records/`+hookstest.AliceKeyID+`"},
		{"method":"POST","url":"/api/collections/notes/records","body":{"owner":"`+hookstest.BobID+`","title":"refused"}}
	]}`)
	expectEvents(t, env.App, hookstest.AliceKeyID, []string{"disabled", "created"}, owner, "127.0.0.1")
}

// A leak report's revocation is leak_revoked, by the report (who sent it,
// from where), with where the key was found.
func TestEventsOfALeakReport(t *testing.T) {
	gh := newSigner(t, "events-github-key")
	env, _ := leakEnv(t, gh)
	key, record := issue(t, env, keystore.Options{Label: "leaky"})
	srv := env.Serve(t)
	body := report(key)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/api-keys/leaked", strings.NewReader(body))
	for k, v := range gh.sign(t, body) {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", eventsAgent)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("report: %v %v", res, err)
	}
	res.Body.Close()
	list := keyEvents(t, env.App, record.Id)
	if got := actions(list); !slices.Equal(got, []string{"leak_revoked", "created"}) {
		t.Fatalf("events %v", got)
	}
	leak := list[0]
	if leak.Actor != (events.Actor{Kind: events.KindLeakReport, ID: "GitHub secret scanning"}) || leak.IP != "127.0.0.1" || leak.UserAgent != eventsAgent {
		t.Errorf("leak_revoked by %+v from %q %q", leak.Actor, leak.IP, leak.UserAgent)
	}
	if want := `{"url":"https://github.com/octo/app/blob/5e1f/config/0.env","reportedBy":"GitHub secret scanning"}`; string(leak.Detail) != want {
		t.Errorf("detail %s, want %s", leak.Detail, want)
	}
}

// A key deleted with its owner was revoked by the system, and says why.
func TestEventsOfAKeyDeletedWithItsOwner(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	deleteRecord(t, env.App, "users", hookstest.AliceID)
	list := expectEvents(t, env.App, hookstest.AliceKeyID, []string{"revoked", "created"}, events.Actor{Kind: events.KindSystem}, "")
	if string(list[0].Detail) != `{"reason":"owner deleted"}` {
		t.Errorf("detail %s", list[0].Detail)
	}
}

// GET /api/api-keys/{id}/events: the owner with a session and superusers
// read a key's events, newest first, after it was revoked too; another
// user gets 404, like an id that does not exist, a guest 401, and any key
// 403 (also its own key's events).
func TestEventsEndpoint(t *testing.T) {
	env := hookstest.New(t, hookstest.ServiceAccounts)
	t.Cleanup(env.App.Cleanup)
	srv := env.Serve(t)
	alice := hookstest.JWT(t, env.App, hookstest.AliceID)
	records := "/api/collections/api_keys/records/"
	mustSend(t, 200, srv.URL, http.MethodPatch, records+hookstest.AliceKeyID, alice, `{"disabled":true}`)
	mustSend(t, 200, srv.URL, http.MethodPatch, records+hookstest.AliceKeyID, alice, `{"disabled":false}`)
	path := "/api/api-keys/" + hookstest.AliceKeyID + "/events"

	var page struct {
		Items []struct {
			ID, Key, Label, Action, IP, UserAgent, Created string
			Actor                                          struct{ Kind, ID string }
		}
	}
	body := mustSend(t, 200, srv.URL, http.MethodGet, path, alice, "")
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 3 || page.Items[0].Action != "enabled" || page.Items[1].Action != "disabled" || page.Items[2].Action != "created" {
		t.Fatalf("owner's answer: %s", body)
	}
	first := page.Items[0]
	if first.ID == "" || first.Key != hookstest.AliceKeyID || first.Label != hookstest.AliceKeyLabel ||
		first.Actor.Kind != "owner" || first.Actor.ID != hookstest.AliceID || first.IP != "127.0.0.1" ||
		first.UserAgent != eventsAgent || !strings.HasSuffix(first.Created, "Z") {
		t.Errorf("first item %+v", first)
	}
	if !strings.Contains(body, `"userAgent":`) || strings.Contains(body, "key_hash") {
		t.Errorf("answer shape: %s", body)
	}
	mustSend(t, 200, srv.URL, http.MethodGet, path, hookstest.SuperuserJWT(t, env.App), "")

	// a key of Alice's without events (made before they were kept): an
	// empty list, not 404
	_, fresh := issue(t, env, keystore.Options{Label: "fresh"})
	if _, err := env.App.NonconcurrentDB().NewQuery("DELETE FROM api_key_events WHERE key = {:k}").Bind(map[string]any{"k": fresh.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	if body := mustSend(t, 200, srv.URL, http.MethodGet, "/api/api-keys/"+fresh.Id+"/events", alice, ""); body != `{"items":[]}` {
		t.Errorf("a key without events: %s", body)
	}

	for _, c := range []struct {
		name, authorization string
		want                int
		content             string
	}{
		{"Bob", hookstest.JWT(t, env.App, hookstest.BobID), 404, `"status":404`},
		{"the deploy bot", hookstest.BotOwner.JWT(t, env.App), 404, `"status":404`},
		{"a guest", "", 401, `"status":401`},
		{"Alice's own key", "Bearer " + hookstest.AliceKey, 403, "API keys cannot"},
		{"Bob's key", "Bearer " + hookstest.BobKey, 403, "API keys cannot"},
		{"the bot's key", "Bearer " + hookstest.BotKey, 403, "API keys cannot"},
	} {
		if status, body := send(t, srv.URL, http.MethodGet, path, c.authorization, ""); status != c.want || !strings.Contains(body, c.content) {
			t.Errorf("%s: %d %s, want %d", c.name, status, body, c.want)
		}
	}
	if status, _ := send(t, srv.URL, http.MethodGet, "/api/api-keys/k9nosuchkey0000/events", alice, ""); status != 404 {
		t.Errorf("an unknown key: %d, want 404", status)
	}

	// revoked: the owner still reads its events, Bob still gets 404
	mustSend(t, 204, srv.URL, http.MethodDelete, records+hookstest.AliceKeyID, alice, "")
	if body := mustSend(t, 200, srv.URL, http.MethodGet, path, alice, ""); !strings.Contains(body, `"action":"revoked"`) {
		t.Errorf("after revoke: %s", body)
	}
	if status, _ := send(t, srv.URL, http.MethodGet, path, hookstest.JWT(t, env.App, hookstest.BobID), ""); status != 404 {
		t.Errorf("Bob after revoke: %d, want 404", status)
	}
}

// Events are kept Retention: Prune, the daily job's work, deletes older ones.
func TestEventsArePrunedAfter90Days(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	if _, err := env.Store.SetDisabled(env.Alice(t), hookstest.AliceKeyID, true, keystore.Origin{Actor: events.KindCLI}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if n, err := events.Prune(env.App, now.Add(events.Retention-time.Hour)); err != nil || n != 0 {
		t.Fatalf("pruned %d (%v) before 90 days", n, err)
	}
	if len(keyEvents(t, env.App, hookstest.AliceKeyID)) != 2 {
		t.Fatal("an event is gone before 90 days")
	}
	// the fixture keys' "created" (Alice's, Bob's) and Alice's "disabled"
	if n, err := events.Prune(env.App, now.Add(events.Retention+time.Hour)); err != nil || n != 3 {
		t.Fatalf("pruned %d (%v) after 90 days, want 3", n, err)
	}
	if list := keyEvents(t, env.App, hookstest.AliceKeyID); len(list) != 0 {
		t.Fatalf("%d events left", len(list))
	}
	// the daily prune and the reminders are PocketBase cron jobs
	jobs := map[string]string{}
	for _, j := range env.App.Cron().Jobs() {
		jobs[j.Id()] = j.Expression()
	}
	if jobs["pbkeysEventsRetention"] != "37 3 * * *" || jobs["pbkeysExpiryReminders"] != "*/5 * * * *" {
		t.Errorf("cron jobs %v", jobs)
	}
}
