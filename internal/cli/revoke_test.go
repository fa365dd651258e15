package cli_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// issue gives ownerID a new key labelled label and returns its id.
func issue(t *testing.T, env *hookstest.Env, ownerID, label string) string {
	t.Helper()
	rec, _, err := env.Store.Issue(env.Record(t, "users", ownerID), keystore.Options{Label: label}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	return rec.Id
}

func TestRevokeByID(t *testing.T) {
	env := newEnv(t)
	second := issue(t, env, hookstest.AliceID, "Second")

	stdout, _, err := run(t, env, "revoke", hookstest.AliceKeyID, hookstest.BobKeyID, hookstest.AliceKeyID)
	if err != nil {
		t.Fatal(err)
	}
	want := `Revoked k1alice00000001 "Alice CI" of alice@example.com.` + "\n" +
		`Revoked k2bob0000000001 "Bob laptop" of bob@example.com.` + "\n"
	if stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	if ids := keysOf(t, env, hookstest.AliceID); !slices.Equal(ids, []string{second}) {
		t.Errorf("Alice's keys = %v, want only %s", ids, second)
	}
	if ids := keysOf(t, env, hookstest.BobID); len(ids) != 0 {
		t.Errorf("Bob's keys = %v, want none", ids)
	}

	// A revoked key no longer authenticates.
	srv := env.Serve(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/collections/notes/records", nil)
	req.Header.Set("Authorization", "Bearer "+hookstest.AliceKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked key: status %d, want 401", res.StatusCode)
	}
}

// Revoking several ids is all or nothing: one unknown id revokes none.
func TestRevokeUnknownRevokesNothing(t *testing.T) {
	env := newEnv(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"revoke", hookstest.AliceKeyID, "nope00000000000"},
			`No API key with the id "nope00000000000": nothing was revoked.`},
		{[]string{"revoke", "nope1", hookstest.BobKeyID, "nope2"},
			`No API keys with the ids "nope1", "nope2": nothing was revoked.`},
		// With --user, the ids must be that user's.
		{[]string{"revoke", "--user", hookstest.BobEmail, hookstest.AliceKeyID, hookstest.BobKeyID},
			`No API key with the id "k1alice00000001" belongs to bob@example.com: nothing was revoked.`},
	}
	for _, tc := range cases {
		stdout, _, err := run(t, env, tc.args...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
		if stdout != "" {
			t.Errorf("%v: stdout = %q, want nothing", tc.args, stdout)
		}
		for _, id := range []string{hookstest.AliceKeyID, hookstest.BobKeyID} {
			if _, err := env.Store.Find(id); err != nil {
				t.Errorf("%v: key %s was revoked", tc.args, id)
			}
		}
	}

	// The same with the right owner works.
	stdout, _, err := run(t, env, "revoke", "--user", hookstest.BobID, hookstest.BobKeyID)
	if err != nil || !strings.HasPrefix(stdout, "Revoked "+hookstest.BobKeyID) {
		t.Errorf("revoke --user bob: %q, %v", stdout, err)
	}
}

func TestRevokeAll(t *testing.T) {
	env := newEnv(t)
	issue(t, env, hookstest.AliceID, "Second")
	issue(t, env, hookstest.AliceID, "Third")

	stdout, _, err := run(t, env, "revoke", "--user", hookstest.AliceEmail, "--all")
	if err != nil || stdout != "Revoked 3 API keys of alice@example.com.\n" {
		t.Errorf("revoke --all: %q, %v", stdout, err)
	}
	if ids := keysOf(t, env, hookstest.AliceID); len(ids) != 0 {
		t.Errorf("Alice still has keys %v", ids)
	}
	if ids := keysOf(t, env, hookstest.BobID); !slices.Equal(ids, []string{hookstest.BobKeyID}) {
		t.Errorf("Bob's keys = %v, want his fixture key untouched", ids)
	}

	// Again: nothing left is not an error.
	stdout, _, err = run(t, env, "revoke", "--user", hookstest.AliceID, "--all")
	if err != nil || stdout != "alice@example.com has no API keys: nothing to revoke.\n" {
		t.Errorf("second revoke --all: %q, %v", stdout, err)
	}

	stdout, _, err = run(t, env, "revoke", "--user", hookstest.BobEmail, "--all")
	if err != nil || stdout != "Revoked 1 API key of bob@example.com.\n" {
		t.Errorf("revoke --all (one key): %q, %v", stdout, err)
	}
}

func TestRevokeErrors(t *testing.T) {
	env := newEnv(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"nothing named", []string{"revoke"}, "Name the keys to revoke by id"},
		{"blank id", []string{"revoke", " "}, "Name the keys to revoke by id"},
		{"--all without --user", []string{"revoke", "--all"}, "--all needs --user"},
		{"ids and --all", []string{"revoke", "--user", hookstest.AliceEmail, "--all", hookstest.AliceKeyID}, "Give key ids or --all, not both."},
		{"unknown user", []string{"revoke", "--user", "carol@example.com", "--all"}, `No record with the email "carol@example.com"`},
		{"unknown user id", []string{"revoke", "--user", "u9nobody0000000", hookstest.AliceKeyID}, `No record with the id "u9nobody0000000"`},
		{"mistyped flag", []string{"revoke", "--everything"}, "Unknown flag: --everything."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := run(t, env, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, id := range []string{hookstest.AliceKeyID, hookstest.BobKeyID} {
				if _, err := env.Store.Find(id); err != nil {
					t.Errorf("key %s was revoked", id)
				}
			}
		})
	}
}
