package web

import (
	"sync"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	th := newSignInLimits(time.Minute)
	now := time.Now()
	email := limit{key: "email:a", max: 3}
	ip := limit{key: "ip:1", max: 5}
	for i := 0; i < 3; i++ {
		if w := th.wait(now, email, ip); w != 0 {
			t.Fatalf("attempt %d throttled", i+1)
		}
		th.fail(now.Add(time.Duration(i)*time.Second), email, ip)
	}
	if w := th.wait(now.Add(3*time.Second), email, ip); w != 57*time.Second {
		t.Errorf("wait %v, want 57s (until the first failure leaves the window)", w)
	}
	if w := th.wait(now.Add(time.Minute), email, ip); w != 0 {
		t.Errorf("still throttled after the window: %v", w)
	}
	// Guessing across addresses from one IP meets the IP's budget.
	th2 := newSignInLimits(time.Minute)
	for i := 0; i < ip.max; i++ {
		th2.fail(now, limit{key: "email:" + string(rune('a'+i)), max: 3}, ip)
	}
	if w := th2.wait(now, limit{key: "email:z", max: 3}, ip); w == 0 {
		t.Error("IP limit not applied")
	}
	th.reset(email.key)
	if _, ok := th.failures[email.key]; ok {
		t.Error("reset kept failures")
	}
}

func TestThrottleReserveIsAtomic(t *testing.T) {
	th := newSignInLimits(time.Minute)
	now := time.Now()
	l := limit{key: "email:a", max: 5}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if th.reserve(now, l) == 0 {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 5 {
		t.Fatalf("%d of 50 concurrent attempts allowed, want 5", allowed)
	}
	// a released attempt gives its place back
	th2 := newSignInLimits(time.Minute)
	for i := 0; i < 5; i++ {
		at := now.Add(time.Duration(i) * time.Millisecond)
		if th2.reserve(at, l) != 0 {
			t.Fatalf("attempt %d refused", i)
		}
		th2.release(at, l)
	}
	if th2.reserve(now.Add(time.Second), l) != 0 {
		t.Fatal("released attempts still count")
	}
}
