package cli_test

import (
	"encoding/json"
	"os/user"
	"regexp"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// osUser is who the CLI says ran it.
func osUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// Everything done with the CLI is the CLI's, by the operating system user,
// from "local" with the CLI's user agent: create, disable, enable, roll,
// revoke, and revoking a leaked key (leak_revoked).
func TestEventsOfTheCLI(t *testing.T) {
	env := newEnv(t)
	if _, stderr, err := run(t, env, "create", "--user", hookstest.AliceEmail, "--label", "From CLI"); err != nil {
		t.Fatalf("create: %v %s", err, stderr)
	}
	keys := keysOf(t, env, hookstest.AliceID)
	var id string
	for _, k := range keys {
		if k != hookstest.AliceKeyID {
			id = k
		}
	}
	for _, args := range [][]string{{"disable", id}, {"enable", id}, {"roll", id, "--grace", "1h"}} {
		if _, stderr, err := run(t, env, args...); err != nil {
			t.Fatalf("%v: %v %s", args, err, stderr)
		}
	}
	old, err := env.Store.Find(id)
	if err != nil {
		t.Fatal(err)
	}
	newID := old.GetString(keystore.FieldReplacedBy)
	if _, stderr, err := run(t, env, "revoke", newID); err != nil {
		t.Fatalf("revoke: %v %s", err, stderr)
	}
	leaked, leakedID := issueKey(t, env, hookstest.BobID, "leaked")
	if _, stderr, err := run(t, env, "leaked", writeFile(t, leaked+"\n"), "--url", "https://ci.example.com/1"); err != nil {
		t.Fatalf("leaked: %v %s", err, stderr)
	}

	cli := events.Actor{Kind: events.KindCLI, ID: osUser(t)}
	for key, want := range map[string][]string{
		id:       {"rolled", "enabled", "disabled", "created"},
		newID:    {"revoked", "created"},
		leakedID: {"leak_revoked"},
	} {
		list, err := events.List(env.App, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range list {
			if e.Action == "created" && key == leakedID {
				continue // issued by the test, not the CLI
			}
			got = append(got, e.Action)
			if e.Actor != cli || e.IP != "local" || !strings.HasPrefix(e.UserAgent, "pbkeys CLI") {
				t.Errorf("%s of %s by %+v from %q %q", e.Action, key, e.Actor, e.IP, e.UserAgent)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("events of %s: %v, want %v", key, got, want)
		}
	}
}

// "events ID" prints a key's events newest first, one a line, with who,
// from where and what changed; --json prints what the REST API answers.
func TestEventsCommand(t *testing.T) {
	env := newEnv(t)
	alice := env.Alice(t)
	by := keystore.Origin{IP: "203.0.113.9", UserAgent: "deploy.sh/2.0", Actor: events.KindOwner, ActorID: hookstest.AliceID}
	if _, err := env.Store.SetDisabled(alice, hookstest.AliceKeyID, true, by); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, env, "enable", hookstest.AliceKeyID); err != nil {
		t.Fatal(err)
	}
	key, err := env.Store.Find(hookstest.AliceKeyID)
	if err != nil {
		t.Fatal(err)
	}
	key.Set(keystore.FieldPermissions, map[string]string{"notes": "read"})
	key.SetRaw(keystore.OriginKey, []keystore.Origin{by})
	if err := env.App.Save(key); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := run(t, env, "events", hookstest.AliceKeyID)
	if err != nil || stderr != "" {
		t.Fatalf("events: %v %q", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 6 {
		t.Fatalf("want a title, a header and 4 events:\n%s", stdout)
	}
	if want := hookstest.AliceKeyID + ` "Alice CI" of alice@example.com: 4 events (UTC, newest first).`; lines[0] != want {
		t.Errorf("title %q, want %q", lines[0], want)
	}
	columns := regexp.MustCompile(`\s{2,}`)
	if got := columns.Split(lines[1], -1); strings.Join(got, "|") != "TIME|ACTION|BY|IP|USER AGENT|DETAIL" {
		t.Errorf("header %q", lines[1])
	}
	for i, want := range [][]string{
		{"permissions_changed", "Owner " + hookstest.AliceID, "203.0.113.9", "deploy.sh/2.0", "permissions: full access → read notes"},
		{"enabled", "CLI (" + osUser(t) + ")", "local", "pbkeys CLI"},
		{"disabled", "Owner " + hookstest.AliceID, "203.0.113.9", "deploy.sh/2.0", "-"},
		{"created", "System", "-", "-", "-"},
	} {
		line := lines[2+i]
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  `).MatchString(line) {
			t.Errorf("line %q does not start with the time", line)
		}
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("line %q lacks %q", line, w)
			}
		}
	}

	stdout, _, err = run(t, env, "events", hookstest.AliceKeyID, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var page events.Page
	if err := json.Unmarshal([]byte(stdout), &page); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	want, err := events.List(env.App, hookstest.AliceKeyID, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(page)
	b, _ := json.Marshal(events.Page{Items: want})
	if string(a) != string(b) {
		t.Errorf("--json:\n%s\nwant:\n%s", a, b)
	}
	for _, field := range []string{`"items": [`, `"action": "permissions_changed"`, `"actor": {`, `"kind": "owner"`, `"userAgent": "deploy.sh/2.0"`, `"detail": {`} {
		if !strings.Contains(stdout, field) {
			t.Errorf("--json lacks %s:\n%s", field, stdout)
		}
	}

	// a revoked key's events are still there; a key that never was is an error
	if _, _, err := run(t, env, "revoke", hookstest.AliceKeyID); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = run(t, env, "events", hookstest.AliceKeyID)
	if err != nil || !strings.Contains(stdout, `"Alice CI", revoked: 5 events`) || !strings.Contains(stdout, "revoked  ") {
		t.Errorf("a revoked key's events: %v\n%s", err, stdout)
	}
	if _, _, err := run(t, env, "events", "k9nosuchkey0000"); err == nil || !strings.Contains(err.Error(), `No API key with the id "k9nosuchkey0000"`) {
		t.Errorf("an unknown key: %v", err)
	}
	if _, _, err := run(t, env, "events"); err == nil || !strings.Contains(err.Error(), "Name the key by id") {
		t.Errorf("no id: %v", err)
	}
}
