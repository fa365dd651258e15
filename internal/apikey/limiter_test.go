package apikey

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLimiterAdmitsWithinBudget(t *testing.T) {
	l := newMemoryLimiter(256, time.Millisecond)
	ctx := t.Context()
	for range 4 {
		if err := l.acquire(ctx, 64); err != nil {
			t.Fatalf("acquire within budget: %v", err)
		}
	}
	if inUse, _ := l.stats(); inUse != 256 {
		t.Fatalf("in use %d, want 256", inUse)
	}
	// the fifth waits maxWait, then gives up
	if err := l.acquire(ctx, 64); !errors.Is(err, ErrBusy) {
		t.Fatalf("over budget: %v, want ErrBusy", err)
	}
	if _, waiting := l.stats(); waiting != 0 {
		t.Fatalf("%d waiters left behind", waiting)
	}
	l.release(64)
	if err := l.acquire(ctx, 64); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestLimiterWakesWaitersInOrder(t *testing.T) {
	l := newMemoryLimiter(64, time.Minute)
	ctx := t.Context()
	if err := l.acquire(ctx, 64); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 2)
	for i := range 2 {
		go func() {
			if err := l.acquire(ctx, 64); err != nil {
				t.Error(err)
			}
			order <- i
		}()
		waitFor(t, func() bool { _, w := l.stats(); return w == i+1 })
	}
	l.release(64)
	if first := <-order; first != 0 {
		t.Fatalf("waiter %d went first", first)
	}
	l.release(64)
	if second := <-order; second != 1 {
		t.Fatalf("waiter %d went second", second)
	}
	l.release(64)
	if inUse, waiting := l.stats(); inUse != 0 || waiting != 0 {
		t.Fatalf("in use %d, waiting %d", inUse, waiting)
	}
}

func TestLimiterGivesUpWithContext(t *testing.T) {
	l := newMemoryLimiter(64, time.Minute)
	if err := l.acquire(t.Context(), 64); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.acquire(ctx, 64); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if inUse, waiting := l.stats(); inUse != 64 || waiting != 0 {
		t.Fatalf("in use %d, waiting %d", inUse, waiting)
	}
}

func TestLimiterNoWaitConfigured(t *testing.T) {
	l := newMemoryLimiter(64, 0)
	if err := l.acquire(t.Context(), 64); err != nil {
		t.Fatal(err)
	}
	if err := l.acquire(t.Context(), 1); !errors.Is(err, ErrBusy) {
		t.Fatalf("no wait allowed: %v", err)
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
