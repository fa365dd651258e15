package hooks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/internal/pbtest"
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
	env := pbtest.New(t) // flushes every 50 ms in tests (2 s in production)
	before := time.Now().Add(-time.Second)
	updatedBefore := mustFind(t, env.App, pbtest.AliceKeyID).GetDateTime("updated")

	s := tests.ApiScenario{
		Name:                  "a request with a key",
		Method:                http.MethodGet,
		URL:                   aliceNoteURL,
		Headers:               bearer(pbtest.AliceKey),
		ExpectedStatus:        200,
		ExpectedContent:       []string{`"title":"Alice's note"`},
		TestAppFactory:        func(testing.TB) *tests.TestApp { return env.App },
		DisableTestAppCleanup: true,
		AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
			deadline := time.Now().Add(3 * time.Second)
			for lastUsed(t, app, pbtest.AliceKeyID).IsZero() {
				if time.Now().After(deadline) {
					t.Fatal("last_used still empty 3 s after the request")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := lastUsed(t, app, pbtest.AliceKeyID); got.Before(before) || got.After(time.Now().Add(time.Second)) {
				t.Fatalf("last_used = %s, want about now", got)
			}
			if !lastUsed(t, app, pbtest.BobKeyID).IsZero() {
				t.Fatal("an unused key got a last_used time")
			}
			// bookkeeping, not an edit: "updated" does not move
			if got := mustFind(t, app, pbtest.AliceKeyID).GetDateTime("updated"); !got.Equal(updatedBefore) {
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
	env := pbtest.New(t, func(c *hooks.Config) {
		c.LastUsedFlushInterval = time.Hour
	})
	s := tests.ApiScenario{
		Name:                  "a request with a key",
		Method:                http.MethodGet,
		URL:                   aliceNoteURL,
		Headers:               bearer(pbtest.AliceKey),
		ExpectedStatus:        200,
		ExpectedContent:       []string{`"title":"Alice's note"`},
		TestAppFactory:        func(testing.TB) *tests.TestApp { return env.App },
		DisableTestAppCleanup: true,
	}
	s.Test(t)

	if !lastUsed(t, env.App, pbtest.AliceKeyID).IsZero() {
		t.Fatal("last_used written before shutdown; the test cannot tell the flush apart")
	}
	// What `serve` does on SIGTERM: trigger OnTerminate, which flushes
	// before PocketBase closes the database.
	err := env.App.OnTerminate().Trigger(&core.TerminateEvent{App: env.App}, func(e *core.TerminateEvent) error {
		if lastUsed(t, e.App, pbtest.AliceKeyID).IsZero() {
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
