package usage

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/clientinfo"
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

// writeLog keeps what a recorder writes.
type writeLog struct {
	mu     sync.Mutex
	calls  int                         // calls to write
	writes map[string][]KeyUsage       // per key, in order
	days   map[string]map[string]int64 // per key and day: the totals written
	fail   bool
}

func (w *writeLog) write(batch []KeyUsage) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return errors.New("disk full")
	}
	if w.writes == nil {
		w.writes = map[string][]KeyUsage{}
		w.days = map[string]map[string]int64{}
	}
	w.calls++
	for _, u := range batch {
		w.writes[u.KeyID] = append(w.writes[u.KeyID], u)
		if w.days[u.KeyID] == nil {
			w.days[u.KeyID] = map[string]int64{}
		}
		for _, d := range u.Days {
			w.days[u.KeyID][d.Day] += d.Requests
		}
	}
	return nil
}

func (w *writeLog) count(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.writes[id])
}

func (w *writeLog) last(id string) KeyUsage {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.writes[id]
	if len(ws) == 0 {
		return KeyUsage{}
	}
	return ws[len(ws)-1]
}

func (w *writeLog) total(id, day string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.days[id][day]
}

// testRecorder returns a recorder with a fake clock, flushing every flush.
func testRecorder(w *writeLog, clock *fakeClock, flush time.Duration) *Recorder {
	return newRecorder(Config{FlushInterval: flush, MinWriteInterval: time.Minute}, w.write, nil, clock.Now)
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

func TestRecorderWritesAtMostOncePerMinute(t *testing.T) {
	w := &writeLog{}
	clock := &fakeClock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	r := testRecorder(w, clock, 5*time.Millisecond)
	defer r.Close()

	// 10,000 uses within 50 s of the fake clock: the first is written
	// promptly, the rest wait for the minute to pass.
	for i := 0; i < 10_000; i++ {
		r.Touch("k1", "203.0.113.9", "curl/8.5.0")
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

	// once the minute has passed, the newest use is written, with the
	// requests made since the first write
	r.Touch("k1", "198.51.100.7", "python-requests/2.32")
	newest := clock.Now()
	clock.Add(15 * time.Second)
	waitFor(t, func() bool { return w.count("k1") == 2 })
	if got := w.last("k1"); !got.LastUsed.Equal(newest) || got.IP != "198.51.100.7" || got.UserAgent != "python-requests/2.32" {
		t.Fatalf("second write carries %+v, want the newest use", got)
	}
	if got := w.total("k1", "2026-11-24"); got != 10_001 {
		t.Fatalf("%d requests written for the day, want 10001", got)
	}
}

// A burst of requests within a flush costs one write, with the right total.
func TestRecorderBurstIsOneWrite(t *testing.T) {
	w := &writeLog{}
	clock := &fakeClock{now: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)}
	r := testRecorder(w, clock, time.Hour) // only Close writes
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				r.Touch("a", "203.0.113.9", "ci")
			}
		})
	}
	for range 7 {
		r.Touch("b", "203.0.113.10", "cron")
	}
	wg.Wait()
	r.Close()
	if w.calls != 1 {
		t.Fatalf("%d writes, want 1 for the whole burst", w.calls)
	}
	if a, b := w.total("a", "2026-11-30"), w.total("b", "2026-11-30"); a != 4000 || b != 7 {
		t.Fatalf("totals a=%d b=%d, want 4000 and 7", a, b)
	}
}

func TestRecorderCountsPerUTCDay(t *testing.T) {
	w := &writeLog{}
	clock := &fakeClock{now: time.Date(2026, 11, 29, 23, 59, 0, 0, time.UTC)}
	r := testRecorder(w, clock, time.Hour)
	for range 3 {
		r.Touch("k", "203.0.113.9", "ua")
	}
	clock.Add(2 * time.Minute) // past midnight UTC
	for range 2 {
		r.Touch("k", "203.0.113.9", "ua")
	}
	r.Close()
	got := w.last("k").Days
	want := []Day{{Day: "2026-11-29", Requests: 3}, {Day: "2026-11-30", Requests: 2}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("days %+v, want %+v", got, want)
	}
}

func TestRecorderBoundsTheUserAgent(t *testing.T) {
	w := &writeLog{}
	r := testRecorder(w, &fakeClock{now: time.Now()}, time.Hour)
	long := make([]byte, 10*clientinfo.MaxUserAgent)
	for i := range long {
		long[i] = 'a'
	}
	r.Touch("k", "203.0.113.9", string(long))
	r.Close()
	if n := len(w.last("k").UserAgent); n != clientinfo.MaxUserAgent {
		t.Fatalf("user agent of %d bytes kept, want %d", n, clientinfo.MaxUserAgent)
	}
}

func TestRecorderFlushesEverythingOnClose(t *testing.T) {
	w := &writeLog{}
	clock := &fakeClock{now: time.Now()}
	r := testRecorder(w, clock, time.Hour) // the loop never fires
	r.Touch("a", "", "")
	r.Touch("b", "", "")
	r.Close()
	r.Close() // idempotent
	if w.count("a") != 1 || w.count("b") != 1 {
		t.Fatalf("writes after Close: a=%d b=%d, want 1 each", w.count("a"), w.count("b"))
	}
}

// A failed write loses nothing: the counts are written later, added to
// what was counted meanwhile.
func TestRecorderRetriesFailedWrites(t *testing.T) {
	w := &writeLog{fail: true}
	clock := &fakeClock{now: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)}
	var failures int
	var mu sync.Mutex
	r := newRecorder(Config{FlushInterval: 5 * time.Millisecond}, w.write,
		func(int, error) { mu.Lock(); failures++; mu.Unlock() }, clock.Now)
	defer r.Close()
	r.Touch("a", "203.0.113.9", "first")
	r.Touch("a", "203.0.113.9", "first")
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return failures > 0 })
	r.Touch("a", "203.0.113.9", "second")
	w.mu.Lock()
	w.fail = false
	w.mu.Unlock()
	waitFor(t, func() bool { return w.count("a") == 1 })
	if got := w.total("a", "2026-11-30"); got != 3 {
		t.Fatalf("%d requests written, want 3", got)
	}
	if ua := w.last("a").UserAgent; ua != "second" {
		t.Fatalf("user agent %q written, want the newest", ua)
	}
}

// Many busy keys are written in batches, each all or nothing: a failed
// batch is retried without counting the others twice.
func TestRecorderWritesManyKeysInBatches(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	failOnce := true
	totals := map[string]int64{}
	r := NewRecorder(Config{FlushInterval: time.Hour}, func(batch []KeyUsage) error {
		mu.Lock()
		defer mu.Unlock()
		if failOnce {
			failOnce = false
			return errors.New("busy")
		}
		sizes = append(sizes, len(batch))
		for _, u := range batch {
			for _, d := range u.Days {
				totals[u.KeyID] += d.Requests
			}
		}
		return nil
	}, nil)
	for i := range 600 {
		id := fmt.Sprintf("k%014d", i)
		r.Touch(id, "203.0.113.9", "ua")
		r.Touch(id, "203.0.113.9", "ua")
	}
	r.Close() // the first batch fails (and is reported); the others are still written
	mu.Lock()
	if len(sizes) != 2 || sizes[0]+sizes[1] != 600-256 || max(sizes[0], sizes[1]) > 256 {
		t.Fatalf("batches %v, want the 344 keys not in the failed batch, at most 256 a batch", sizes)
	}
	mu.Unlock()
	for id, n := range totals {
		if n != 2 {
			t.Fatalf("%s: %d requests written, want 2", id, n)
		}
	}
}

// BenchmarkStageUsageTouch is the recorder's cost on every key-authenticated
// request, the address and user agent included: a map lookup under a
// mutex, no allocation for a busy key.
func BenchmarkStageUsageTouch(b *testing.B) {
	r := NewRecorder(Config{FlushInterval: time.Hour}, func([]KeyUsage) error { return nil }, nil)
	defer r.Close()
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
	r.Touch("k1alice00000001", "203.0.113.9", ua)
	b.ReportAllocs()
	for b.Loop() {
		r.Touch("k1alice00000001", "203.0.113.9", ua)
	}
}

// BenchmarkTouchParallel is Touch from every core at once, on 64 keys.
func BenchmarkTouchParallel(b *testing.B) {
	r := NewRecorder(Config{FlushInterval: time.Hour}, func([]KeyUsage) error { return nil }, nil)
	defer r.Close()
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = "k" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "000000000000"
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Touch(ids[i%len(ids)], "203.0.113.9", "curl/8.5.0")
			i++
		}
	})
}
