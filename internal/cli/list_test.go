package cli_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
	"github.com/pbkeys/pbkeys/internal/usage"
)

// listFixture adds to the fixture (Alice's and Bob's unrestricted keys) a
// restricted key, an expired one, a disabled one and a used one, and
// returns their ids.
func listFixture(t *testing.T, env *hookstest.Env) (scoped, expired, disabled string) {
	t.Helper()
	rec, _, err := env.Store.Issue(env.Record(t, "users", hookstest.AliceID), keystore.Options{
		Label: "Dashboard", ExpiresAt: time.Now().Add(3*24*time.Hour + time.Hour),
		Permissions: permissions.Set{"notes": permissions.Read}, AllowedIPs: allowList("10.0.0.0/8", "2001:db8::1"), RatePerMinute: 600,
	}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	scoped = rec.Id

	rec, _, err = env.Store.Issue(env.Record(t, "users", hookstest.BobID), keystore.Options{Label: "Old script", ExpiresAt: time.Now().Add(time.Hour)}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	expired = rec.Id
	// Expire it behind the validation (which refuses past expiries).
	past := time.Now().Add(-time.Hour).UTC().Format(types.DefaultDateLayout)
	if _, err := env.App.NonconcurrentDB().Update(keystore.Collection, dbx.Params{keystore.FieldExpires: past}, dbx.HashExp{"id": expired}).Execute(); err != nil {
		t.Fatal(err)
	}

	rec, _, err = env.Store.Issue(env.Record(t, "users", hookstest.BobID), keystore.Options{Label: "Paused"}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	disabled = rec.Id
	if _, err := env.Store.SetDisabled(env.Record(t, "users", hookstest.BobID), disabled, true); err != nil {
		t.Fatal(err)
	}

	used := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := usage.Write(env.App, []usage.KeyUsage{{KeyID: hookstest.AliceKeyID, LastUsed: used, IP: "203.0.113.9", UserAgent: "curl/8.5.0"}}); err != nil {
		t.Fatal(err)
	}
	env.Store.WaitNotifications()
	return scoped, expired, disabled
}

// hashes returns every stored key hash, which no output may contain.
func hashes(t *testing.T, env *hookstest.Env) []string {
	t.Helper()
	var out []string
	err := env.App.DB().Select(keystore.FieldKeyHash).From(keystore.Collection).Column(&out)
	if err != nil || len(out) == 0 {
		t.Fatalf("hashes: %v %v", out, err)
	}
	return out
}

func assertNoSecrets(t *testing.T, env *hookstest.Env, output string) {
	t.Helper()
	for _, h := range hashes(t, env) {
		if strings.Contains(output, h) {
			t.Errorf("a key hash appears in the output")
		}
	}
	for _, s := range []string{"$argon2id", hookstest.AliceKeySecret, hookstest.BobKeySecret, keystore.FieldKeyHash} {
		if strings.Contains(output, s) {
			t.Errorf("the output contains %q", s)
		}
	}
}

func TestListTable(t *testing.T) {
	env := newEnv(t)
	scoped, expired, disabled := listFixture(t, env)

	stdout, stderr, err := run(t, env, "list")
	if err != nil {
		t.Fatal(err)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	assertNoSecrets(t, env, stdout)

	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want a header and 5 keys:\n%s", len(lines), stdout)
	}
	header := strings.Fields(lines[0])
	if want := []string{"ID", "OWNER", "COLLECTION", "LABEL", "SCOPE", "RATE", "CREATED", "LAST", "USED", "EXPIRES", "STATE"}; !slices.Equal(header, want) {
		t.Errorf("header = %v, want %v", header, want)
	}
	// Columns are aligned: every row's owner starts where the header's does.
	col := strings.Index(lines[0], "OWNER")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], hookstest.AliceEmail) && !strings.HasPrefix(l[col:], hookstest.BobEmail) {
			t.Errorf("row not aligned under OWNER: %q", l)
		}
	}

	row := func(id string) string {
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, id+" ") {
				return l
			}
		}
		t.Fatalf("no row for %s in\n%s", id, stdout)
		return ""
	}
	for id, want := range map[string][]string{
		hookstest.AliceKeyID: {hookstest.AliceEmail, "users", hookstest.AliceKeyLabel, "Full access", "No limit", "2026-03-04 05:06", "never", "Active"},
		hookstest.BobKeyID:   {hookstest.BobEmail, hookstest.BobKeyLabel, "Full access", "never", "Active"},
		scoped:               {hookstest.AliceEmail, "Dashboard", "Read notes · from 10.0.0.0/8, 2001:db8::1", "600/min", "Expires in 3 days"},
		expired:              {hookstest.BobEmail, "Old script", "Expired"},
		disabled:             {hookstest.BobEmail, "Paused", "Disabled"},
	} {
		r := row(id)
		for _, w := range want {
			if !strings.Contains(r, w) {
				t.Errorf("row %q does not show %q", r, w)
			}
		}
	}
	// Bob's fixture key was never used and never expires: both say so.
	if r := row(hookstest.BobKeyID); strings.Count(r, "never") != 2 {
		t.Errorf("row %q: want \"never\" for last used and expires", r)
	}
}

func TestListJSON(t *testing.T) {
	env := newEnv(t)
	scoped, expired, disabled := listFixture(t, env)

	stdout, _, err := run(t, env, "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, env, stdout)

	var raw []map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, stdout)
	}
	if len(raw) != 5 {
		t.Fatalf("%d keys, want 5", len(raw))
	}
	fields := []string{"id", "user", "owner_email", "owner_collection", "label", "scope", "permissions", "allowed_ips", "rate_limit",
		"disabled", "state", "state_text", "created", "last_used", "last_used_ip", "last_used_user_agent", "expires"}
	for _, k := range raw {
		var got []string
		for f := range k {
			got = append(got, f)
		}
		slices.Sort(got)
		want := slices.Clone(fields)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("fields %v, want %v", got, want)
		}
	}

	type key struct {
		ID              string            `json:"id"`
		User            string            `json:"user"`
		OwnerEmail      string            `json:"owner_email"`
		OwnerCollection string            `json:"owner_collection"`
		LastUsedIP      *string           `json:"last_used_ip"`
		LastUsedUA      *string           `json:"last_used_user_agent"`
		Label           string            `json:"label"`
		Scope           string            `json:"scope"`
		Permissions     map[string]string `json:"permissions"`
		AllowedIPs      []string          `json:"allowed_ips"`
		RateLimit       int               `json:"rate_limit"`
		Disabled        bool              `json:"disabled"`
		State           string            `json:"state"`
		StateText       string            `json:"state_text"`
		Created         string            `json:"created"`
		LastUsed        *string           `json:"last_used"`
		Expires         *string           `json:"expires"`
	}
	var keys []key
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
		t.Fatal(err)
	}
	byID := map[string]key{}
	for i, k := range keys {
		byID[k.ID] = k
		if i > 0 && k.Created > keys[i-1].Created {
			t.Errorf("not newest first: %s after %s", k.Created, keys[i-1].Created)
		}
		if _, err := time.Parse(time.RFC3339, k.Created); err != nil {
			t.Errorf("created %q is not RFC 3339", k.Created)
		}
	}

	a := byID[hookstest.AliceKeyID]
	if a.User != hookstest.AliceID || a.OwnerEmail != hookstest.AliceEmail || a.Label != hookstest.AliceKeyLabel ||
		a.Scope != "Full access" || a.Permissions != nil || a.AllowedIPs != nil ||
		a.RateLimit != 0 || a.Disabled || a.State != "active" || a.StateText != "Active" || a.Expires != nil ||
		a.LastUsed == nil || *a.LastUsed != "2026-03-04T05:06:07Z" || a.OwnerCollection != "users" ||
		a.LastUsedIP == nil || *a.LastUsedIP != "203.0.113.9" || a.LastUsedUA == nil || *a.LastUsedUA != "curl/8.5.0" {
		t.Errorf("Alice's fixture key: %+v", a)
	}
	if b := byID[hookstest.BobKeyID]; b.LastUsed != nil || b.LastUsedIP != nil || b.LastUsedUA != nil {
		t.Errorf("Bob's key: last_used %v from %v with %v, want null for a key never used", b.LastUsed, b.LastUsedIP, b.LastUsedUA)
	}
	s := byID[scoped]
	if s.Scope != "Read notes · from 10.0.0.0/8, 2001:db8::1" || !maps.Equal(s.Permissions, map[string]string{"notes": "read"}) ||
		!slices.Equal(s.AllowedIPs, []string{"10.0.0.0/8", "2001:db8::1"}) ||
		s.RateLimit != 600 || s.State != "expiring" || s.StateText != "Expires in 3 days" || s.Expires == nil {
		t.Errorf("scoped key: %+v", s)
	}
	if e := byID[expired]; e.State != "expired" || e.StateText != "Expired" || e.OwnerEmail != hookstest.BobEmail {
		t.Errorf("expired key: %+v", e)
	}
	if d := byID[disabled]; d.State != "disabled" || !d.Disabled {
		t.Errorf("disabled key: %+v", d)
	}
}

func TestListByUser(t *testing.T) {
	env := newEnv(t)
	scoped, _, _ := listFixture(t, env)

	for _, user := range []string{hookstest.AliceEmail, hookstest.AliceID} {
		stdout, _, err := run(t, env, "list", "--user", user, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var keys []struct{ ID, User string }
		if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range keys {
			ids = append(ids, k.ID)
		}
		if want := []string{scoped, hookstest.AliceKeyID}; !slices.Equal(ids, want) {
			t.Errorf("--user %s: keys %v, want %v (newest first)", user, ids, want)
		}
	}

	// No keys: a sentence for people, an empty array for scripts.
	if _, err := env.Store.RevokeAll(env.Record(t, "users", hookstest.BobID)); err != nil {
		t.Fatal(err)
	}
	if stdout, _, err := run(t, env, "list", "--user", hookstest.BobEmail); err != nil || stdout != "bob@example.com has no API keys.\n" {
		t.Errorf("empty table: %q, %v", stdout, err)
	}
	if stdout, _, err := run(t, env, "list", "--user", hookstest.BobEmail, "--json"); err != nil || stdout != "[]\n" {
		t.Errorf("empty JSON: %q, %v", stdout, err)
	}

	for _, args := range [][]string{
		{"list", "--user", "carol@example.com"},
		{"list", "--user", "nobody"},
		{"list", "--user", ""},
		{"list", "extra"},
	} {
		stdout, _, err := run(t, env, args...)
		if err == nil || stdout != "" {
			t.Errorf("%v: stdout %q, err %v; want an error and no output", args, stdout, err)
		}
	}
}

func TestListEmpty(t *testing.T) {
	env := newEnv(t)
	for _, id := range []string{hookstest.AliceID, hookstest.BobID} {
		if _, err := env.Store.RevokeAll(env.Record(t, "users", id)); err != nil {
			t.Fatal(err)
		}
	}
	if stdout, _, err := run(t, env, "list"); err != nil || stdout != "No API keys.\n" {
		t.Errorf("list: %q, %v", stdout, err)
	}
}
