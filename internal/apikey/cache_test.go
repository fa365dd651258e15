package apikey

import (
	"testing"
	"time"
)

// fakeClock is a settable clock for tests of time windows.
type fakeClock struct{ t time.Time }

func newFakeClock() *fakeClock               { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestVerifiedCache(t *testing.T) {
	clock := newFakeClock()
	c := newVerifiedCache(2, time.Minute, clock.now)
	right, wrong := digestOf("right"), digestOf("wrong")

	if got := c.lookup("hashA", &right); got != cacheMiss {
		t.Fatalf("empty cache: %v, want miss", got)
	}
	c.add("hashA", &right)
	if got := c.lookup("hashA", &right); got != cacheFresh {
		t.Fatalf("after add: %v, want fresh", got)
	}
	if got := c.lookup("hashA", &wrong); got != cacheMiss {
		t.Fatalf("other secret: %v, want miss", got)
	}
	if got := c.lookup("hashB", &right); got != cacheMiss {
		t.Fatalf("same secret, other stored hash (e.g. a re-issued key): %v, want miss", got)
	}

	clock.advance(time.Minute)
	if got := c.lookup("hashA", &right); got != cacheStale {
		t.Fatalf("after the TTL: %v, want stale", got)
	}
	if got := c.lookup("hashA", &wrong); got != cacheMiss {
		t.Fatalf("after the TTL, other secret: %v, want miss", got)
	}
	c.add("hashA", &right) // re-verified
	if got := c.lookup("hashA", &right); got != cacheFresh {
		t.Fatalf("re-verified: %v, want fresh", got)
	}

	c.add("hashB", &right)
	c.add("hashC", &right) // evicts hashA, the least recently used
	if got := c.lookup("hashA", &right); got != cacheMiss || c.len() != 2 {
		t.Fatalf("bounded size: %v with %d entries", got, c.len())
	}
}

func TestVerifiedCacheHoldsNoSecret(t *testing.T) {
	c := newVerifiedCache(4, time.Minute, time.Now)
	secret := "4dONW9nY_twlMQ3O-ZFbGeE6yTNybcUolPYe121ICiI"
	d := digestOf(secret)
	c.add("hash", &d)
	e, _ := c.entries.get("hash")
	if string(e.digest[:]) == secret || len(e.digest) != 32 {
		t.Fatal("the cache must hold a SHA-256 digest, not the secret")
	}
}
