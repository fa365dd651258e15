package verifier

import (
	"crypto/sha256"
	"crypto/subtle"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/pbkeys/pbkeys/internal/apikey"
)

// secretDigest is the SHA-256 of a presented secret. Nothing here holds a
// secret: a secret carries 256 bits of entropy, so its SHA-256 is as hard
// to reverse as the secret is to guess, and a memory dump yields no usable
// key. The database keeps argon2id, which is what protects keys when the
// database itself is stolen.
type secretDigest [sha256.Size]byte

func digestOf(secret string) secretDigest {
	// a parsed secret fits the stack buffer: no allocation per request
	var buf [apikey.SecretLength]byte
	if len(secret) <= len(buf) {
		n := copy(buf[:], secret)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(secret))
}

// hashFingerprint names a stored hash in the cache: the first 128 bits of
// its SHA-256. The PHC string itself (~100 bytes) would triple an entry.
// Two stored hashes sharing a fingerprint (a 2^-128 chance per pair, with
// random salts no one chooses) would still each need their own secret.
type hashFingerprint [16]byte

// fingerprintOf returns the fingerprint of a stored hash.
func fingerprintOf(storedHash string) hashFingerprint {
	var buf [160]byte // a PHC string fits: no allocation per request
	var sum [sha256.Size]byte
	if len(storedHash) <= len(buf) {
		n := copy(buf[:], storedHash)
		sum = sha256.Sum256(buf[:n])
	} else {
		sum = sha256.Sum256([]byte(storedHash))
	}
	return hashFingerprint(sum[:16])
}

// secretTag is what the cache keeps of a verified secret: the first 128
// bits of its digest. Forging a secret with the same tag is a 2^128 search.
type secretTag [16]byte

func (d secretDigest) tag() secretTag { return secretTag(d[:16]) }

// cacheResult is what the verified cache knows about a presented secret.
type cacheResult int

const (
	cacheMiss  cacheResult = iota // not verified recently: argon2id decides
	cacheFresh                    // verified within the TTL: accept without argon2id
	cacheStale                    // verified before, TTL passed: re-verify, but it is the holder
)

// verifiedCache remembers which secret verified against which stored hash.
//
// It is keyed by the stored hash's fingerprint, so a key whose hash changes
// or whose row is gone simply misses; the caller reads the key row on every
// request before asking, so revocation never depends on this cache. The
// presented secret's tag is compared in constant time. Age is bounded by a
// TTL counted from the last argon2id verification, size by MaximumSize.
//
// An entry is a fingerprint, a tag and a time: 40 bytes of data, plus
// otter's bookkeeping (BenchmarkVerifiedCacheMemory measures it;
// docs/performance.md has the figure). otter is a maintained
// concurrent cache: lock-free reads for the hot path, and W-TinyLFU
// eviction, which keeps frequently used keys when more keys are active than
// fit instead of cycling every key out as an LRU does. The TTL is checked
// here rather than by otter's expiry because an entry past it still means
// something (cacheStale).
type verifiedCache struct {
	ttl     time.Duration
	now     func() time.Time
	entries *otter.Cache[hashFingerprint, verifiedEntry]
}

type verifiedEntry struct {
	tag        secretTag
	verifiedAt int64 // Unix nanoseconds
}

func newVerifiedCache(size int, ttl time.Duration, now func() time.Time) *verifiedCache {
	return &verifiedCache{
		ttl:     ttl,
		now:     now,
		entries: otter.Must(&otter.Options[hashFingerprint, verifiedEntry]{MaximumSize: size}),
	}
}

// lookup reports whether the secret with tag verified against the stored
// hash with fingerprint fp, and how recently.
func (c *verifiedCache) lookup(fp hashFingerprint, tag secretTag) cacheResult {
	e, ok := c.entries.GetIfPresent(fp)
	switch {
	case !ok || subtle.ConstantTimeCompare(e.tag[:], tag[:]) != 1:
		return cacheMiss
	case c.now().UnixNano()-e.verifiedAt < int64(c.ttl):
		return cacheFresh
	default:
		return cacheStale
	}
}

// add records that the secret with tag verified against fp just now.
func (c *verifiedCache) add(fp hashFingerprint, tag secretTag) {
	c.entries.Set(fp, verifiedEntry{tag: tag, verifiedAt: c.now().UnixNano()})
}

// len returns about how many verifications are remembered.
func (c *verifiedCache) len() int {
	c.entries.CleanUp()
	return c.entries.EstimatedSize()
}
