package usage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
	"github.com/pbkeys/pbkeys/internal/usage"
)

func usageRows(t *testing.T, env *hookstest.Env, keyID string) map[string]int64 {
	t.Helper()
	var rows []struct {
		Day      string `db:"day"`
		Requests int64  `db:"requests"`
	}
	err := env.App.DB().Select("day", "requests").From(keystore.UsageCollection).
		Where(dbxKey(keyID)).All(&rows)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Day] = r.Requests
	}
	return out
}

func TestRecordUsageAddsUpAndKeepsTheLastUse(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	used := time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC)
	write := func(requests int64, ua string) {
		t.Helper()
		err := usage.Write(env.App, []usage.KeyUsage{{
			KeyID: hookstest.AliceKeyID, LastUsed: used, IP: "203.0.113.9", UserAgent: ua,
			Days: []usage.Day{{Day: "2026-11-29", Requests: 1}, {Day: "2026-11-30", Requests: requests}},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	write(12, "curl/8.5.0")
	write(30, "bad\x00agent\xff\n")

	rows := usageRows(t, env, hookstest.AliceKeyID)
	if rows["2026-11-29"] != 2 || rows["2026-11-30"] != 42 || len(rows) != 2 {
		t.Fatalf("rows %v, want 2 on the 29th and 42 on the 30th", rows)
	}
	key, _ := env.Store.Find(hookstest.AliceKeyID)
	if got := key.GetDateTime(keystore.FieldLastUsed).Time(); !got.Equal(used) {
		t.Errorf("last_used %s, want %s", got, used)
	}
	if ip := key.GetString(keystore.FieldLastUsedIP); ip != "203.0.113.9" {
		t.Errorf("last_used_ip %q", ip)
	}
	// control characters and invalid UTF-8 from a client's header are not stored
	if ua := key.GetString(keystore.FieldLastUsedUserAgent); ua != "bad agent\uFFFD" {
		t.Errorf("last_used_user_agent %q", ua)
	}

	series, err := usage.Daily(env.App, []string{hookstest.AliceKeyID, hookstest.BobKeyID}, used)
	if err != nil {
		t.Fatal(err)
	}
	alice := series[hookstest.AliceKeyID]
	if len(alice) != 30 || alice[0].Day != "2026-11-01" || alice[29] != (usage.Day{Day: "2026-11-30", Requests: 42}) || alice[28].Requests != 2 {
		t.Fatalf("Alice's 30 days: %+v", alice)
	}
	if usage.Total(alice) != 44 || usage.Total(series[hookstest.BobKeyID]) != 0 || len(series[hookstest.BobKeyID]) != 30 {
		t.Fatalf("totals: Alice %d, Bob %d over %d days", usage.Total(alice), usage.Total(series[hookstest.BobKeyID]), len(series[hookstest.BobKeyID]))
	}
}

func TestUsageGoesWithItsKey(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	day := []usage.Day{{Day: "2026-11-30", Requests: 5}}
	if err := usage.Write(env.App, []usage.KeyUsage{{KeyID: hookstest.AliceKeyID, Days: day}, {KeyID: hookstest.BobKeyID, Days: day}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.Revoke(env.Alice(t), hookstest.AliceKeyID); err != nil {
		t.Fatal(err)
	}
	if rows := usageRows(t, env, hookstest.AliceKeyID); len(rows) != 0 {
		t.Fatalf("a revoked key's counts stayed: %v", rows)
	}
	if rows := usageRows(t, env, hookstest.BobKeyID); rows["2026-11-30"] != 5 {
		t.Fatalf("Bob's counts went too: %v", rows)
	}
	// a flush that comes after the key is gone writes nothing for it
	if err := usage.Write(env.App, []usage.KeyUsage{{KeyID: hookstest.AliceKeyID, LastUsed: time.Now(), Days: day}}); err != nil {
		t.Fatal(err)
	}
	if rows := usageRows(t, env, hookstest.AliceKeyID); len(rows) != 0 {
		t.Fatalf("counts written for a deleted key: %v", rows)
	}
	// and with the owner: Bob's account takes his key and its counts
	if err := env.App.Delete(env.Bob(t)); err != nil {
		t.Fatal(err)
	}
	if rows := usageRows(t, env, hookstest.BobKeyID); len(rows) != 0 {
		t.Fatalf("counts outlived the owner's account: %v", rows)
	}
}

func TestPruneUsageKeepsTheRetention(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var days []usage.Day
	for _, d := range []string{"2026-08-31", "2026-09-01", "2026-11-30"} {
		days = append(days, usage.Day{Day: d, Requests: 1})
	}
	if err := usage.Write(env.App, []usage.KeyUsage{{KeyID: hookstest.AliceKeyID, Days: days}}); err != nil {
		t.Fatal(err)
	}
	n, err := usage.Prune(env.App, now)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want the one day older than 90 days", n, err)
	}
	rows := usageRows(t, env, hookstest.AliceKeyID)
	if _, ok := rows["2026-08-31"]; ok || len(rows) != 2 {
		t.Fatalf("rows after pruning: %v", rows)
	}
}

func TestNoKeyCanBeScopedToTheUsageCollection(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	_, _, err := env.Store.Issue(env.Alice(t), keystore.Options{Label: "x", Permissions: permissions.Set{keystore.UsageCollection: permissions.Read}}, keystore.Origin{})
	if err == nil || !strings.Contains(err.Error(), "cannot be given permissions on the") {
		t.Fatalf("a key scoped to %s: %v", keystore.UsageCollection, err)
	}
}

func dbxKey(id string) dbx.Expression { return dbx.HashExp{"key": id} }
