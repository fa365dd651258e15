package cli_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// These tests run the real binary: what a shell sees (signals, exit
// status, how main prints errors) cannot be seen in-process.

// TestMain removes the binary built for the exec tests.
func TestMain(m *testing.M) {
	code := m.Run()
	hookstest.RemoveBinary()
	os.Exit(code)
}

// execCLI runs "pbkeys apikeys args..." on env's data directory with
// stdout, and returns stderr and the exit status.
func execCLI(t *testing.T, env *hookstest.Env, stdout *os.File, args ...string) (stderr string, status int) {
	t.Helper()
	cmd := hookstest.Command(t, env.App.DataDir(), append([]string{"apikeys"}, args...)...)
	var errOut bytes.Buffer
	cmd.Stdout = stdout
	cmd.Stderr = &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return errOut.String(), 0
	case errors.As(err, &exit):
		if !exit.Exited() {
			t.Fatalf("pbkeys %v was killed (%v); stderr:\n%s", args, exit, errOut.String())
		}
		return errOut.String(), exit.ExitCode()
	}
	t.Fatalf("pbkeys %v: %v", args, err)
	return "", 0
}

// closedPipe returns the write end of a pipe whose reader is already gone,
// as in "pbkeys apikeys create ... | true" when true exits first.
func closedPipe(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Cleanup(func() { w.Close() })
	return w
}

var logTimestamp = regexp.MustCompile(`^\d{4}/\d\d/\d\d `)

// A key written into a closed pipe is revoked, not left working: the
// process must not die of SIGPIPE before it can revoke the key.
func TestExecCreateIntoClosedPipeRevokes(t *testing.T) {
	env := newEnv(t)
	stderr, status := execCLI(t, env, closedPipe(t), "create", "--user", hookstest.AliceEmail, "--label", "Piped")
	if status == 0 {
		t.Errorf("exit status 0, want non-zero; stderr:\n%s", stderr)
	}
	if !strings.Contains(stderr, "could not be printed") || !strings.Contains(stderr, "revoked at once") {
		t.Errorf("stderr does not say the key was revoked:\n%s", stderr)
	}
	records, err := env.Store.List(env.Record(t, "users", hookstest.AliceID))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if r.GetString(keystore.FieldLabel) == "Piped" {
			t.Errorf("the unprinted key %s is still there", r.Id)
		}
	}
	if len(records) != 1 {
		t.Errorf("Alice has %d keys, want only the fixture's", len(records))
	}
}

// A rolled key written into a closed pipe undoes the roll: the old key
// keeps working (here --grace now would otherwise have stopped it).
func TestExecRollIntoClosedPipeUndoes(t *testing.T) {
	env := newEnv(t)
	stderr, status := execCLI(t, env, closedPipe(t), "roll", hookstest.AliceKeyID, "--grace", "now")
	if status == 0 || !strings.Contains(stderr, "the roll was undone") {
		t.Errorf("exit status %d, stderr:\n%s\nwant non-zero and the roll undone", status, stderr)
	}
	records, err := env.Store.List(env.Record(t, "users", hookstest.AliceID))
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 || records[0].Id != hookstest.AliceKeyID {
		t.Fatalf("Alice's keys: %d, want only the fixture key", len(records))
	}
	if exp := records[0].GetString(keystore.FieldExpires); exp != "" {
		t.Errorf("the old key expires %q, want never (as before the roll)", exp)
	}
}

// Errors are plain sentences on stderr (no log timestamp), exit status 1.
func TestExecErrorsArePlainSentences(t *testing.T) {
	env := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--user", "carol@example.com", "--label", "CI"},
			`No record with the email "carol@example.com" in the users collection.`},
		{[]string{"create", "--user", hookstest.AliceEmail, "--label", "CI", "--rate", "abc"},
			`--rate: "abc" is not a whole number of requests per minute (0 for no limit).`},
		{[]string{"roll", hookstest.AliceKeyID, "--grace", "2h"},
			`--grace: "2h" is not a grace period: choose "now", "1h", "24h" or "7d".`},
		{[]string{"disable", "nope00000000000"},
			`No API key with the id "nope00000000000": nothing was disabled.`},
	} {
		stderr, status := execCLI(t, env, nil, tc.args...)
		if status != 1 || stderr != tc.want+"\n" {
			t.Errorf("%v: exit status %d, stderr %q; want 1 and %q", tc.args, status, stderr, tc.want+"\n")
		}
		if logTimestamp.MatchString(stderr) {
			t.Errorf("%v: stderr starts with a log timestamp: %q", tc.args, stderr)
		}
	}
}

// The built binary wires "leaked" to the server's own verification: a key
// piped in is revoked, and the output names it without the secret.
func TestExecLeakedFromStdin(t *testing.T) {
	env := newEnv(t)
	rec, key, err := env.Store.Issue(env.Record(t, "users", hookstest.AliceID), keystore.Options{Label: "Piped in"}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := hookstest.Command(t, env.App.DataDir(), "apikeys", "leaked", "-")
	cmd.Stdin = strings.NewReader(key.String() + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pbkeys apikeys leaked: %v\n%s", err, out)
	}
	if want := `Revoked ` + rec.Id + ` "Piped in" of alice@example.com (line 1).`; !strings.Contains(string(out), want) || strings.Contains(string(out), key.Secret) {
		t.Fatalf("output:\n%s\nwant %q and no secret", out, want)
	}
	if _, err := env.Store.Find(rec.Id); err == nil {
		t.Fatal("the key is still there")
	}
}
