package hooks_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/usage"
)

func lastUsed(t testing.TB, app core.App, keyID string) time.Time {
	t.Helper()
	r, err := app.FindRecordById("api_keys", keyID)
	if err != nil {
		t.Fatal(err)
	}
	return r.GetDateTime("last_used").Time()
}

func TestLastUsedIsRecordedSoon(t *testing.T) {
	env := hookstest.New(t) // flushes every 50 ms in tests (2 s in production)
	before := time.Now().Add(-time.Second)
	updatedBefore := mustFind(t, env.App, hookstest.AliceKeyID).GetDateTime("updated")

	s := tests.ApiScenario{
		Name:                  "a request with a key",
		Method:                http.MethodGet,
		URL:                   aliceNoteURL,
		Headers:               bearer(hookstest.AliceKey),
		ExpectedStatus:        200,
		ExpectedContent:       []string{`"title":"Alice's note"`},
		TestAppFactory:        func(testing.TB) *tests.TestApp { return env.App },
		DisableTestAppCleanup: true,
		AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
			deadline := time.Now().Add(3 * time.Second)
			for lastUsed(t, app, hookstest.AliceKeyID).IsZero() {
				if time.Now().After(deadline) {
					t.Fatal("last_used still empty 3 s after the request")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := lastUsed(t, app, hookstest.AliceKeyID); got.Before(before) || got.After(time.Now().Add(time.Second)) {
				t.Fatalf("last_used = %s, want about now", got)
			}
			if !lastUsed(t, app, hookstest.BobKeyID).IsZero() {
				t.Fatal("an unused key got a last_used time")
			}
			// bookkeeping, not an edit: "updated" does not move
			if got := mustFind(t, app, hookstest.AliceKeyID).GetDateTime("updated"); !got.Equal(updatedBefore) {
				t.Fatalf("updated moved from %s to %s", updatedBefore, got)
			}
		},
	}
	s.Test(t)
	env.App.Cleanup()
}

func TestLastUsedIsFlushedOnShutdown(t *testing.T) {
	// Writes are due only every hour here, so only the shutdown flush can
	// write the use.
	env := hookstest.New(t, func(c *hooks.Config) {
		c.Tuning.Usage.FlushInterval = time.Hour
	})
	s := tests.ApiScenario{
		Name:                  "a request with a key",
		Method:                http.MethodGet,
		URL:                   aliceNoteURL,
		Headers:               bearer(hookstest.AliceKey),
		ExpectedStatus:        200,
		ExpectedContent:       []string{`"title":"Alice's note"`},
		TestAppFactory:        func(testing.TB) *tests.TestApp { return env.App },
		DisableTestAppCleanup: true,
	}
	s.Test(t)

	if !lastUsed(t, env.App, hookstest.AliceKeyID).IsZero() {
		t.Fatal("last_used written before shutdown; the test cannot tell the flush apart")
	}
	// What `serve` does on SIGTERM: trigger OnTerminate, which flushes
	// before PocketBase closes the database.
	err := env.App.OnTerminate().Trigger(&core.TerminateEvent{App: env.App}, func(e *core.TerminateEvent) error {
		if lastUsed(t, e.App, hookstest.AliceKeyID).IsZero() {
			t.Error("pending last_used not flushed on shutdown")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	env.App.Cleanup()
}

func mustFind(t testing.TB, app core.App, keyID string) *core.Record {
	t.Helper()
	r, err := app.FindRecordById("api_keys", keyID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLastUseRecordsClientAndCounts: the coalesced write that records the
// last use also records the client address and user agent of that use, and
// the day's request count.
func TestLastUseRecordsClientAndCounts(t *testing.T) {
	env := hookstest.New(t)
	defer env.App.Cleanup()
	h := inProcessMux(t, env)
	for i := range 3 {
		req := httptest.NewRequest(http.MethodGet, aliceNoteURL, nil)
		req.RemoteAddr = "198.51.100.23:50000"
		req.Header.Set("Authorization", "Bearer "+hookstest.AliceKey)
		req.Header.Set("User-Agent", fmt.Sprintf("deploy-bot/%d", i))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		expectStatus(t, rec, 200, "request with the key")
	}
	if err := env.App.OnTerminate().Trigger(&core.TerminateEvent{App: env.App}); err != nil {
		t.Fatal(err)
	}
	key := mustFind(t, env.App, hookstest.AliceKeyID)
	if ip, ua := key.GetString("last_used_ip"), key.GetString("last_used_user_agent"); ip != "198.51.100.23" || ua != "deploy-bot/2" {
		t.Fatalf("last use from %q with %q, want the newest request's", ip, ua)
	}
	daily, err := usage.Daily(env.App, []string{hookstest.AliceKeyID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if total := usage.Total(daily[hookstest.AliceKeyID]); total != 3 {
		t.Fatalf("%d requests counted, want 3", total)
	}
	// REST returns them to the owner
	req := httptest.NewRequest(http.MethodGet, keysURL+"/"+hookstest.AliceKeyID, nil)
	req.Header.Set("Authorization", hookstest.JWT(t, env.App, hookstest.AliceID))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, want := range []string{`"last_used_ip":"198.51.100.23"`, `"last_used_user_agent":"deploy-bot/2"`} {
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("the owner's view of the key: %d %s, want %s", rec.Code, rec.Body.String(), want)
		}
	}
}

// TestUsageCountsSurviveARestart: counts still in memory at shutdown are
// written by the flush on terminate, so the next process reads them.
func TestUsageCountsSurviveARestart(t *testing.T) {
	env := hookstest.New(t, func(c *hooks.Config) { c.Tuning.Usage.FlushInterval = time.Hour })
	h := inProcessMux(t, env)
	for range 5 {
		expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+hookstest.AliceKey, ownerIP), 200, "request with the key")
	}
	if err := env.App.OnTerminate().Trigger(&core.TerminateEvent{App: env.App}); err != nil {
		t.Fatal(err)
	}
	// the next process: a new app on a copy of the data directory
	next, err := tests.NewTestApp(env.App.DataDir())
	env.App.Cleanup()
	if err != nil {
		t.Fatal(err)
	}
	defer next.Cleanup()
	if err := hooks.Register(next, hookstest.Config()); err != nil {
		t.Fatal(err)
	}
	daily, err := usage.Daily(next, []string{hookstest.AliceKeyID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if total := usage.Total(daily[hookstest.AliceKeyID]); total != 5 {
		t.Fatalf("%d requests after the restart, want the 5 made before it", total)
	}
}

func TestUsageOverREST(t *testing.T) {
	usageURL := func(id string) string { return "/api/api-keys/" + id + "/usage" }
	for _, c := range []struct {
		name, url string
		auth      func(t testing.TB, app core.App) string
		status    int
		content   []string
	}{
		{"the owner", usageURL(hookstest.AliceKeyID), func(t testing.TB, app core.App) string { return hookstest.JWT(t, app, hookstest.AliceID) },
			200, []string{`"requests":7}]`, `{"day":"` + time.Now().UTC().AddDate(0, 0, -29).Format(time.DateOnly) + `","requests":0}`}},
		{"a superuser, any key", usageURL(hookstest.AliceKeyID), hookstest.SuperuserJWT, 200, []string{`"requests":7}]`}},
		{"another user", usageURL(hookstest.AliceKeyID), func(t testing.TB, app core.App) string { return hookstest.JWT(t, app, hookstest.BobID) }, 404, []string{`"status":404`}},
		{"an unknown key", usageURL("zzzzzzzzzzzzzzz"), func(t testing.TB, app core.App) string { return hookstest.JWT(t, app, hookstest.AliceID) }, 404, []string{`"status":404`}},
		{"an API key", usageURL(hookstest.AliceKeyID), func(testing.TB, core.App) string { return "Bearer " + hookstest.AliceKey }, 403, []string{"API keys cannot manage API keys"}},
		{"a guest", usageURL(hookstest.AliceKeyID), func(testing.TB, core.App) string { return "" }, 401, []string{`"status":401`}},
	} {
		env := hookstest.New(t)
		today := time.Now().UTC().Format(time.DateOnly)
		if err := usage.Write(env.App, []usage.KeyUsage{{KeyID: hookstest.AliceKeyID, Days: []usage.Day{{Day: today, Requests: 7}}}}); err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		if auth := c.auth(t, env.App); auth != "" {
			headers["Authorization"] = auth
		}
		scenario(t, env, tests.ApiScenario{
			Name: "usage: " + c.name, Method: http.MethodGet, URL: c.url, Headers: headers,
			ExpectedStatus: c.status, ExpectedContent: c.content,
			AfterTestFunc: func(t testing.TB, _ *tests.TestApp, res *http.Response) {
				if c.status != 200 {
					return
				}
				var days []usage.Day
				readJSON(t, res, &days)
				if len(days) != usage.Window || days[len(days)-1].Day != today {
					t.Fatalf("%d days ending %v, want %d ending today", len(days), days[len(days)-1], usage.Window)
				}
			},
		})
	}
}

func TestSuperusersReadUsageThroughTheCollection(t *testing.T) {
	env := hookstest.New(t)
	if err := usage.Write(env.App, []usage.KeyUsage{{KeyID: hookstest.BobKeyID, Days: []usage.Day{{Day: "2026-11-30", Requests: 3}}}}); err != nil {
		t.Fatal(err)
	}
	scenario(t, env, tests.ApiScenario{
		Name: "superuser lists api_key_usage", Method: http.MethodGet, URL: "/api/collections/api_key_usage/records",
		Headers:        map[string]string{"Authorization": hookstest.SuperuserJWT(t, env.App)},
		ExpectedStatus: 200, ExpectedContent: []string{`"key":"` + hookstest.BobKeyID + `"`, `"requests":3`},
	})
	env = hookstest.New(t)
	scenario(t, env, tests.ApiScenario{
		Name: "a user does not", Method: http.MethodGet, URL: "/api/collections/api_key_usage/records",
		Headers:        map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)},
		ExpectedStatus: 403, ExpectedContent: []string{`"status":403`},
	})
}
