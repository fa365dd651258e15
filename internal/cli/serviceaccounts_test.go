package cli_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
)

// newServiceAccountEnv is the fixture with service_accounts as a second
// owner collection, holding the deploy bot and its key.
func newServiceAccountEnv(t *testing.T) *hookstest.Env {
	t.Helper()
	env := hookstest.New(t, hookstest.ServiceAccounts)
	t.Cleanup(env.App.Cleanup)
	return env
}

func TestServiceAccountKeysFromTheCLI(t *testing.T) {
	env := newServiceAccountEnv(t)
	const bot = "service_accounts/" + hookstest.BotEmail
	for _, user := range []string{bot, "service_accounts/" + hookstest.BotID, hookstest.BotEmail, hookstest.BotID} {
		stdout, stderr, err := run(t, env, "create", "--user", user, "--label", "Nightly deploy")
		if err != nil {
			t.Fatalf("create --user %s: %v", user, err)
		}
		key, err := apikey.Parse(strings.TrimSpace(stdout))
		if err != nil {
			t.Fatalf("create --user %s printed %q", user, stdout)
		}
		record, owner, err := env.Store.FindWithOwner(key.ID)
		if err != nil || owner.Id != hookstest.BotID || owner.Collection().Name != hookstest.ServiceAccountsCollection || record.GetString(keystore.FieldLabel) != "Nightly deploy" {
			t.Fatalf("create --user %s: key owned by %v (%v)", user, owner, err)
		}
		// named as --user takes it back
		if !strings.Contains(stderr, "for "+bot+" (") {
			t.Errorf("stderr does not name the owner as %s:\n%s", bot, stderr)
		}
	}

	for user, want := range map[string]string{
		"service_accounts/nobody@example.com": `No record with the email "nobody@example.com" in the service_accounts collection.`,
		"service_accounts/zzzzzzzzzzzzzzz":    `No record with the id "zzzzzzzzzzzzzzz" in the service_accounts collection.`,
		"notes/" + hookstest.AliceNoteID:      `--user: "notes" is not a collection whose records can own keys: choose "users" or "service_accounts".`,
		"_superusers/admin@example.com":       `--user: "_superusers" is not a collection whose records can own keys`,
		"nobody@example.com":                  `No record with the email "nobody@example.com" in the collections users, service_accounts.`,
	} {
		stdout, _, err := run(t, env, "create", "--user", user, "--label", "x")
		if err == nil || !strings.Contains(err.Error(), want) || stdout != "" {
			t.Errorf("create --user %s: %v (stdout %q), want %q", user, err, stdout, want)
		}
	}
}

func TestListShowsTheOwnersCollection(t *testing.T) {
	env := newServiceAccountEnv(t)
	stdout, _, err := run(t, env, "list")
	if err != nil {
		t.Fatal(err)
	}
	var botRow string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, hookstest.BotKeyID+" ") {
			botRow = l
		}
	}
	if f := strings.Fields(botRow); len(f) < 3 || f[1] != hookstest.BotEmail || f[2] != hookstest.ServiceAccountsCollection {
		t.Fatalf("the bot's row %q: want its email, then service_accounts\n%s", botRow, stdout)
	}

	stdout, _, err = run(t, env, "list", "--user", "service_accounts/"+hookstest.BotEmail, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var keys []struct {
		ID              string `json:"id"`
		User            string `json:"user"`
		OwnerEmail      string `json:"owner_email"`
		OwnerCollection string `json:"owner_collection"`
	}
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != hookstest.BotKeyID || keys[0].User != hookstest.BotID ||
		keys[0].OwnerEmail != hookstest.BotEmail || keys[0].OwnerCollection != hookstest.ServiceAccountsCollection {
		t.Fatalf("the bot's keys: %+v", keys)
	}
}

func TestServiceAccountKeyLifecycleFromTheCLI(t *testing.T) {
	env := newServiceAccountEnv(t)
	const bot = "service_accounts/" + hookstest.BotEmail
	if stdout, _, err := run(t, env, "disable", hookstest.BotKeyID); err != nil || !strings.Contains(stdout, "of "+bot) {
		t.Fatalf("disable: %q %v", stdout, err)
	}
	if _, _, err := run(t, env, "enable", hookstest.BotKeyID); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, env, "roll", hookstest.BotKeyID, "--grace", "now")
	if err != nil {
		t.Fatal(err)
	}
	rolled, err := apikey.Parse(strings.TrimSpace(stdout))
	if err != nil || !strings.Contains(stderr, "of "+bot) {
		t.Fatalf("roll printed %q, stderr %q", stdout, stderr)
	}
	if _, owner, err := env.Store.FindWithOwner(rolled.ID); err != nil || owner.Id != hookstest.BotID {
		t.Fatalf("the rolled key belongs to %v (%v)", owner, err)
	}
	if stdout, _, err := run(t, env, "revoke", "--user", bot, "--all"); err != nil || stdout != "Revoked 2 API keys of "+bot+".\n" {
		t.Fatalf("revoke --all: %q %v", stdout, err)
	}
	if ids := keysOfOwner(t, env, hookstest.BotOwner); len(ids) != 0 {
		t.Fatalf("the bot still has keys %v", ids)
	}
	if ids := keysOf(t, env, hookstest.AliceID); !slices.Equal(ids, []string{hookstest.AliceKeyID}) {
		t.Fatalf("Alice's keys changed: %v", ids)
	}
}

func keysOfOwner(t *testing.T, env *hookstest.Env, o hookstest.Owner) []string {
	t.Helper()
	records, err := env.Store.List(o.Record(t, env))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range records {
		ids = append(ids, r.Id)
	}
	return ids
}

func TestUsage(t *testing.T) {
	env := newServiceAccountEnv(t)
	today := time.Now().UTC()
	days := []usage.Day{
		{Day: today.AddDate(0, 0, -40).Format(time.DateOnly), Requests: 1000}, // outside the 30 days
		{Day: today.AddDate(0, 0, -29).Format(time.DateOnly), Requests: 3},
		{Day: today.Format(time.DateOnly), Requests: 12},
	}
	if err := usage.Write(env.App, []usage.KeyUsage{{KeyID: hookstest.BotKeyID, Days: days}}); err != nil {
		t.Fatal(err)
	}

	stdout, _, err := run(t, env, "usage", hookstest.BotKeyID)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 32 {
		t.Fatalf("%d lines, want a summary, a header and 30 days:\n%s", len(lines), stdout)
	}
	if want := hookstest.BotKeyID + ` "` + hookstest.BotKeyLabel + `" of service_accounts/` + hookstest.BotEmail + `: 15 requests in the last 30 days (UTC).`; lines[0] != want {
		t.Errorf("summary %q, want %q", lines[0], want)
	}
	if f := strings.Fields(lines[2]); f[0] != days[1].Day || f[1] != "3" {
		t.Errorf("first day %q, want %s with 3", lines[2], days[1].Day)
	}
	if f := strings.Fields(lines[31]); f[0] != days[2].Day || f[1] != "12" {
		t.Errorf("last day %q, want today with 12", lines[31])
	}

	stdout, _, err = run(t, env, "usage", hookstest.BotKeyID, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var series []usage.Day
	if err := json.Unmarshal([]byte(stdout), &series); err != nil || len(series) != 30 || usage.Total(series) != 15 {
		t.Fatalf("--json: %d days, total %d (%v)\n%s", len(series), usage.Total(series), err, stdout)
	}
	if !strings.Contains(stdout, `"day": "`+days[2].Day+`"`) || !strings.Contains(stdout, `"requests": 12`) {
		t.Errorf("--json is not REST's shape:\n%s", stdout)
	}

	for _, args := range [][]string{{"usage"}, {"usage", "zzzzzzzzzzzzzzz"}, {"usage", "a", "b"}} {
		if stdout, _, err := run(t, env, args...); err == nil || stdout != "" {
			t.Errorf("%v: %q %v, want an error", args, stdout, err)
		}
	}
}
