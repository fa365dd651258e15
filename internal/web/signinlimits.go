package web

import (
	"sync"
	"time"
)

// signInLimits counts failed sign-ins (and sign-ups) per key ("email:…",
// "ip:…") in a sliding window. It lives in memory, per process: enough to make online password
// guessing slow, with no table to clean up. A restart forgets it.
type signInLimits struct {
	mu       sync.Mutex
	window   time.Duration
	failures map[string][]time.Time // oldest first, only within window
}

func newSignInLimits(window time.Duration) *signInLimits {
	return &signInLimits{window: window, failures: map[string][]time.Time{}}
}

// limit is one key and how many failures it may have within the window.
type limit struct {
	key string
	max int
}

// reserve checks and counts an attempt in one step: it returns how long to
// wait when any limit is reached (counting nothing), or 0 after recording
// the attempt as a failure under every limit. Checking and counting under
// one lock is what stops parallel requests from all passing the check
// before the first failure is counted. A successful attempt calls release.
func (t *signInLimits) reserve(now time.Time, limits ...limit) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if wait := t.waitLocked(now, limits...); wait > 0 {
		return wait
	}
	t.failLocked(now, limits...)
	return 0
}

// release takes back an attempt reserved at now that turned out fine.
func (t *signInLimits) release(now time.Time, limits ...limit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range limits {
		list := t.failures[l.key]
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].Equal(now) {
				t.failures[l.key] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
	}
}

// wait returns how long to wait before the next attempt is allowed under
// every limit; 0 means go ahead.
func (t *signInLimits) wait(now time.Time, limits ...limit) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.waitLocked(now, limits...)
}

func (t *signInLimits) waitLocked(now time.Time, limits ...limit) time.Duration {
	var longest time.Duration
	for _, l := range limits {
		recent := t.recent(l.key, now)
		if l.max > 0 && len(recent) >= l.max {
			// Allowed again when enough failures have left the window.
			if d := recent[len(recent)-l.max].Add(t.window).Sub(now); d > longest {
				longest = d
			}
		}
	}
	return longest
}

// fail records a failed attempt under every limit.
func (t *signInLimits) fail(now time.Time, limits ...limit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failLocked(now, limits...)
}

func (t *signInLimits) failLocked(now time.Time, limits ...limit) {
	if len(t.failures) > 10000 {
		t.prune(now)
	}
	for _, l := range limits {
		recent := t.recent(l.key, now)
		if l.max > 0 && len(recent) >= 2*l.max {
			recent = recent[1:] // bounded memory per key; still over the limit
		}
		t.failures[l.key] = append(recent, now)
	}
}

// reset forgets the failures of key (after a successful sign-in).
func (t *signInLimits) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, key)
}

func (t *signInLimits) recent(key string, now time.Time) []time.Time {
	list := t.failures[key]
	i := 0
	for i < len(list) && now.Sub(list[i]) >= t.window {
		i++
	}
	if i == len(list) {
		delete(t.failures, key)
		return nil
	}
	list = list[i:]
	t.failures[key] = list
	return list
}

func (t *signInLimits) prune(now time.Time) {
	for key := range t.failures {
		t.recent(key, now)
	}
}
