package hooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/logger"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
	"github.com/pbkeys/pbkeys/internal/verifier"
)

// A key's allowed_ips (docs/allowed-ips.md): a right secret sent from an
// address the list does not include gets 403, on every path, with the
// address as PocketBase reads it (e.RealIP(): the trusted proxy header set
// in the dashboard, else the connection's address).

// msgAddressRefused is the whole answer to a key used from elsewhere.
const msgAddressRefused = "This API key cannot be used from this address."

// scenarioIP is the connection address of tests.ApiScenario's requests
// (httptest.NewRequest's).
const scenarioIP = "192.0.2.1"

// allowList parses entries as REST would take them, failing t on a bad one.
func allowList(t testing.TB, entries ...string) addrlist.List {
	t.Helper()
	raw, _ := json.Marshal(entries)
	list, err := addrlist.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// from sends one request through h as a client whose connection comes from
// remoteAddr ("host:port"), with the Authorization value and extra headers.
func from(h http.Handler, method, path, authorization, remoteAddr string, header map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remoteAddr
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// expectAddressRefused checks a refusal: 403 in PocketBase's error shape,
// the one message, nothing of the allowed ranges or the key's owner.
func expectAddressRefused(t testing.TB, status int, body string, o hookstest.Owner, ranges []string) {
	t.Helper()
	var got struct {
		Status  int            `json:"status"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || status != 403 || got.Status != 403 ||
		got.Message != msgAddressRefused || got.Data == nil || len(got.Data) != 0 {
		t.Fatalf("got %d %s, want 403 {\"status\":403,\"message\":%q,\"data\":{}}", status, body, msgAddressRefused)
	}
	for _, s := range append([]string{o.ID, o.Email, o.KeySecret, o.NoteTitle}, ranges...) {
		if strings.Contains(body, s) {
			t.Fatalf("the refusal %s names %q", body, s)
		}
	}
}

// trustProxy sets the dashboard's Settings → Trusted proxy.
func trustProxy(t testing.TB, app core.App, headers []string, leftmost bool) {
	t.Helper()
	app.Settings().TrustedProxy.Headers = headers
	app.Settings().TrustedProxy.UseLeftmostIP = leftmost
	if err := app.Save(app.Settings()); err != nil {
		t.Fatal(err)
	}
}

// TestAllowedIPsDecideByTheRequestsAddress: ranges and single addresses,
// IPv4, IPv6 and IPv4-mapped IPv6 clients, and proxies: with
// X-Forwarded-For trusted in the settings the forwarded address decides
// (its rightmost address, or its leftmost with UseLeftmostIP); without, the
// header is ignored and the connection's address decides, so a client
// cannot claim an allowed address.
func TestAllowedIPsDecideByTheRequestsAddress(t *testing.T) {
	const (
		untrusted = iota
		rightmost
		leftmost
	)
	cases := []struct {
		name    string
		allowed []string // nil: any address
		remote  string   // the connection's address, host:port
		xff     string   // X-Forwarded-For as the request carries it
		proxy   int      // what the settings trust
		status  int
	}{
		{"no list: any address", nil, "198.51.100.7:40000", "", untrusted, 200},
		{"IPv4 range, inside", []string{"192.0.2.0/24"}, "192.0.2.1:40000", "", untrusted, 200},
		{"IPv4 range, outside", []string{"192.0.2.0/24"}, "198.51.100.7:40000", "", untrusted, 403},
		{"single IPv4 address, the same", []string{"192.0.2.1"}, "192.0.2.1:40000", "", untrusted, 200},
		{"single IPv4 address, its neighbour", []string{"192.0.2.1"}, "192.0.2.2:40000", "", untrusted, 403},
		{"one of several entries", []string{"2001:db8::/32", "10.0.0.0/8", "192.0.2.1"}, "10.9.8.7:40000", "", untrusted, 200},
		{"IPv6 range, inside", []string{"2001:db8::/32"}, "[2001:db8:1::5]:40000", "", untrusted, 200},
		{"IPv6 range, outside", []string{"2001:db8::/32"}, "[2001:db9::5]:40000", "", untrusted, 403},
		{"single IPv6 address", []string{"2001:db8::5"}, "[2001:db8::5]:40000", "", untrusted, 200},
		{"single IPv6 address, its neighbour", []string{"2001:db8::5"}, "[2001:db8::6]:40000", "", untrusted, 403},
		{"an IPv6 range never holds an IPv4 client", []string{"::/0"}, "192.0.2.1:40000", "", untrusted, 403},
		{"an IPv4 range never holds an IPv6 client", []string{"0.0.0.0/0"}, "[2001:db8::5]:40000", "", untrusted, 403},
		{"IPv4-mapped IPv6 client, IPv4 range", []string{"192.0.2.0/24"}, "[::ffff:192.0.2.1]:40000", "", untrusted, 200},
		{"IPv4-mapped IPv6 client, outside", []string{"198.51.100.0/24"}, "[::ffff:192.0.2.1]:40000", "", untrusted, 403},
		{"IPv4 client, IPv4-mapped range", []string{"::ffff:192.0.2.0/120"}, "192.0.2.1:40000", "", untrusted, 200},
		{"untrusted X-Forwarded-For is ignored: no spoofing in", []string{"10.0.0.0/8"}, "192.0.2.1:40000", "10.1.2.3", untrusted, 403},
		{"untrusted X-Forwarded-For is ignored: the connection decides", []string{"192.0.2.0/24"}, "192.0.2.1:40000", "10.1.2.3", untrusted, 200},
		{"trusted, rightmost: the proxy's entry decides", []string{"10.0.0.0/8"}, "192.0.2.1:40000", "203.0.113.7, 10.1.2.3", rightmost, 200},
		{"trusted, rightmost: the client's own entry does not", []string{"203.0.113.0/24"}, "192.0.2.1:40000", "203.0.113.7, 10.1.2.3", rightmost, 403},
		{"trusted: the proxy's connection no longer decides", []string{"192.0.2.0/24"}, "192.0.2.1:40000", "203.0.113.7, 10.1.2.3", rightmost, 403},
		{"trusted, leftmost: the first entry decides", []string{"203.0.113.0/24"}, "192.0.2.1:40000", "203.0.113.7, 10.1.2.3", leftmost, 200},
		{"trusted, leftmost: the last entry does not", []string{"10.0.0.0/8"}, "192.0.2.1:40000", "203.0.113.7, 10.1.2.3", leftmost, 403},
		{"trusted, IPv6 forwarded", []string{"2001:db8::/32"}, "192.0.2.1:40000", "2001:db8::5", rightmost, 200},
		{"trusted, IPv6 forwarded, outside", []string{"2001:db8::/32"}, "192.0.2.1:40000", "2001:db9::5", rightmost, 403},
		{"trusted, IPv4-mapped forwarded (a dual-stack proxy)", []string{"10.0.0.0/8"}, "192.0.2.1:40000", "::ffff:10.1.2.3", rightmost, 200},
		{"trusted, IPv4-mapped forwarded, outside", []string{"11.0.0.0/8"}, "192.0.2.1:40000", "::ffff:10.1.2.3", rightmost, 403},
		{"trusted but absent: the connection decides", []string{"192.0.2.0/24"}, "192.0.2.1:40000", "", rightmost, 200},
	}
	for _, o := range hookstest.Owners {
		t.Run(o.Kind, func(t *testing.T) {
			env := o.New(t)
			defer env.App.Cleanup()
			h := inProcessMux(t, env)
			for _, c := range cases {
				key, _ := issueFor(t, env, o, keystore.Options{AllowedIPs: allowList(t, c.allowed...)})
				if c.allowed == nil {
					key = o.Key
				}
				switch c.proxy {
				case untrusted:
					trustProxy(t, env.App, nil, false)
				case rightmost:
					trustProxy(t, env.App, []string{"X-Forwarded-For"}, false)
				case leftmost:
					trustProxy(t, env.App, []string{"X-Forwarded-For"}, true)
				}
				header := map[string]string{}
				if c.xff != "" {
					header["X-Forwarded-For"] = c.xff
				}
				rec := from(h, http.MethodGet, o.NoteURL(), "Bearer "+key, c.remote, header, "")
				if c.status == 403 {
					t.Run(c.name, func(t *testing.T) { expectAddressRefused(t, rec.Code, rec.Body.String(), o, c.allowed) })
					continue
				}
				if rec.Code != c.status || !strings.Contains(rec.Body.String(), o.NoteTitle) {
					t.Errorf("%s: %d %s, want %d with the note", c.name, rec.Code, rec.Body.String(), c.status)
				}
			}
		})
	}
}

// TestAllowedIPsOverARealConnection: the same over TCP, where PocketBase
// reads the address off the connection: IPv4 loopback and, where the
// machine has it, IPv6 loopback.
func TestAllowedIPsOverARealConnection(t *testing.T) {
	env := hookstest.New(t)
	defer env.App.Cleanup()
	srv4, srv6 := serveTwice(t, env)
	loopback4, _ := issue(t, env, keystore.Options{AllowedIPs: allowList(t, "127.0.0.0/8")})
	loopback6, _ := issue(t, env, keystore.Options{AllowedIPs: allowList(t, "::1")})
	elsewhere, _ := issue(t, env, keystore.Options{AllowedIPs: allowList(t, "10.0.0.0/8", "2001:db8::/32")})

	for _, c := range []struct {
		name, base, key string
		status          int
	}{
		{"IPv4 loopback, allowed", srv4, loopback4, 200},
		{"IPv4 loopback, the IPv6 loopback's key", srv4, loopback6, 403},
		{"IPv4 loopback, neither", srv4, elsewhere, 403},
		{"IPv6 loopback, allowed", srv6, loopback6, 200},
		{"IPv6 loopback, the IPv4 loopback's key", srv6, loopback4, 403},
		{"IPv6 loopback, neither", srv6, elsewhere, 403},
	} {
		if c.base == "" {
			t.Logf("%s: skipped, no IPv6 loopback here", c.name)
			continue
		}
		status, body := call(t, c.base, http.MethodGet, aliceNoteURL, "Bearer "+c.key, "")
		if c.status == 403 {
			expectAddressRefused(t, status, body, hookstest.AliceOwner, nil)
		} else if status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, status, body, c.status)
		}
	}
}

// serveTwice serves env's router on IPv4 loopback and, when the machine has
// one, on IPv6 loopback ("" when not): one app, two client addresses.
func serveTwice(t testing.TB, env *hookstest.Env) (base4, base6 string) {
	t.Helper()
	h := inProcessMux(t, env)
	srv4 := httptest.NewServer(h)
	t.Cleanup(srv4.Close)
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return srv4.URL, ""
	}
	srv6 := httptest.NewUnstartedServer(h)
	srv6.Listener.Close()
	srv6.Listener = l
	srv6.Start()
	t.Cleanup(srv6.Close)
	return srv4.URL, srv6.URL
}

// TestAddressRefusalPaths: every path a key's request takes is refused
// from outside its list, in PocketBase's error shape, before anything runs
// (no app event at all): records, the app's own routes, realtime connect and
// subscribe, file tokens, batch.
func TestAddressRefusalPaths(t *testing.T) {
	for _, o := range hookstest.Owners {
		paths := []struct {
			name, method, url, body string
		}{
			{"a record", http.MethodGet, o.NoteURL(), ""},
			{"a list", http.MethodGet, "/api/collections/notes/records", ""},
			{"a write", http.MethodPatch, o.NoteURL(), `{"title":"from outside"}`},
			{"the app's own route", http.MethodGet, whoamiPath, ""},
			{"realtime connect", http.MethodGet, "/api/realtime", ""},
			{"realtime subscribe", http.MethodPost, "/api/realtime", `{"clientId":"any","subscriptions":["notes/*"]}`},
			{"a file token", http.MethodPost, "/api/files/token", ""},
			{"a batch", http.MethodPost, "/api/batch", `{"requests":[
				{"method":"POST","url":"/api/collections/notes/records","body":{"` + o.NoteField + `":"` + o.ID + `","title":"batched"}},
				{"method":"PATCH","url":"` + o.NoteURL() + `","body":{"title":"renamed"}}]}`},
		}
		for _, p := range paths {
			env := o.New(t)
			bindWhoami(env.App)
			key, _ := issueFor(t, env, o, keystore.Options{AllowedIPs: allowList(t, "198.51.100.0/24", "2001:db8::/32")})
			env.Store.WaitNotifications() // the owner's "new key" mail, sent before the request
			notes, _ := env.App.CountRecords("notes")
			scenario(t, env, tests.ApiScenario{
				Name: o.Kind + ": " + p.name, Method: p.method, URL: p.url, Body: strings.NewReader(p.body),
				Headers:            bearer(key),
				BeforeTestFunc:     enableBatch,
				ExpectedStatus:     403,
				ExpectedContent:    []string{`"status":403`, `"message":"` + msgAddressRefused + `"`, `"data":{}`},
				NotExpectedContent: []string{"198.51.100", "2001:db8", o.ID, o.Email},
				ExpectedEvents:     map[string]int{"*": 0},
				Timeout:            5 * time.Second, // a realtime stream let through would never end
				AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
					if n, _ := app.CountRecords("notes"); n != notes {
						t.Fatalf("%d notes after a refused request, %d before", n, notes)
					}
					if note, _ := app.FindRecordById("notes", o.NoteID); note.GetString("title") != o.NoteTitle {
						t.Fatalf("the note changed: %q", note.GetString("title"))
					}
				},
			})
		}
		// the same paths from an allowed address work (the batch runs)
		env := o.New(t)
		key, _ := issueFor(t, env, o, keystore.Options{AllowedIPs: allowList(t, scenarioIP)})
		scenario(t, env, tests.ApiScenario{
			Name: o.Kind + ": a batch from the allowed address", Method: http.MethodPost, URL: "/api/batch",
			Headers: bearer(key), Body: strings.NewReader(paths[len(paths)-1].body),
			BeforeTestFunc: enableBatch,
			ExpectedStatus: 200, ExpectedContent: []string{`"title":"batched"`, `"title":"renamed"`},
		})
	}
}

// TestRealtimeFromOutsideTheList: a key's realtime stream needs the list
// to include the stream's address: connect and subscribe are refused from
// elsewhere, and a stream open when the list changes to leave its address
// out ends, changed here (REST) or by another process (within the
// sweeper's second).
func TestRealtimeFromOutsideTheList(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind+": connect and subscribe", func(t *testing.T) {
			env := o.New(t)
			defer env.App.Cleanup()
			srv := env.Serve(t) // the client is 127.0.0.1
			key, _ := issueFor(t, env, o, keystore.Options{AllowedIPs: allowList(t, "10.0.0.0/8")})

			status, body := call(t, srv.URL, http.MethodGet, "/api/realtime", "Bearer "+key, "")
			expectAddressRefused(t, status, body, o, []string{"10.0.0.0"})

			c := connectRealtime(t, srv.URL) // a guest's connection
			if res := c.subscribe(t, "Bearer "+key, o.Collection+"/*", "notes/*"); res.StatusCode != 403 {
				t.Fatalf("subscribe from outside the list: %d, want 403", res.StatusCode)
			}
			saveNoteOf(t, env.App, o, "sent to no one")
			c.expectNoEvent(t, 300*time.Millisecond)
		})
	}
	for _, elsewhere := range []bool{false, true} {
		name := "changed over REST"
		if elsewhere {
			name = "changed by another process"
		}
		t.Run(name, func(t *testing.T) {
			env := hookstest.New(t)
			defer env.App.Cleanup()
			srv := env.Serve(t)
			key, record := issue(t, env, keystore.Options{AllowedIPs: allowList(t, "127.0.0.0/8")})
			c := connectRealtime(t, srv.URL)
			if res := c.subscribe(t, "Bearer "+key, "notes/*"); res.StatusCode != http.StatusNoContent {
				t.Fatalf("subscribe from inside the list: %d", res.StatusCode)
			}
			saveNote(t, env.App, hookstest.AliceID, "before the change")
			if ev := c.next(t, 5*time.Second); !strings.Contains(ev.Data, "before the change") {
				t.Fatalf("event before the change: %s %s", ev.Name, ev.Data)
			}
			if elsewhere {
				setField(t, env.AnotherProcess(t).App, record.Id, keystore.FieldAllowedIPs, []string{"10.0.0.0/8"})
			} else if status, body := call(t, srv.URL, http.MethodPatch, keysURL+"/"+record.Id, hookstest.JWT(t, env.App, hookstest.AliceID),
				`{"allowed_ips":["10.0.0.0/8"]}`); status != 200 {
				t.Fatalf("PATCH allowed_ips: %d %s", status, body)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				if time.Now().After(deadline) {
					t.Fatal("the stream is still open 5 s after its address left the list")
				}
				saveNote(t, env.App, hookstest.AliceID, "after the change")
				ev := c.next(t, 5*time.Second)
				if ev.Name == "closed" {
					break
				}
				if !elsewhere && strings.Contains(ev.Data, "after the change") {
					t.Fatal("an event was sent after the change made here")
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// TestFileTokenDownloadsFromTheList: a file token a key minted is refused
// when the download comes from an address the key's list does not include,
// at download time: minted inside the list, downloaded from outside.
func TestFileTokenDownloadsFromTheList(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind, func(t *testing.T) {
			env := o.New(t)
			defer env.App.Cleanup()
			h := inProcessMux(t, env)
			file := attachFile(t, env.App, hookstest.NotesCollection, o.NoteID, "attachment", "the attachment")
			key, record := issueFor(t, env, o, keystore.Options{AllowedIPs: allowList(t, "192.0.2.0/24")})

			rec := from(h, http.MethodPost, "/api/files/token", "Bearer "+key, "192.0.2.1:40000", nil, "")
			var minted struct{ Token string }
			if err := json.Unmarshal(rec.Body.Bytes(), &minted); rec.Code != 200 || err != nil || minted.Token == "" {
				t.Fatalf("file token: %d %s", rec.Code, rec.Body.String())
			}
			if rec := from(h, http.MethodGet, file+"?token="+minted.Token, "", "192.0.2.77:40000", nil, ""); rec.Code != 200 || rec.Body.String() != "the attachment" {
				t.Fatalf("download inside the list: %d %s", rec.Code, rec.Body.String())
			}
			rec = from(h, http.MethodGet, file+"?token="+minted.Token, "", "198.51.100.7:40000", nil, "")
			expectAddressRefused(t, rec.Code, rec.Body.String(), o, []string{"192.0.2"})

			// the list at download time decides: narrowed after minting
			setField(t, env.App, record.Id, keystore.FieldAllowedIPs, []string{"192.0.2.1"})
			rec = from(h, http.MethodGet, file+"?token="+minted.Token, "", "192.0.2.77:40000", nil, "")
			expectAddressRefused(t, rec.Code, rec.Body.String(), o, []string{"192.0.2"})
		})
	}
}

// TestAllowedIPsChangeAppliesToTheNextRequest: a PATCH of allowed_ips over
// REST applies to the very next request, although the key's row is kept in
// memory between requests (keystore's lookup).
func TestAllowedIPsChangeAppliesToTheNextRequest(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind, func(t *testing.T) {
			env := o.New(t)
			defer env.App.Cleanup()
			h := inProcessMux(t, env)
			// a user manages their own keys; a service account's are a superuser's
			manager := hookstest.SuperuserJWT(t, env.App)
			if o.Collection == "users" {
				manager = o.JWT(t, env.App)
			}
			get := func() *httptest.ResponseRecorder {
				return from(h, http.MethodGet, o.NoteURL(), "Bearer "+o.Key, "192.0.2.1:40000", nil, "")
			}
			patch := func(body, want string) {
				t.Helper()
				rec := from(h, http.MethodPatch, keysURL+"/"+o.KeyID, manager, "203.0.113.9:40000", nil, body)
				if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
					t.Fatalf("PATCH %s: %d %s", body, rec.Code, rec.Body.String())
				}
			}
			for range 3 { // fill the lookup's memory
				expectStatus(t, get(), 200, "before any list")
			}
			patch(`{"allowed_ips":["198.51.100.0/24"]}`, `"allowed_ips":["198.51.100.0/24"]`)
			rec := get()
			expectAddressRefused(t, rec.Code, rec.Body.String(), o, []string{"198.51.100"})
			patch(`{"allowed_ips":["198.51.100.0/24","192.0.2.1"]}`, `"allowed_ips":["198.51.100.0/24","192.0.2.1"]`)
			expectStatus(t, get(), 200, "after the address was added")
			patch(`{"allowed_ips":["2001:db8::/32"]}`, `"allowed_ips":["2001:db8::/32"]`)
			rec = get()
			expectAddressRefused(t, rec.Code, rec.Body.String(), o, []string{"2001:db8"})
			patch(`{"allowed_ips":null}`, `"allowed_ips":null`)
			expectStatus(t, get(), 200, "after the list was removed")
			for _, anywhere := range []string{`[]`, `""`} { // as null
				patch(`{"allowed_ips":["2001:db8::/32"]}`, `"allowed_ips":["2001:db8::/32"]`)
				expectStatus(t, from(h, http.MethodGet, o.NoteURL(), "Bearer "+o.Key, "192.0.2.1:40000", nil, ""), 403, "before "+anywhere)
				patch(`{"allowed_ips":`+anywhere+`}`, `"allowed_ips":`+anywhere)
				expectStatus(t, get(), 200, "after the list was set to "+anywhere)
			}

			// a bad list is refused and changes nothing
			rec = from(h, http.MethodPatch, keysURL+"/"+o.KeyID, manager, "203.0.113.9:40000", nil, `{"allowed_ips":["10.0.0.1/8"]}`)
			if body := rec.Body.String(); rec.Code != 400 || !strings.Contains(body, `"code":"validation_allowed_ips"`) ||
				!strings.Contains(body, `"message":"\"10.0.0.1/8\" has bits set after its /8; did you mean 10.0.0.0/8?"`) {
				t.Fatalf("PATCH a range with host bits: %d %s", rec.Code, rec.Body.String())
			}
			expectStatus(t, get(), 200, "after a refused PATCH")
		})
	}
}

// TestAddressRefusalIsNotAFailedSecret: a right secret from outside the
// list is 403 and never counts against the failure limits (a correct
// secret is never refused because of someone else), and it is not the
// key's use: no last_used, no count. A wrong secret from the same address
// is 401 and counted, as before the list existed. The refusal is logged as
// a warning with the key id and the address, never the secret.
func TestAddressRefusalIsNotAFailedSecret(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind, func(t *testing.T) {
			env := o.New(t, func(c *hooks.Config) {
				c.Tuning.Verifier = verifier.Config{MaxKeyFailures: 2, RefusalDelay: -1}
				c.Tuning.Usage = usage.Config{FlushInterval: time.Hour} // written on terminate only
			})
			defer env.App.Cleanup()
			env.App.Settings().Logs.MaxDays = 7 // test apps keep no logs by default
			if err := env.App.Save(env.App.Settings()); err != nil {
				t.Fatal(err)
			}
			setField(t, env.App, o.KeyID, keystore.FieldAllowedIPs, []string{"192.0.2.0/24"})
			h := inProcessMux(t, env)
			const outside = "198.51.100.7"
			wrong := o.KeyID + "." + hookstest.BobKeySecret
			if o.KeySecret == hookstest.BobKeySecret {
				t.Fatal("the wrong secret is the key's")
			}

			for range 5 { // more than MaxKeyFailures
				rec := getAs(h, o.NoteURL(), "Bearer "+o.Key, outside)
				expectAddressRefused(t, rec.Code, rec.Body.String(), o, []string{"192.0.2"})
			}
			// none of them counted: the first two wrong secrets are 401, the third 429
			for i, want := range []int{401, 401, 429} {
				rec := getAs(h, o.NoteURL(), "Bearer "+wrong, outside)
				expectStatus(t, rec, want, "wrong secret from outside the list")
				if want == 401 && !strings.Contains(rec.Body.String(), "The API key is invalid or has been revoked.") {
					t.Fatalf("wrong secret %d: %s", i+1, rec.Body.String())
				}
			}
			// the holder, inside the list, is never refused for them
			expectStatus(t, getAs(h, o.NoteURL(), "Bearer "+o.Key, ownerIP), 200, "the right secret inside the list")
			rec := getAs(h, o.NoteURL(), "Bearer "+o.Key, outside)
			expectAddressRefused(t, rec.Code, rec.Body.String(), o, []string{"192.0.2"})

			// usage: one request, from inside
			if err := env.App.OnTerminate().Trigger(&core.TerminateEvent{App: env.App}); err != nil {
				t.Fatal(err)
			}
			key := mustFind(t, env.App, o.KeyID)
			if ip := key.GetString("last_used_ip"); ip != ownerIP {
				t.Fatalf("last_used_ip = %q, want %s (the refused requests are not uses)", ip, ownerIP)
			}
			daily, err := usage.Daily(env.App, []string{o.KeyID}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if total := usage.Total(daily[o.KeyID]); total != 1 {
				t.Fatalf("%d requests counted, want 1", total)
			}

			// the log: a warning per refusal, naming the key and the address
			handler, ok := env.App.Logger().Handler().(*logger.BatchHandler)
			if !ok {
				t.Fatalf("unexpected log handler %T", env.App.Logger().Handler())
			}
			if err := handler.WriteAll(context.WithValue(context.Background(), logger.BlockKey, true)); err != nil {
				t.Fatal(err)
			}
			var logs []*core.Log
			if err := env.App.LogQuery().All(&logs); err != nil {
				t.Fatal(err)
			}
			refusals := 0
			for _, l := range logs {
				raw, _ := json.Marshal(l)
				if strings.Contains(string(raw), o.KeySecret) {
					t.Fatalf("a log entry has the secret: %s", raw)
				}
				if strings.HasPrefix(l.Message, "API key refused: used from an address") {
					refusals++
					if l.Level != 4 || l.Data["keyId"] != o.KeyID || l.Data["ip"] != outside { // 4: slog.LevelWarn
						t.Fatalf("refusal log: %s", raw)
					}
				}
			}
			if refusals != 6 {
				t.Fatalf("%d refusals logged, want 6", refusals)
			}
		})
	}
}

// TestUnreadableAllowListAllowsNoAddress: a stored list the record rules
// would refuse (only a hand-edited database has one) allows no address,
// rolling the key does not turn it into "any address" (the old record
// fails validation), and the empty list it reads as is never stored as [],
// which would read as any address.
func TestUnreadableAllowListAllowsNoAddress(t *testing.T) {
	env := hookstest.New(t)
	defer env.App.Cleanup()
	h := inProcessMux(t, env)
	if _, err := env.App.NonconcurrentDB().Update(keystore.Collection,
		dbx.Params{keystore.FieldAllowedIPs: `["192.0.2.1/8"]`}, dbx.HashExp{"id": hookstest.AliceKeyID}).Execute(); err != nil {
		t.Fatal(err)
	}
	rec := getAs(h, aliceNoteURL, "Bearer "+hookstest.AliceKey, ownerIP)
	expectAddressRefused(t, rec.Code, rec.Body.String(), hookstest.AliceOwner, []string{"192.0.2"})

	jwt := hookstest.JWT(t, env.App, hookstest.AliceID)
	rec = from(h, http.MethodPost, "/api/api-keys/"+hookstest.AliceKeyID+"/roll", jwt, ownerIP+":40000", nil, `{"grace":"now"}`)
	if body := rec.Body.String(); rec.Code != 400 || !strings.Contains(body, `"code":"validation_allowed_ips"`) || strings.Contains(body, `"key":"`) {
		t.Fatalf("roll: %d %s, want 400 on allowed_ips and no new key", rec.Code, body)
	}
	if n, _ := env.App.CountRecords(keystore.Collection); n != 2 {
		t.Fatalf("%d keys after a refused roll, want the fixture's 2", n)
	}

	_, _, err := env.Store.Issue(env.Alice(t), keystore.Options{Label: "nowhere", AllowedIPs: addrlist.List{}}, keystore.Origin{Via: "test"})
	var verrs validation.Errors
	if !errors.As(err, &verrs) || verrs[keystore.FieldAllowedIPs] == nil {
		t.Fatalf("Issue with an empty non-nil list: %v, want a validation error on allowed_ips", err)
	}
}
