package cli_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/cli"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

func TestCreate(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		name    string
		args    []string
		label   string
		expires func(now time.Time) time.Time // zero: never
		want    keystore.Options
		stderr  string
	}{
		{
			name:   "defaults: never expires, full access, no limit",
			args:   []string{"--user", hookstest.AliceEmail, "--label", "CI"},
			want:   keystore.Options{Label: "CI"},
			stderr: `"CI" for alice@example.com (Full access; No limit; never expires)`,
		},
		{
			name: "every option",
			args: []string{"--user", hookstest.AliceEmail, "--label", "Dashboard", "--expires", "90d",
				"--perm", "notes:write", "--perm", " users : read", "--perm", "notes:write", "--allow-ip", "10.0.0.0/8,2001:db8::/32", "--allow-ip", "203.0.113.7", "--rate", "600"},
			expires: func(now time.Time) time.Time { return now.Add(90 * day) },
			want: keystore.Options{Label: "Dashboard",
				Permissions: permissions.Set{"notes": permissions.Write, "users": permissions.Read},
				AllowedIPs:  mustList(t, "10.0.0.0/8", "2001:db8::/32", "203.0.113.7"), RatePerMinute: 600},
			stderr: `(Write notes; read users · from 10.0.0.0/8, 2001:db8::/32, 203.0.113.7; 600 requests/min; expires `,
		},
		{
			name:   "every other collection, and the app's routes",
			args:   []string{"--user", hookstest.AliceEmail, "--label", "Reports", "--perm", "*:read", "--perm", "secrets:none", "--perm", "@routes:read"},
			want:   keystore.Options{Label: "Reports", Permissions: permissions.Set{"*": permissions.Read, "secrets": permissions.None, "@routes": permissions.Read}},
			stderr: `(No access to secrets; other collections: read; app routes: read; No limit; never expires)`,
		},
		{
			name:    "owner by record id, expiry as a date",
			args:    []string{"--user", hookstest.AliceID, "--label", "Importer", "--expires", "2030-01-31"},
			expires: func(time.Time) time.Time { return time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC) },
			want:    keystore.Options{Label: "Importer"},
			stderr:  "expires 2030-02-01 00:00 UTC",
		},
		{
			name:   "label is trimmed, --expires never",
			args:   []string{"--user", hookstest.AliceEmail, "--label", "  my laptop ", "--expires", "never"},
			want:   keystore.Options{Label: "my laptop"},
			stderr: `"my laptop"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			before := time.Now().UTC()
			stdout, stderr, err := run(t, env, append([]string{"create"}, tc.args...)...)
			if err != nil {
				t.Fatalf("create: %v (stderr %q)", err, stderr)
			}

			// stdout is the key, one line, and nothing else.
			line, ok := strings.CutSuffix(stdout, "\n")
			if !ok || strings.Contains(line, "\n") {
				t.Fatalf("stdout = %q, want exactly one line", stdout)
			}
			key, err := apikey.Parse(line)
			if err != nil {
				t.Fatalf("stdout %q is not a key: %v", line, err)
			}

			record, err := env.Store.Find(key.ID)
			if err != nil {
				t.Fatalf("the printed key's record: %v", err)
			}
			hash := record.GetString(keystore.FieldKeyHash)
			if match, err := argon2id.ComparePasswordAndHash(key.Secret, hash); err != nil || !match {
				t.Errorf("the printed secret does not match the stored hash (err %v)", err)
			}
			if got := record.GetString(keystore.FieldOwner); got != hookstest.AliceID {
				t.Errorf("owner = %q, want Alice", got)
			}

			got := keystore.OptionsOf(record)
			want := tc.want
			if tc.expires != nil {
				want.ExpiresAt = tc.expires(before)
				// Relative expiries are computed a moment after before and
				// stored to the millisecond.
				if d := got.ExpiresAt.Sub(want.ExpiresAt); d <= -time.Millisecond || d > 5*time.Second {
					t.Errorf("expires = %v, want %v", got.ExpiresAt, want.ExpiresAt)
				}
			} else if !got.ExpiresAt.IsZero() {
				t.Errorf("expires = %v, want never", got.ExpiresAt)
			}
			if got.Label != want.Label || !maps.Equal(got.Permissions, want.Permissions) ||
				!slices.Equal(got.AllowedIPs, want.AllowedIPs) || got.RatePerMinute != want.RatePerMinute {
				t.Errorf("options = %+v, want %+v", got, want)
			}
			// the list as stored: nil (null) is any address
			if (got.AllowedIPs == nil) != (want.AllowedIPs == nil) || !slices.Equal(got.AllowedIPs, want.AllowedIPs) {
				t.Errorf("allowed_ips = %v, want %v", got.AllowedIPs.Strings(), want.AllowedIPs.Strings())
			}
			if stored := record.GetString(keystore.FieldAllowedIPs); want.AllowedIPs == nil && stored != "null" && stored != "" {
				t.Errorf("allowed_ips stored as %q, want null", stored)
			}

			if !strings.Contains(stderr, record.Id) || !strings.Contains(stderr, tc.stderr) || !strings.Contains(stderr, "shown only once") {
				t.Errorf("stderr = %q, want it to name %s and say %q", stderr, record.Id, tc.stderr)
			}
			if strings.Contains(stderr, key.Secret) {
				t.Error("the secret was printed on stderr")
			}

			// The owner was told, before the command returned.
			mail := env.App.TestMailer
			if mail.TotalSend() != 1 {
				t.Fatalf("%d emails sent, want 1", mail.TotalSend())
			}
			msg := mail.LastMessage()
			if len(msg.To) != 1 || msg.To[0].Address != hookstest.AliceEmail {
				t.Errorf("email to %v, want Alice", msg.To)
			}
			for _, w := range []string{record.Id, want.Label, "CLI", "local", "pbkeys CLI"} {
				if !strings.Contains(msg.Text, w) {
					t.Errorf("email text does not mention %q:\n%s", w, msg.Text)
				}
			}
			if strings.Contains(msg.Text, key.Secret) || strings.Contains(msg.HTML, key.Secret) {
				t.Error("the email contains the secret")
			}
		})
	}
}

// The printed key is a working key: it authenticates as its owner, from
// the addresses --allow-ip gave it (the test server's client is 127.0.0.1)
// and from no other.
func TestCreatedKeyAuthenticates(t *testing.T) {
	env := newEnv(t)
	srv := env.Serve(t)
	for _, c := range []struct {
		allowIP string
		status  int
	}{
		{"", http.StatusOK},
		{"127.0.0.1", http.StatusOK},
		{"10.0.0.0/8,127.0.0.0/8", http.StatusOK},
		{"10.0.0.0/8,::1", http.StatusForbidden},
	} {
		args := []string{"create", "--user", hookstest.AliceEmail, "--label", "CI", "--perm", "notes:read"}
		if c.allowIP != "" {
			args = append(args, "--allow-ip", c.allowIP)
		}
		stdout, _, err := run(t, env, args...)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/collections/notes/records", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(stdout))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case res.StatusCode != c.status:
			t.Errorf("--allow-ip %q: GET notes with the key: %d %s; want %d", c.allowIP, res.StatusCode, body, c.status)
		case c.status == http.StatusOK && (!strings.Contains(string(body), hookstest.AliceNoteID) || strings.Contains(string(body), hookstest.BobNoteID)):
			t.Errorf("--allow-ip %q: GET notes with the key: %s; want Alice's note only", c.allowIP, body)
		case c.status == http.StatusForbidden && !strings.Contains(string(body), "This API key cannot be used from this address."):
			t.Errorf("--allow-ip %q: %s; want the address refusal", c.allowIP, body)
		}
	}
}

// allowList is entries as the CLI stores them.
func allowList(entries ...string) addrlist.List {
	raw, _ := json.Marshal(entries)
	list, err := addrlist.Parse(raw)
	if err != nil {
		panic(err)
	}
	return list
}

func TestCreateErrors(t *testing.T) {
	alice := []string{"create", "--user", hookstest.AliceEmail}
	cases := []struct {
		name string
		args []string
		want string // part of the error
	}{
		{"unknown email", []string{"create", "--user", "carol@example.com", "--label", "CI"}, `No record with the email "carol@example.com"`},
		{"unknown id", []string{"create", "--user", "u9nobody0000000", "--label", "CI"}, `No record with the id "u9nobody0000000"`},
		{"no user", []string{"create", "--label", "CI"}, "Name the owner with --user"},
		{"no label", alice, "Give the key a label with --label"},
		{"blank label", append(alice, "--label", "   "), "The key was not created: --label: Cannot be blank."},
		{"long label", append(alice, "--label", strings.Repeat("x", 101)), "The key was not created: --label: "},
		{"control characters in label", append(alice, "--label", "a\x1bb"), "The key was not created: --label: "},
		{"duration without unit", append(alice, "--label", "CI", "--expires", "90"), `--expires: The expiry "90" is not understood`},
		{"zero days", append(alice, "--label", "CI", "--expires", "0d"), "--expires: The expiry \"0d\" is out of range"},
		{"past date", append(alice, "--label", "CI", "--expires", "2020-01-31"), "--expires: The date 2020-01-31 is in the past"},
		{"impossible date", append(alice, "--label", "CI", "--expires", "2030-02-30"), `--expires: The date "2030-02-30" does not exist`},
		{"unknown collection", append(alice, "--label", "CI", "--perm", "notes:read", "--perm", "nope:read"), `The key was not created: --perm: There is no collection named "nope".`},
		{"a system collection", append(alice, "--label", "CI", "--perm", "_superusers:read"), `--perm: API keys cannot be given permissions on the "_superusers" collection.`},
		{"no level", append(alice, "--label", "CI", "--perm", "notes"), "--perm notes: Write COLLECTION:LEVEL, e.g. --perm orders:read."},
		{"unknown level", append(alice, "--label", "CI", "--perm", "notes:admin"), "--perm notes:admin: The level must be read, write or none."},
		{"two levels for one collection", append(alice, "--label", "CI", "--perm", "notes:read", "--perm", "notes:write"), "--perm notes:write: notes is given two different levels."},
		{"a misspelt special name", append(alice, "--label", "CI", "--perm", "@route:read"), `--perm: "@route" is not a collection name`},
		{"a bad address", append(alice, "--label", "CI", "--allow-ip", "10.0.0.300"), `--allow-ip: "10.0.0.300" is neither an address nor a CIDR range`},
		{"a range with host bits", append(alice, "--label", "CI", "--allow-ip", "10.0.0.1/8"), `has bits set after its /8; did you mean 10.0.0.0/8?`},
		{"the old --read-only", append(alice, "--label", "CI", "--read-only"), `--read-only is replaced by permissions: --perm '*:read' --perm '@routes:read' reads everything.`},
		{"the old --collections", append(alice, "--label", "CI", "--collections", "notes"), `--collections is replaced by permissions`},
		{"not an address", append(alice, "--label", "CI", "--allow-ip", "10.0.0.0/8,office"), `--allow-ip: "office" is neither an address nor a CIDR range.`},
		{"an address with a zone", append(alice, "--label", "CI", "--allow-ip", "fe80::1%eth0"), `--allow-ip: "fe80::1%eth0" has a zone`},
		{"an empty value", append(alice, "--label", "CI", "--allow-ip", ""), `--allow-ip: Give an address or CIDR range, or leave the flag out for any address.`},
		{"an empty entry", append(alice, "--label", "CI", "--allow-ip", "10.0.0.0/8,"), `--allow-ip: "" is neither an address nor a CIDR range.`},
		{"more than 50 addresses", append(alice, "--label", "CI", "--allow-ip", manyAddresses(51)), "--allow-ip: A key can hold at most 50 addresses or ranges, not 51."},
		{"negative rate", append(alice, "--label", "CI", "--rate", "-1"), "--rate: Give a number of requests per minute"},
		{"huge rate", append(alice, "--label", "CI", "--rate", "1000001"), "(at most 1000000)"},
		{"rate not a number", append(alice, "--label", "CI", "--rate", "fast"), `--rate: "fast" is not a whole number of requests per minute (0 for no limit).`},
		{"rate not whole", append(alice, "--label", "CI", "--rate", "1.5"), `--rate: "1.5" is not a whole number`},
		{"mistyped flag", append(alice, "--label", "CI", "--readonly"), `Unknown flag: --readonly. Run "pbkeys apikeys create --help" for usage.`},
		{"unquoted label", append(alice, "--label", "my", "key"), `Unexpected argument "key"`},
	}
	// One app for every case: none of them may create a key or send mail,
	// and each case checks that.
	env := newEnv(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := run(t, env, tc.args...)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			if msg[0] != '-' && (msg[0] < 'A' || msg[0] > 'Z') || !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") {
				t.Errorf("error %q is not a sentence", msg)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if ids := keysOf(t, env, hookstest.AliceID); len(ids) != 1 {
				t.Errorf("Alice has keys %v, want only the fixture's", ids)
			}
			env.Store.WaitNotifications()
			if n := env.App.TestMailer.TotalSend(); n != 0 {
				t.Errorf("%d emails sent, want none", n)
			}
		})
	}
}

type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) { return 0, errors.New("write |1: broken pipe") }

// A key that could not be printed is revoked: nobody has it.
func TestCreateUnprintableKeyIsRevoked(t *testing.T) {
	env := newEnv(t)
	cmd := cli.NewAPIKeysCommand(env.App, env.Store, newRevoker(t, env))
	cmd.SetOut(brokenPipe{})
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"create", "--user", hookstest.AliceEmail, "--label", "CI"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "could not be printed") || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("err = %v, want one saying the key was revoked", err)
	}
	if ids := keysOf(t, env, hookstest.AliceID); len(ids) != 1 {
		t.Errorf("Alice has keys %v, want only the fixture's", ids)
	}
	env.Store.WaitNotifications()
}

func mustList(t *testing.T, entries ...string) addrlist.List {
	t.Helper()
	var list addrlist.List
	for _, e := range entries {
		p, err := addrlist.ParseEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, p)
	}
	return list
}

// manyAddresses is n addresses, comma-separated, as one --allow-ip value.
func manyAddresses(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.%d.1", i)
	}
	return strings.Join(out, ",")
}
