package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// issueKey gives ownerID a new key and returns it in plain text.
func issueKey(t *testing.T, env *hookstest.Env, ownerID, label string) (string, string) {
	t.Helper()
	rec, key, err := env.Store.Issue(env.Record(t, "users", ownerID), keystore.Options{Label: label}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	return key.String(), rec.Id
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitMails waits until env's mailer has sent n mails.
func waitMails(t *testing.T, env *hookstest.Env, n int) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); env.App.TestMailer.TotalSend() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d mails sent, want %d", env.App.TestMailer.TotalSend(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLeakedRevokesLiveKeysOnly(t *testing.T) {
	env := newEnv(t)
	key, id := issueKey(t, env, hookstest.AliceID, "CI")
	sibling, siblingID := issueKey(t, env, hookstest.AliceID, "laptop")
	waitMails(t, env, 2)
	typo := []byte(sibling)
	if typo[30] == 'x' { // one character off: the checksum no longer matches
		typo[30] = 'y'
	} else {
		typo[30] = 'x'
	}
	wrong, err := apikey.NewSecret(siblingID)
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, strings.Join([]string{
		"# found in build 1234",
		key,
		"",
		"  " + hookstest.BobKey + "  ", // a legacy key, with spaces around
		string(typo),
		siblingID + "." + wrong,
		"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",
		key,
	}, "\n"))

	stdout, stderr, err := run(t, env, "leaked", file, "--url", "https://ci.example.com/builds/1234")
	if err != nil {
		t.Fatal(err)
	}
	want := `Revoked ` + id + ` "CI" of alice@example.com (line 2).` + "\n" +
		`Revoked k2bob0000000001 "Bob laptop" of bob@example.com (line 4).` + "\n" +
		`Line 8: ` + id + ` is already revoked.` + "\n" +
		`Not a live API key of this server, nothing done: lines 5, 6, 7.` + "\n" +
		`Revoked 2 API keys; the owners are notified by email (mail failures are logged).` + "\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	for _, secret := range []string{key[apikey.IDLength+1:], hookstest.BobKeySecret, sibling[apikey.IDLength+1:], wrong, "ghp_"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("the output shows a token: %q", secret)
		}
	}
	for kid, exists := range map[string]bool{id: false, hookstest.BobKeyID: false, siblingID: true, hookstest.AliceKeyID: true} {
		if _, err := env.Store.Find(kid); (err == nil) != exists {
			t.Errorf("key %s exists: %v, want %v", kid, err == nil, exists)
		}
	}

	// The mails went out before the command returned.
	if n := env.App.TestMailer.TotalSend(); n != 4 {
		t.Fatalf("%d mails, want 2 creations and 2 leaks", n)
	}
	var alice string
	for _, m := range env.App.TestMailer.Messages()[2:] {
		if m.To[0].Address == hookstest.AliceEmail {
			alice = m.Text
		}
	}
	for _, w := range []string{id, "CI", "https://ci.example.com/builds/1234", "an operator, pbkeys CLI", "Revoked:"} {
		if !strings.Contains(alice, w) {
			t.Errorf("Alice's mail lacks %q:\n%s", w, alice)
		}
	}
}

func TestLeakedFromStdin(t *testing.T) {
	env := newEnv(t)
	key, id := issueKey(t, env, hookstest.AliceID, "CI")
	waitMails(t, env, 1) // "new API key", before the leak's
	stdout, _, err := runWithInput(t, env, "\n"+key+"\n", "leaked", "-")
	if err != nil || !strings.HasPrefix(stdout, "Revoked "+id+` "CI" of alice@example.com (line 2).`) {
		t.Fatalf("stdout %q, err %v", stdout, err)
	}
	if _, err := env.Store.Find(id); err == nil {
		t.Fatal("the key is still there")
	}
	waitMails(t, env, 2)
	if m := env.App.TestMailer.LastMessage(); !strings.Contains(m.Text, "Found at:    not given") {
		t.Errorf("without --url the mail says:\n%s", m.Text)
	}
}

func TestLeakedNothingToRevoke(t *testing.T) {
	env := newEnv(t)
	stdout, _, err := run(t, env, "leaked", writeFile(t, "not-a-key\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "Not a live API key of this server, nothing done: line 1.\nNo live API key found: nothing was revoked.\n"
	if stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
}

func TestLeakedErrors(t *testing.T) {
	env := newEnv(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{"leaked"}, `Name one file of tokens, one per line ("-" for standard input).`},
		{"two files", []string{"leaked", "a", "b"}, `Name one file of tokens`},
		{"a missing file", []string{"leaked", filepath.Join(dir, "nope.txt")}, "Cannot read the tokens: open "},
		{"an empty file", []string{"leaked", writeFile(t, "\n# nothing\n\n")}, "There are no tokens in "},
		{"a line too long", []string{"leaked", writeFile(t, "a\n"+strings.Repeat("x", 70_000))}, "Line 2 of "},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, _, err := run(t, env, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q", stdout)
			}
		})
	}
	if _, err := env.Store.Find(hookstest.AliceKeyID); err != nil {
		t.Fatal("a key was revoked")
	}
}
