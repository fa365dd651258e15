package verifier

import (
	"bytes"
	"fmt"
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
	c := newVerifiedCache(100, time.Minute, clock.now)
	right, wrong := digestOf("right"), digestOf("wrong")
	hashA, hashB := fingerprintOf("$argon2id$A"), fingerprintOf("$argon2id$B")

	for _, tc := range []struct {
		name    string
		advance time.Duration
		add     bool // record (hashA, right) first
		fp      hashFingerprint
		digest  secretDigest
		want    cacheResult
	}{
		{"empty cache", 0, false, hashA, right, cacheMiss},
		{"after add", 0, true, hashA, right, cacheFresh},
		{"other secret", 0, false, hashA, wrong, cacheMiss},
		{"same secret, other stored hash (e.g. a re-issued key)", 0, false, hashB, right, cacheMiss},
		{"just before the TTL", time.Minute - time.Nanosecond, false, hashA, right, cacheFresh},
		{"after the TTL", time.Nanosecond, false, hashA, right, cacheStale},
		{"after the TTL, other secret", 0, false, hashA, wrong, cacheMiss},
		{"re-verified", 0, true, hashA, right, cacheFresh},
	} {
		clock.advance(tc.advance)
		if tc.add {
			c.add(hashA, right.tag())
		}
		if got := c.lookup(tc.fp, tc.digest.tag()); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestVerifiedCacheIsBounded(t *testing.T) {
	c := newVerifiedCache(100, time.Minute, time.Now)
	d := digestOf("secret")
	for i := range 10_000 {
		c.add(fingerprintOf(fmt.Sprint("hash", i)), d.tag())
	}
	if n := c.len(); n > 100 {
		t.Fatalf("%d entries, bounded to 100", n)
	}
}

func TestVerifiedCacheHoldsNoSecret(t *testing.T) {
	c := newVerifiedCache(4, time.Minute, time.Now)
	secret := "4dONW9nY_twlMQ3O-ZFbGeE6yTNybcUolPYe121ICiI"
	hash := "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
	d := digestOf(secret)
	c.add(fingerprintOf(hash), d.tag())
	e, ok := c.entries.GetIfPresent(fingerprintOf(hash))
	if !ok || bytes.Contains([]byte(secret), e.tag[:4]) || len(e.tag) != 16 {
		t.Fatal("the cache must hold a truncated SHA-256 of the secret, not the secret")
	}
}

func TestCacheKeysDoNotAllocate(t *testing.T) {
	hash := "$argon2id$v=19$m=65536,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	secret := "4dONW9nY_twlMQ3O-ZFbGeE6yTNybcUolPYe121ICiI"
	if n := testing.AllocsPerRun(100, func() { _ = fingerprintOf(hash); _ = digestOf(secret) }); n != 0 {
		t.Fatalf("%v allocations per request for the cache keys", n)
	}
}
