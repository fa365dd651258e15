package verifier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// limiterRun drives a argon2Queue from a test: jobs are queued one after
// another (each waits until the previous one is queued), and grants are
// recorded in order.
type limiterRun struct {
	t        *testing.T
	l        *argon2Queue
	granted  chan string
	errs     chan error
	returned atomic.Int64 // acquires that returned
}

func newLimiterRun(t *testing.T, budget uint32, maxQueued int) *limiterRun {
	return &limiterRun{
		t:       t,
		l:       newArgon2Queue(budget, time.Minute, maxQueued),
		granted: make(chan string, 100),
		errs:    make(chan error, 100),
	}
}

// queue starts acquiring job (named name) and waits until it waits.
func (r *limiterRun) queue(name string, job queueJob) {
	r.t.Helper()
	_, before := r.l.stats()
	returned := r.returned.Load()
	go func() {
		err := r.l.acquire(r.t.Context(), job)
		r.returned.Add(1)
		if err != nil {
			r.errs <- fmt.Errorf("%s: %w", name, err)
			return
		}
		r.granted <- name
	}()
	waitFor(r.t, func() bool {
		_, n := r.l.stats()
		return n > before || r.returned.Load() > returned
	})
}

// next releases job and returns the name of the job granted next.
func (r *limiterRun) next(release queueJob) string {
	r.t.Helper()
	r.l.release(release)
	select {
	case name := <-r.granted:
		return name
	case err := <-r.errs:
		r.t.Fatal(err)
	case <-time.After(5 * time.Second):
		r.t.Fatal("nothing granted")
	}
	return ""
}

func job(client string, kib int64) queueJob { return queueJob{client: client, kib: kib} }

func TestLimiterAdmitsWithinBudget(t *testing.T) {
	l := newArgon2Queue(256, time.Millisecond, 100)
	ctx := t.Context()
	for range 4 {
		if err := l.acquire(ctx, job("c", 64)); err != nil {
			t.Fatalf("acquire within budget: %v", err)
		}
	}
	if inUse, _ := l.stats(); inUse != 256 {
		t.Fatalf("in use %d, want 256", inUse)
	}
	// the fifth waits maxWait, then gives up
	if err := l.acquire(ctx, job("c", 64)); !errors.Is(err, ErrBusy) {
		t.Fatalf("over budget: %v, want ErrBusy", err)
	}
	if _, waiting := l.stats(); waiting != 0 {
		t.Fatalf("%d waiters left behind", waiting)
	}
	l.release(job("c", 64))
	if err := l.acquire(ctx, job("c", 64)); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// TestLimiterTakesTurnsPerClient: the fairness decision. A client with a
// queue of its own (a herd, a flood) delays a newcomer by one turn per
// waiting client, not by its whole queue.
func TestLimiterTakesTurnsPerClient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		queue []string // client of each job, in arrival order
		want  []string // grant order
	}{
		{"one client: first come, first served", []string{"a", "a", "a"}, []string{"a1", "a2", "a3"}},
		{"a late client gets the next round's turn", []string{"a", "a", "a", "a", "b"}, []string{"a1", "b1", "a2", "a3", "a4"}},
		{"three clients alternate", []string{"a", "a", "a", "b", "b", "c"}, []string{"a1", "b1", "c1", "a2", "b2", "a3"}},
		{"a herd of 50 delays another client by one turn", append(slices.Repeat([]string{"herd"}, 50), "solo"), []string{"herd1", "solo1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newLimiterRun(t, 64, 100)
			running := job("x", 64)
			if err := r.l.acquire(t.Context(), running); err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, c := range tc.queue {
				seen[c]++
				r.queue(fmt.Sprint(c, seen[c]), job(c, 64))
			}
			var got []string
			for range tc.want {
				got = append(got, r.next(running))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("grants %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLimiterYieldingClientsWait: clients past their failure limit wait
// behind the others, but get one turn in yieldShare.
func TestLimiterYieldingClientsWait(t *testing.T) {
	r := newLimiterRun(t, 64, 100)
	running := job("x", 64)
	if err := r.l.acquire(t.Context(), running); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		r.queue(fmt.Sprint("guesser", i), queueJob{client: fmt.Sprint("guesser", i), kib: 64, prio: prioYield})
	}
	for i := range 6 {
		r.queue(fmt.Sprint("good", i), job(fmt.Sprint("good", i), 64))
	}
	var got []string
	for range 12 {
		got = append(got, r.next(running))
	}
	want := []string{"good0", "good1", "good2", "guesser0", "good3", "good4", "good5", "guesser1", "guesser2", "guesser3", "guesser4", "guesser5"}
	if !slices.Equal(got, want) {
		t.Fatalf("grants %v\nwant     %v", got, want)
	}
}

// TestLimiterDemotesAClientPastItsFailures: jobs a flooding client queued
// before its first failure lose their places; a proven holder's keeps it.
func TestLimiterDemotesAClientPastItsFailures(t *testing.T) {
	r := newLimiterRun(t, 64, 100)
	running := job("x", 64)
	if err := r.l.acquire(t.Context(), running); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r.queue(fmt.Sprint("flood", i+1), job("flood", 64))
	}
	r.queue("flood holder", queueJob{client: "flood", kib: 64, holder: true})
	r.queue("late", job("late", 64))
	r.l.demote("flood")
	var got []string
	for range 5 {
		got = append(got, r.next(running))
	}
	if want := []string{"flood holder", "late", "flood1", "flood2", "flood3"}; !slices.Equal(got, want) {
		t.Fatalf("grants %v, want %v", got, want)
	}
}

// TestLimiterRunsOneJobPerSerial: two verifications of one (key id,
// client) never run together, so each failure is counted before the next
// starts; other serials pass them.
func TestLimiterRunsOneJobPerSerial(t *testing.T) {
	r := newLimiterRun(t, 1024, 100)
	pair := queueJob{client: "c", serial: "k1\x00c", kib: 64}
	if err := r.l.acquire(t.Context(), pair); err != nil {
		t.Fatal(err)
	}
	r.queue("same pair", pair)
	r.queue("other key", queueJob{client: "c", serial: "k2\x00c", kib: 64})
	if got := <-r.granted; got != "other key" {
		t.Fatalf("%s granted while the pair runs", got)
	}
	select {
	case name := <-r.granted:
		t.Fatalf("%s granted although its pair is running and memory is free", name)
	case <-time.After(20 * time.Millisecond):
	}
	if got := r.next(pair); got != "same pair" {
		t.Fatalf("after the pair's run: %s", got)
	}
}

// TestLimiterMakesRoomFromTheLongestQueue: when the queue is full, the
// client with the most waiting loses its newest job, not a newcomer.
func TestLimiterMakesRoomFromTheLongestQueue(t *testing.T) {
	r := newLimiterRun(t, 64, 3)
	running := job("x", 64)
	if err := r.l.acquire(t.Context(), running); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r.queue(fmt.Sprint("flood", i+1), job("flood", 64))
	}
	r.queue("solo", job("solo", 64)) // refuses flood3
	select {
	case err := <-r.errs:
		if !errors.Is(err, ErrBusy) || err.Error()[:6] != "flood3" {
			t.Fatalf("refused: %v, want flood3 busy", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nobody refused")
	}
	// the longest queue is the flood's own: its next job is the one refused
	if err := r.l.acquire(t.Context(), job("flood", 64)); !errors.Is(err, ErrBusy) {
		t.Fatalf("flood past the bound: %v, want ErrBusy", err)
	}
	if got := []string{r.next(running), r.next(running)}; !slices.Equal(got, []string{"flood1", "solo"}) {
		t.Fatalf("grants %v", got)
	}
}

func TestLimiterGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxWait time.Duration
		ctx     func(context.Context) context.Context
		want    error
	}{
		{"context ended", time.Minute, func(ctx context.Context) context.Context {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return ctx
		}, context.Canceled},
		{"no wait configured", 0, func(ctx context.Context) context.Context { return ctx }, ErrBusy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newArgon2Queue(64, tc.maxWait, 10)
			if err := l.acquire(t.Context(), job("c", 64)); err != nil {
				t.Fatal(err)
			}
			if err := l.acquire(tc.ctx(t.Context()), job("d", 64)); !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
			if inUse, waiting := l.stats(); inUse != 64 || waiting != 0 {
				t.Fatalf("in use %d, waiting %d", inUse, waiting)
			}
		})
	}
}

// waitFor polls cond for up to 5 s: goroutine scheduling, not timing, is
// what the tests wait for.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
