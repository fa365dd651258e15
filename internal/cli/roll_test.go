package cli_test

import (
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/cli"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// rolledKey parses stdout of a roll: exactly one line, a key.
func rolledKey(t *testing.T, stdout string) apikey.Key {
	t.Helper()
	line, ok := strings.CutSuffix(stdout, "\n")
	if !ok || strings.Contains(line, "\n") {
		t.Fatalf("stdout = %q, want exactly one line", stdout)
	}
	key, err := apikey.Parse(line)
	if err != nil {
		t.Fatalf("stdout %q is not a key: %v", line, err)
	}
	return key
}

func TestRoll(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		grace time.Duration
	}{
		{"default grace is 24h", nil, 24 * time.Hour},
		{"now", []string{"--grace", "now"}, 0},
		{"1h", []string{"--grace", "1h"}, time.Hour},
		{"7d", []string{"--grace=7d"}, 7 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			// A scoped, limited key of Bob's: the CLI rolls any owner's key.
			old, _, err := env.Store.Issue(env.Record(t, "users", hookstest.BobID), keystore.Options{
				Label: "Sync", Permissions: permissions.Set{"notes": permissions.Read}, AllowedIPs: allowList("192.0.2.0/24"), RatePerMinute: 60,
				ExpiresAt: time.Now().Add(30 * 24 * time.Hour),
			}, keystore.Origin{})
			if err != nil {
				t.Fatal(err)
			}
			env.Store.WaitNotifications()
			before := time.Now()

			stdout, stderr, err := run(t, env, append([]string{"roll", old.Id}, tc.args...)...)
			if err != nil {
				t.Fatalf("roll: %v (stderr %q)", err, stderr)
			}
			key := rolledKey(t, stdout)
			created, err := env.Store.Find(key.ID)
			if err != nil {
				t.Fatalf("the new key's record: %v", err)
			}
			if ok, err := argon2id.ComparePasswordAndHash(key.Secret, created.GetString(keystore.FieldKeyHash)); err != nil || !ok {
				t.Errorf("the printed secret does not match the new key's hash (err %v)", err)
			}
			got, want := keystore.OptionsOf(created), keystore.OptionsOf(old)
			if created.GetString(keystore.FieldOwner) != hookstest.BobID || got.Label != want.Label || !maps.Equal(got.Permissions, want.Permissions) ||
				!slices.Equal(got.AllowedIPs, want.AllowedIPs) || got.AllowedIPs == nil || got.RatePerMinute != want.RatePerMinute {
				t.Errorf("new key %+v (owner %s), want Bob's and like %+v", got, created.GetString(keystore.FieldOwner), want)
			}

			// The old key now expires after the grace period.
			oldNow, err := env.Store.Find(old.Id)
			if err != nil {
				t.Fatal(err)
			}
			exp := oldNow.GetDateTime(keystore.FieldExpires).Time()
			if d := exp.Sub(before.Add(tc.grace)); d < -time.Second || d > 5*time.Second {
				t.Errorf("old key expires %v, want about %v", exp, before.Add(tc.grace))
			}

			for _, w := range []string{"Rolled " + old.Id + ` "Sync" of bob@example.com`, "the new key is " + created.Id,
				"Read notes · from 192.0.2.0/24; 60 requests/min", "shown only once", "The old key " + old.Id} {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			if tc.grace == 0 {
				if !strings.Contains(stderr, "has stopped working") {
					t.Errorf("stderr %q does not say the old key stopped working", stderr)
				}
			} else if !strings.Contains(stderr, "keeps working until "+exp.UTC().Format("2006-01-02 15:04")+" UTC") {
				t.Errorf("stderr %q does not say until when the old key works", stderr)
			}
			if strings.Contains(stderr, key.Secret) {
				t.Error("the secret was printed on stderr")
			}

			// Bob is told, from the CLI.
			if n := env.App.TestMailer.TotalSend(); n != 2 {
				t.Fatalf("%d emails sent, want 2 (issue, roll)", n)
			}
			msg := env.App.TestMailer.LastMessage()
			if msg.To[0].Address != hookstest.BobEmail || !strings.Contains(msg.Text, created.Id) || !strings.Contains(msg.Text, "CLI") {
				t.Errorf("email to %v:\n%s", msg.To, msg.Text)
			}
		})
	}
}

// The new key works; with --grace now, the old one stops at once.
func TestRolledKeyAuthenticates(t *testing.T) {
	env := newEnv(t)
	stdout, _, err := run(t, env, "roll", hookstest.AliceKeyID, "--grace", "now")
	if err != nil {
		t.Fatal(err)
	}
	srv := env.Serve(t)
	if got := status(t, srv.URL, strings.TrimSpace(stdout)); got != http.StatusOK {
		t.Errorf("new key: status %d, want 200", got)
	}
	if got := status(t, srv.URL, hookstest.AliceKey); got != http.StatusUnauthorized {
		t.Errorf("old key after --grace now: status %d, want 401", got)
	}
}

// A key is rolled once; then its replacement is rolled.
func TestRollTwice(t *testing.T) {
	env := newEnv(t)
	stdout, _, err := run(t, env, "roll", hookstest.AliceKeyID)
	if err != nil {
		t.Fatal(err)
	}
	next := rolledKey(t, stdout).ID

	stdout, _, err = run(t, env, "roll", hookstest.AliceKeyID)
	want := `The key k1alice00000001 "Alice CI" of alice@example.com was already rolled, so it was not rolled again: roll its replacement ` + next + " instead."
	if err == nil || err.Error() != want {
		t.Errorf("second roll: err %v, want %q", err, want)
	}
	if stdout != "" {
		t.Errorf("second roll: stdout %q, want nothing", stdout)
	}
	if ids := keysOf(t, env, hookstest.AliceID); len(ids) != 2 {
		t.Errorf("Alice has keys %v, want the fixture's and one replacement", ids)
	}

	if stdout, _, err := run(t, env, "roll", next); err != nil || rolledKey(t, stdout).ID == next {
		t.Errorf("rolling the replacement: %q, %v", stdout, err)
	}
}

func TestRollErrors(t *testing.T) {
	env := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"roll"}, `Name the key to roll by id (see "apikeys list").`},
		{[]string{"roll", hookstest.AliceKeyID, hookstest.BobKeyID}, "Roll one key at a time: pbkeys apikeys roll takes a single id, got 2."},
		{[]string{"roll", "nope00000000000"}, `No API key with the id "nope00000000000": nothing was rolled.`},
		{[]string{"roll", hookstest.AliceKeyID, "--grace", "2h"}, `--grace: "2h" is not a grace period: choose "now", "1h", "24h" or "7d".`},
		{[]string{"roll", hookstest.AliceKeyID, "--grace", ""}, `--grace: "" is not a grace period: choose "now", "1h", "24h" or "7d".`},
		{[]string{"roll", hookstest.AliceKeyID, "--user", hookstest.AliceEmail}, `Unknown flag: --user. Run "pbkeys apikeys roll --help" for usage.`},
	} {
		stdout, _, err := run(t, env, tc.args...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
		if stdout != "" {
			t.Errorf("%v: stdout = %q, want nothing", tc.args, stdout)
		}
	}
	if ids := keysOf(t, env, hookstest.AliceID); len(ids) != 1 {
		t.Errorf("Alice has keys %v, want only the fixture's", ids)
	}
	if r, _ := env.Store.Find(hookstest.AliceKeyID); !r.GetDateTime(keystore.FieldExpires).IsZero() || r.GetString(keystore.FieldReplacedBy) != "" {
		t.Error("the fixture key was rolled")
	}
}

// A new key that could not be printed is revoked and the roll undone: the
// old key keeps working as before, and can be rolled again.
func TestRollUnprintableKeyIsUndone(t *testing.T) {
	env := newEnv(t)
	cmd := cli.NewAPIKeysCommand(env.App, env.Store, newRevoker(t, env))
	cmd.SetOut(brokenPipe{})
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"roll", hookstest.AliceKeyID, "--grace", "now"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "could not be printed") || !strings.Contains(err.Error(), "the roll was undone") {
		t.Errorf("err = %v, want one saying the roll was undone", err)
	}
	env.Store.WaitNotifications()
	if ids := keysOf(t, env, hookstest.AliceID); !slices.Equal(ids, []string{hookstest.AliceKeyID}) {
		t.Errorf("Alice has keys %v, want only the fixture's", ids)
	}
	r, err := env.Store.Find(hookstest.AliceKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if !r.GetDateTime(keystore.FieldExpires).IsZero() || r.GetString(keystore.FieldReplacedBy) != "" {
		t.Errorf("old key: expires %q, replaced_by %q; want both restored to empty",
			r.GetString(keystore.FieldExpires), r.GetString(keystore.FieldReplacedBy))
	}
	srv := env.Serve(t)
	if got := status(t, srv.URL, hookstest.AliceKey); got != http.StatusOK {
		t.Errorf("old key after the undone roll: status %d, want 200", got)
	}
	if _, _, err := run(t, env, "roll", hookstest.AliceKeyID); err != nil {
		t.Errorf("rolling again after the undone roll: %v", err)
	}
}
