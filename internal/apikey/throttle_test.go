package apikey

import (
	"testing"
	"time"
)

func testThrottle(clock *fakeClock) *failureThrottle {
	return newFailureThrottle(ThrottleConfig{
		Window:               time.Minute,
		MaxFailuresPerKey:    3,
		MaxFailuresPerClient: 5,
		MaxTracked:           100,
	}, clock.now)
}

func TestThrottleBlocksKeyAfterFailures(t *testing.T) {
	clock := newFakeClock()
	th := testThrottle(clock)
	for i := range 3 {
		if _, _, ok := th.reserve("key1", "client"+string(rune('a'+i))); !ok {
			t.Fatalf("attempt %d refused", i)
		}
		clock.advance(10 * time.Second)
	}
	_, after, ok := th.reserve("key1", "fresh-client")
	if ok || after != 30*time.Second {
		t.Fatalf("4th failure on key1: ok=%v retry after %v, want refused for 30s", ok, after)
	}
	if _, _, ok := th.reserve("key2", "fresh-client"); !ok {
		t.Fatal("another key is not affected")
	}
	clock.advance(30 * time.Second)
	if _, _, ok := th.reserve("key1", "fresh-client"); !ok {
		t.Fatal("a new window starts after Window")
	}
}

func TestThrottleBlocksClientAcrossKeys(t *testing.T) {
	clock := newFakeClock()
	th := testThrottle(clock)
	for i := range 5 {
		if _, _, ok := th.reserve(string(rune('a'+i)), "10.0.0.1"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if _, after, ok := th.reserve("z", "10.0.0.1"); ok || after != time.Minute {
		t.Fatalf("6th failure from one client: ok=%v after=%v", ok, after)
	}
	if _, _, ok := th.reserve("z", "10.0.0.2"); !ok {
		t.Fatal("another client is not affected")
	}
}

func TestThrottleRefundsSuccesses(t *testing.T) {
	clock := newFakeClock()
	th := testThrottle(clock)
	for range 10 {
		ticket, _, ok := th.reserve("key1", "c")
		if !ok {
			t.Fatal("successful attempts must not fill the window")
		}
		th.refund(ticket)
	}
	// a refund from an ended window does not eat into the new one
	old, _, _ := th.reserve("key1", "c")
	clock.advance(time.Minute)
	for range 2 {
		th.reserve("key1", "c")
	}
	th.refund(old)
	if w, _ := th.keys.get("key1"); w.count != 2 {
		t.Fatalf("count %d, want 2", w.count)
	}
}

func TestThrottleDisabledLimits(t *testing.T) {
	th := newFailureThrottle(ThrottleConfig{Window: time.Minute, MaxTracked: 10}, time.Now)
	for range 100 {
		if _, _, ok := th.reserve("k", "c"); !ok {
			t.Fatal("0 must disable the limits")
		}
	}
	if th.keys.len() != 0 || th.clients.len() != 0 {
		t.Fatal("disabled limits track nothing")
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	th := testThrottle(newFakeClock())
	for i := range 10_000 {
		th.reserve("key", "203.0.113."+string(rune(i)))
	}
	if th.clients.len() > 100 || th.keys.len() != 1 {
		t.Fatalf("tracking %d clients, %d keys", th.clients.len(), th.keys.len())
	}
}
