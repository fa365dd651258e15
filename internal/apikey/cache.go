package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"
)

// secretDigest is the SHA-256 of a presented secret. The cache holds
// digests, never secrets: a secret carries 256 bits of entropy, so its
// SHA-256 is as hard to reverse as the secret is to guess, and a memory dump
// yields no usable key. The database keeps argon2id, which is what protects
// keys when the database itself is stolen.
type secretDigest [sha256.Size]byte

func digestOf(secret string) secretDigest {
	// a parsed secret fits the stack buffer: no allocation per request
	var buf [SecretLength]byte
	if len(secret) <= len(buf) {
		n := copy(buf[:], secret)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(secret))
}

// cacheResult is what the verified cache knows about a presented secret.
type cacheResult int

const (
	cacheMiss  cacheResult = iota // not verified recently: argon2id decides
	cacheFresh                    // verified within the TTL: accept without argon2id
	cacheStale                    // verified before, TTL passed: re-verify, but it is the owner
)

// verifiedCache remembers which secret verified against which stored hash.
//
// It is keyed by the stored hash (the PHC string, unique per key thanks to
// its random salt), so a key whose hash changes or whose row is gone simply
// misses; the caller reads the key row on every request before asking, so
// revocation never depends on this cache. The digest of the presented
// secret is compared in constant time. Size is bounded by an LRU and age by
// a TTL counted from the last argon2id verification.
type verifiedCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries *lru[string, verifiedEntry]
}

type verifiedEntry struct {
	digest     secretDigest
	verifiedAt time.Time
}

func newVerifiedCache(size int, ttl time.Duration, now func() time.Time) *verifiedCache {
	return &verifiedCache{ttl: ttl, now: now, entries: newLRU[string, verifiedEntry](size)}
}

// lookup reports whether digest verified against storedHash, and how recently.
func (c *verifiedCache) lookup(storedHash string, digest *secretDigest) cacheResult {
	c.mu.Lock()
	e, ok := c.entries.get(storedHash)
	var match bool
	var at time.Time
	if ok {
		match = subtle.ConstantTimeCompare(e.digest[:], digest[:]) == 1
		at = e.verifiedAt
	}
	c.mu.Unlock()
	switch {
	case !match:
		return cacheMiss
	case c.now().Sub(at) < c.ttl:
		return cacheFresh
	default:
		return cacheStale
	}
}

// add records that digest verified against storedHash just now.
func (c *verifiedCache) add(storedHash string, digest *secretDigest) {
	now := c.now()
	c.mu.Lock()
	c.entries.put(storedHash, verifiedEntry{digest: *digest, verifiedAt: now})
	c.mu.Unlock()
}

// len returns the number of remembered verifications.
func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries.len()
}
