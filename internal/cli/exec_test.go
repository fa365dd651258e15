package cli_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/pbtest"
)

// These tests run the real binary: what a shell sees (signals, exit
// status, how main prints errors) cannot be seen in-process.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// TestMain removes the binary built for the exec tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds ./pbkeys once per test run and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "pbkeys-cli-test-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "pbkeys")
		// go test puts its own go first on PATH; "pbkeys" is the main
		// package (the module root).
		cmd := exec.Command("go", "build", "-o", binPath, "pbkeys")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// execCLI runs "pbkeys apikeys args..." on env's data directory with
// stdout, and returns stderr and the exit status.
func execCLI(t *testing.T, env *pbtest.Env, stdout *os.File, args ...string) (stderr string, status int) {
	t.Helper()
	argv := append([]string{"apikeys", "--dir", env.App.DataDir(), "--dev=false"}, args...)
	cmd := exec.Command(binary(t), argv...)
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
	stderr, status := execCLI(t, env, closedPipe(t), "create", "--user", pbtest.AliceEmail, "--label", "Piped")
	if status == 0 {
		t.Errorf("exit status 0, want non-zero; stderr:\n%s", stderr)
	}
	if !strings.Contains(stderr, "could not be printed") || !strings.Contains(stderr, "revoked at once") {
		t.Errorf("stderr does not say the key was revoked:\n%s", stderr)
	}
	records, err := env.Store.ListByOwner(pbtest.AliceID)
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
	stderr, status := execCLI(t, env, closedPipe(t), "roll", pbtest.AliceKeyID, "--grace", "now")
	if status == 0 || !strings.Contains(stderr, "the roll was undone") {
		t.Errorf("exit status %d, stderr:\n%s\nwant non-zero and the roll undone", status, stderr)
	}
	records, err := env.Store.ListByOwner(pbtest.AliceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 || records[0].Id != pbtest.AliceKeyID {
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
			`No user with the email "carol@example.com" in the users collection.`},
		{[]string{"create", "--user", pbtest.AliceEmail, "--label", "CI", "--rate", "abc"},
			`--rate: "abc" is not a whole number of requests per minute (0 for no limit).`},
		{[]string{"roll", pbtest.AliceKeyID, "--grace", "2h"},
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
