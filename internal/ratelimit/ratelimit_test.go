package ratelimit_test

import (
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/ratelimit"
)

func TestRateLimiter(t *testing.T) {
	l := ratelimit.New()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

	// a burst of the whole minute's allowance, then refusal
	for i := 0; i < 60; i++ {
		if wait := l.Allow("k", 60, now); wait != 0 {
			t.Fatalf("request %d of 60 refused (wait %s)", i+1, wait)
		}
	}
	wait := l.Allow("k", 60, now)
	if wait <= 0 || wait > time.Second {
		t.Fatalf("61st request: wait %s, want up to 1 s (one request per second refills)", wait)
	}
	// a refused request does not use up the allowance
	if w := l.Allow("k", 60, now.Add(wait)); w != 0 {
		t.Fatalf("after waiting %s: still refused (%s)", wait, w)
	}
	// other keys and unlimited keys are independent
	if l.Allow("other", 1, now) != 0 || l.Allow("k", 0, now) != 0 {
		t.Fatal("limits leak across keys")
	}
	// a full minute later the whole burst is back
	later := now.Add(2 * time.Minute)
	for i := 0; i < 60; i++ {
		if w := l.Allow("k", 60, later); w != 0 {
			t.Fatalf("after two minutes, request %d refused", i+1)
		}
	}
}
