package cli_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/cli"
	"github.com/pbkeys/pbkeys/internal/leaks"
	"github.com/pbkeys/pbkeys/internal/ownermail"
	"github.com/pbkeys/pbkeys/internal/verifier"
)

// newEnv returns a fresh fixture app, cleaned up when t ends.
func newEnv(t *testing.T) *hookstest.Env {
	t.Helper()
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	return env
}

// run executes "pbkeys apikeys args..." in-process the way PocketBase does:
// under a root command that tolerates unknown root flags and discards its
// own stderr, so what a user would see is exactly stdout, stderr and the
// returned error (which main prints).
func run(t *testing.T, env *hookstest.Env, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runWithInput(t, env, "", args...)
}

// runWithInput is run with stdin reading input.
func runWithInput(t *testing.T, env *hookstest.Env, input string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := &cobra.Command{
		Use:                "pbkeys",
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
	}
	root.SetErr(io.Discard)
	apikeys := cli.NewAPIKeysCommand(env.App, env.Store, newRevoker(t, env))
	root.AddCommand(apikeys)

	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetIn(strings.NewReader(input))
	apikeys.SetErr(&errOut) // NewAPIKeysCommand sends its stderr to os.Stderr
	root.SetArgs(append([]string{"apikeys"}, args...))
	err = root.Execute()
	if err != nil && !cli.IsCommandError(err) {
		t.Errorf("%v: error %q is not marked for main to print as a plain sentence", args, err)
	}
	return out.String(), errOut.String(), err
}

// newRevoker returns what revokes leaked keys with a fresh verifier, as each
// "pbkeys apikeys" process has one, and env's owner mails.
func newRevoker(t testing.TB, env *hookstest.Env) *leaks.Revoker {
	t.Helper()
	v, err := verifier.New(hookstest.TestArgon2, verifier.Config{}, verifier.Rehash{})
	if err != nil {
		t.Fatal(err)
	}
	return leaks.New(env.App, env.Store, v, ownermail.Of(env.App))
}

// keysOf returns the ids of ownerID's keys.
func keysOf(t *testing.T, env *hookstest.Env, ownerID string) []string {
	t.Helper()
	records, err := env.Store.List(env.Record(t, "users", ownerID))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(records))
	for i, r := range records {
		ids[i] = r.Id
	}
	return ids
}

func TestHelp(t *testing.T) {
	env := newEnv(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"create", "list", "revoke", "disable", "enable", "roll", "leaked", "Examples:"}},
		{[]string{"leaked", "--help"}, []string{"FILE", `"-" reads standard input`, "--url", "checksum", "Examples:"}},
		{[]string{"disable", "--help"}, []string{"ID...", "401", "nothing is disabled", "Examples:"}},
		{[]string{"enable", "--help"}, []string{"ID...", "expired key", "nothing is enabled", "Examples:"}},
		{[]string{"roll", "--help"}, []string{"--grace", "(default 24h)", "KEY=$(pbkeys apikeys roll", "undone", "Examples:"}},
		{[]string{"create", "--help"}, []string{"--user", "--label", "--expires", "--perm", "--allow-ip", "--rate", "KEY=$(pbkeys apikeys create", "2027-01-31"}},
		{[]string{"list", "--help"}, []string{"--user", "--json", "owner_email", "Examples:"}},
		{[]string{"revoke", "--help"}, []string{"--user", "--all", "nothing is\nrevoked", "Examples:"}},
	} {
		stdout, _, err := run(t, env, tc.args...)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v: help does not mention %q:\n%s", tc.args, w, stdout)
			}
		}
	}
}

// A binary newer than its database (migrations not applied yet) must not
// write keys the old schema would silently strip of their limits.
func TestRefusesUnappliedMigrations(t *testing.T) {
	env := newEnv(t)
	_, err := env.App.DB().Delete(core.DefaultMigrationsTable, dbx.HashExp{"file": "1764100000_api_keys_lifecycle.go"}).Execute()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"list"},
		{"create", "--user", hookstest.AliceEmail, "--label", "CI", "--expires", "30d"},
		{"revoke", hookstest.AliceKeyID},
		{"disable", hookstest.AliceKeyID},
		{"roll", hookstest.AliceKeyID},
	} {
		stdout, _, err := run(t, env, args...)
		if err == nil || !strings.Contains(err.Error(), "1764100000_api_keys_lifecycle.go") || !strings.Contains(err.Error(), "migrate up") {
			t.Errorf("%v: err = %v, want one naming the migration and \"migrate up\"", args, err)
		}
		if stdout != "" {
			t.Errorf("%v: stdout = %q, want nothing", args, stdout)
		}
	}
	if got := keysOf(t, env, hookstest.AliceID); len(got) != 1 {
		t.Errorf("Alice has keys %v, want only the fixture's", got)
	}
	if _, err := env.Store.Find(hookstest.AliceKeyID); err != nil {
		t.Errorf("the fixture key was revoked: %v", err)
	}
}
