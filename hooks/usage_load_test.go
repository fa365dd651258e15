package hooks_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
)

// TestLastUsedWritesUnderLoad: 10,000 requests with one key, well within a
// minute, cause at most 2 database writes for that key — the first use
// (written on the next flush) and the newest use (written at shutdown),
// each with its daily count — counted at the database, not inferred from
// timing; and the counts written add up to the 10,000 requests.
func TestLastUsedWritesUnderLoad(t *testing.T) {
	env := hookstest.New(t) // flushes every 50 ms; at most one write per key per minute
	db, ok := env.App.NonconcurrentDB().(*dbx.DB)
	if !ok {
		t.Fatalf("NonconcurrentDB is %T, want *dbx.DB", env.App.NonconcurrentDB())
	}
	var writes, countWrites, otherKeyWrites atomic.Int64
	previous := db.ExecLogFunc
	db.ExecLogFunc = func(ctx context.Context, d time.Duration, query string, res sql.Result, err error) {
		if previous != nil {
			previous(ctx, d, query, res, err)
		}
		switch {
		case strings.HasPrefix(query, "UPDATE {{api_keys}}") && strings.Contains(query, "last_used"):
			if strings.Contains(query, hookstest.AliceKeyID) {
				writes.Add(1)
			} else {
				otherKeyWrites.Add(1)
			}
		case strings.HasPrefix(query, "INSERT INTO {{api_key_usage}}"):
			if strings.Contains(query, hookstest.AliceKeyID) {
				countWrites.Add(1)
			} else {
				otherKeyWrites.Add(1)
			}
		}
	}
	h := inProcessMux(t, env)

	start := time.Now()
	const requests, workers = 10_000, 4
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= requests {
				if rec := getAs(h, aliceNoteURL, "Bearer "+hookstest.AliceKey, ownerIP); rec.Code != 200 {
					t.Errorf("status %d", rec.Code)
					return
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(150 * time.Millisecond) // let a flush or two run after the burst

	// shut down: OnTerminate, as `serve` triggers it on SIGTERM, flushes
	// what is pending
	if err := env.App.OnTerminate().Trigger(&core.TerminateEvent{App: env.App}); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	var total int64
	if err := env.App.DB().Select("COALESCE(SUM(requests), 0)").From("api_key_usage").
		Where(dbx.HashExp{"key": hookstest.AliceKeyID}).Row(&total); err != nil {
		t.Fatal(err)
	}
	env.App.Cleanup()

	if elapsed >= time.Minute {
		t.Skipf("the run took %v; the bound is per minute", elapsed)
	}
	t.Logf("%d requests in %v: %d last_used writes, %d count writes", requests, elapsed.Round(time.Millisecond), writes.Load(), countWrites.Load())
	if n := writes.Load(); n < 1 || n > 2 {
		t.Fatalf("%d last_used writes for the key, want 1 or 2", n)
	}
	if n := countWrites.Load(); n != writes.Load() {
		t.Fatalf("%d daily count writes, want one with each last_used write (%d)", n, writes.Load())
	}
	if total != requests {
		t.Fatalf("%d requests counted, want %d", total, requests)
	}
	if n := otherKeyWrites.Load(); n != 0 {
		t.Fatalf("%d writes for keys that were not used", n)
	}
}
