package verifier

import (
	"fmt"
	"testing"
	"time"
)

func testThrottle(clock *fakeClock) *failureLimits {
	return newFailureLimits(Config{
		FailureWindow:      time.Minute,
		MaxKeyFailures:     3,
		YieldAfterFailures: 5,
		MaxTrackedFailures: 100,
	}, clock.now)
}

// TestThrottleRefusesThePairOnly: wrong secrets for a key id refuse the
// client that sent them, on that key id, and nobody else — so an attacker
// who knows a key id cannot lock its holder out.
func TestThrottleRefusesThePairOnly(t *testing.T) {
	clock := newFakeClock()
	th := testThrottle(clock)
	for range 3 {
		if _, refused := th.refused("key1", "attacker"); refused {
			t.Fatal("refused before the limit")
		}
		th.fail("key1", "attacker")
		clock.advance(10 * time.Second)
	}
	for _, tc := range []struct {
		keyID, client string
		refused       bool
	}{
		{"key1", "attacker", true},
		{"key1", "holder", false},   // the same key id from elsewhere
		{"key2", "attacker", false}, // another key id from the attacker
	} {
		after, refused := th.refused(tc.keyID, tc.client)
		if refused != tc.refused {
			t.Errorf("%s from %s: refused=%v, want %v", tc.keyID, tc.client, refused, tc.refused)
		}
		if refused && after != 30*time.Second {
			t.Errorf("%s from %s: retry after %v, want 30s (the window's end)", tc.keyID, tc.client, after)
		}
	}
	clock.advance(30 * time.Second)
	if _, refused := th.refused("key1", "attacker"); refused {
		t.Fatal("a new window starts after Window")
	}
}

// TestThrottleClientYieldsButIsNotRefused: many wrong secrets from one
// address (one broken machine in a fleet behind NAT) make its
// verifications wait behind others, never refuse its other keys.
func TestThrottleClientYieldsButIsNotRefused(t *testing.T) {
	clock := newFakeClock()
	th := testThrottle(clock)
	for i := range 5 {
		if th.yielding("nat") {
			t.Fatalf("yielding after %d failures", i)
		}
		th.fail(fmt.Sprint("key", i), "nat")
	}
	if !th.yielding("nat") {
		t.Fatal("not yielding after 5 failures")
	}
	if _, refused := th.refused("key9", "nat"); refused {
		t.Fatal("a client past its failures must not be refused on other keys")
	}
	if th.yielding("other") {
		t.Fatal("another client yields")
	}
	clock.advance(time.Minute)
	if th.yielding("nat") {
		t.Fatal("still yielding in a new window")
	}
}

func TestThrottleDisabledLimits(t *testing.T) {
	th := newFailureLimits(Config{FailureWindow: time.Minute, MaxTrackedFailures: 10}, time.Now)
	for range 100 {
		th.fail("k", "c")
	}
	if _, refused := th.refused("k", "c"); refused || th.yielding("c") {
		t.Fatal("0 must disable the limits")
	}
	if th.pairs.Len() != 0 || th.clients.Len() != 0 {
		t.Fatal("disabled limits track nothing")
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	th := testThrottle(newFakeClock())
	for i := range 10_000 {
		th.fail("key", fmt.Sprint("203.0.113.", i))
	}
	if th.clients.Len() > 100 || th.pairs.Len() > 100 {
		t.Fatalf("tracking %d clients, %d pairs", th.clients.Len(), th.pairs.Len())
	}
}
