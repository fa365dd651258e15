package apikey_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

// fakeClock is a settable clock for the recorder.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// writeLog counts the writes a recorder makes.
type writeLog struct {
	mu      sync.Mutex
	writes  map[string][]time.Time
	batches []int // uses per write
	fail    bool
}

func (w *writeLog) write(uses map[string]time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return errors.New("disk full")
	}
	if w.writes == nil {
		w.writes = map[string][]time.Time{}
	}
	w.batches = append(w.batches, len(uses))
	for id, at := range uses {
		w.writes[id] = append(w.writes[id], at)
	}
	return nil
}

func (w *writeLog) count(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.writes[id])
}

func (w *writeLog) last(id string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.writes[id]
	if len(ws) == 0 {
		return time.Time{}
	}
	return ws[len(ws)-1]
}

// newRecorder returns a recorder whose loop never fires on its own (the
// test drives flushes through Close or by waiting), with a fake clock.
func newRecorder(w *writeLog, clock *fakeClock, flush time.Duration) *apikey.UsageRecorder {
	return apikey.NewUsageRecorder(apikey.UsageConfig{
		Write:            w.write,
		FlushInterval:    flush,
		MinWriteInterval: time.Minute,
		Now:              clock.Now,
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 3 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUsageRecorderWritesAtMostOncePerMinute(t *testing.T) {
	w := &writeLog{}
	clock := &fakeClock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	r := newRecorder(w, clock, 5*time.Millisecond)
	defer r.Close()

	// 10,000 uses within 50 s of the fake clock: the first is written
	// promptly, the rest wait for the minute to pass.
	for i := 0; i < 10_000; i++ {
		r.Touch("k1")
		if i == 0 {
			waitFor(t, func() bool { return w.count("k1") == 1 })
		}
		if i%200 == 0 {
			clock.Add(time.Second)
		}
	}
	time.Sleep(50 * time.Millisecond) // several flush ticks
	if n := w.count("k1"); n != 1 {
		t.Fatalf("%d writes within the minute, want 1", n)
	}

	// once the minute has passed, the newest use is written
	clock.Add(15 * time.Second)
	waitFor(t, func() bool { return w.count("k1") == 2 })
	if got, want := w.last("k1"), clock.Now().Add(-15*time.Second); !got.Equal(want) {
		t.Fatalf("second write carries %s, want the newest use %s", got, want)
	}
}

func TestUsageRecorderFlushesEverythingOnClose(t *testing.T) {
	w := &writeLog{}
	clock := &fakeClock{now: time.Now()}
	r := newRecorder(w, clock, time.Hour) // the loop never fires
	r.Touch("a")
	r.Touch("b")
	r.Close()
	r.Close() // idempotent
	if w.count("a") != 1 || w.count("b") != 1 {
		t.Fatalf("writes after Close: a=%d b=%d, want 1 each", w.count("a"), w.count("b"))
	}
}

func TestUsageRecorderRetriesFailedWrites(t *testing.T) {
	w := &writeLog{fail: true}
	clock := &fakeClock{now: time.Now()}
	var failures int
	var mu sync.Mutex
	r := apikey.NewUsageRecorder(apikey.UsageConfig{
		Write:         w.write,
		FlushInterval: 5 * time.Millisecond,
		Now:           clock.Now,
		OnError:       func(int, error) { mu.Lock(); failures++; mu.Unlock() },
	})
	defer r.Close()
	r.Touch("a")
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return failures > 0 })
	w.mu.Lock()
	w.fail = false
	w.mu.Unlock()
	waitFor(t, func() bool { return w.count("a") == 1 })
}

// TestUsageRecorderWritesInBatches: a fleet's uses are written a few hundred
// rows per transaction, each key once.
func TestUsageRecorderWritesInBatches(t *testing.T) {
	w := &writeLog{}
	clock := &fakeClock{now: time.Now()}
	r := newRecorder(w, clock, time.Hour) // the loop never fires
	for i := range 4321 {
		r.Touch(fmt.Sprint("k", i))
	}
	r.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.writes) != 4321 || len(w.batches) != 3 || slices.Max(w.batches) > 2000 {
		t.Fatalf("%d keys written in batches of %v, want 4321 in 3 of at most 2000", len(w.writes), w.batches)
	}
}
