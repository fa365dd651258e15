package apikey

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"
)

// Errors returned by Verifier.Verify besides ErrMismatch.
var (
	// ErrThrottled is returned (inside a *RetryError) when this client has
	// sent too many wrong secrets for this key id in the current throttle
	// window, after holding the caller for ThrottleConfig.Delay. No
	// argon2id work was done.
	ErrThrottled = errors.New("apikey: too many failed attempts")

	// ErrBusy is returned (inside a *RetryError) when the verification did
	// not get its turn within MaxWait, or MaxQueued were already waiting. No
	// argon2id work was done.
	ErrBusy = errors.New("apikey: verifier busy")

	// ErrUnusableHash is returned when the stored hash is not a usable
	// argon2id PHC string, or needs more memory than the whole budget allows.
	ErrUnusableHash = errors.New("apikey: unusable stored hash")
)

// RetryError is a refusal that says when to try again: the caller answers
// with a Retry-After header. It wraps ErrThrottled or ErrBusy.
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (retry after %v)", e.Err, e.After)
}

func (e *RetryError) Unwrap() error { return e.Err }

// VerifierConfig configures a Verifier. The zero value is useful: every
// zero field means its default (DefaultVerifierConfig), and the fields that
// say so take a negative value for "off".
type VerifierConfig struct {
	// Params are the argon2id parameters new hashes are made with
	// (DefaultParams when zero). A key whose stored hash has other
	// parameters is re-hashed with these after its next successful argon2id
	// verification, when Rehash is set.
	Params argon2id.Params

	// Rehash stores a re-hashed key (compare-and-set); nil turns
	// re-hashing off.
	Rehash RehashFunc

	// RehashError is told when a re-hash failed (never with the secret);
	// nil ignores it.
	RehashError func(keyID string, err error)

	// MemoryBudgetKiB is how much argon2id memory, in kibibytes, all
	// running verifications (and re-hashes) may use together. Each needs
	// the memory written in its hash (65536 KiB with DefaultParams), so the
	// budget divided by that is how many run at once. A stored hash needing
	// more than the whole budget is refused with ErrUnusableHash. Zero:
	// room for two hashes with Params, and at least the default 128 MiB, so
	// that keys hashed before the parameters were lowered still verify
	// (and are then re-hashed).
	MemoryBudgetKiB uint32

	// MaxWait is the longest a verification waits for its turn before it is
	// refused with ErrBusy. Turns go round the clients waiting, so a long
	// wait is a client's own queue (a herd of its own keys) or very many
	// clients verifying at once. Negative: no waiting.
	MaxWait time.Duration

	// MaxQueued is how many verifications may wait for their turn at once;
	// past it, the newest of the client with the most waiting is refused
	// with ErrBusy.
	MaxQueued int

	// BusyRetryAfter is the Retry-After suggested with ErrBusy.
	BusyRetryAfter time.Duration

	// CacheSize is how many successful verifications are remembered.
	// Negative: no cache, and no coalescing of identical verifications:
	// every request pays argon2id, which is the naive design benchmarks
	// compare against.
	CacheSize int

	// CacheTTL is how long a remembered verification is accepted without
	// running argon2id again, counted from that argon2id run.
	CacheTTL time.Duration

	// Throttle limits what wrong secrets cost.
	Throttle ThrottleConfig

	// Now returns the current time; tests replace it. Nil means time.Now.
	Now func() time.Time
}

// DefaultVerifierConfig returns the production defaults; see the README's
// Performance section for why each value is what it is.
func DefaultVerifierConfig() VerifierConfig {
	return VerifierConfig{
		Params: DefaultParams,
		// Two DefaultParams verifications at once: two 2-lane argon2id runs
		// already keep two cores busy, so more would add memory and
		// latency, not throughput. Measured peak RSS under a flood: the
		// budget plus a few MiB (README, Performance).
		MemoryBudgetKiB: 128 * 1024,
		// Turns are fair, so only a client's own herd or a crowd of clients
		// waits long: 20 s drains a 200-key herd on two cores (~7 s) with
		// room to spare, and answers before the common 30 s client timeout.
		MaxWait:        20 * time.Second,
		MaxQueued:      1024,
		BusyRetryAfter: time.Second,
		// A million active keys in about 100 MiB (see verifiedCache).
		CacheSize: 1_000_000,
		CacheTTL:  10 * time.Minute,
		Throttle: ThrottleConfig{
			Window:                  time.Minute,
			MaxKeyFailuresPerClient: 10,
			// One wrong secret and a client waits behind those that sent
			// none: an attacker's addresses stop competing with the holder
			// after their first guess, and a client that mistyped once only
			// waits when argon2id is contended, never refused.
			YieldAfterClientFailures: 1,
			Delay:                    time.Second,
			MaxDelayed:               1024,
			MaxTracked:               10_000,
		},
	}
}

// collectAfterKiB is the per-hash memory from which a verification runs
// the garbage collector when it is done (see verifyArgon2): 16 MiB, far
// below production's 64 MiB and above the 1 MiB that tests hash with.
const collectAfterKiB = 16 * 1024

// Verifier checks presented secrets against stored argon2id hashes. It is
// the one place that answers "is this secret right?".
//
// Callers read the key row on every request and pass its stored hash, so
// revocation, expiry and owner changes never wait for anything cached here.
// What the verifier adds is cost control around argon2id, arranged so that
// a correct secret is never refused because of other requests:
//
//   - a cache of recent successes (verifiedCache): the holder's requests
//     after the first cost two SHA-256s and a lookup, not 64 MiB and 40 ms;
//   - coalescing (flights): identical verifications running at once share
//     one argon2id run;
//   - failure limits (failureThrottle) per (key id, client): whoever sends
//     wrong secrets for a key id is refused before any argon2id work, and
//     nobody else is. Only finished failures count, never runs in flight. A
//     client with many failures over all key ids is not refused but waits
//     behind others;
//   - fair turns within a memory budget (fairLimiter): argon2id runs only
//     within the budget, clients take turns, so a herd or a flood from some
//     addresses delays the others by a turn each, not by its length;
//   - re-hashing (rehasher): a hash with outdated parameters is upgraded in
//     the background after a successful verification.
type Verifier struct {
	cfg      VerifierConfig
	cache    *verifiedCache // nil when disabled
	flights  *flights       // nil when the cache is disabled
	throttle *failureThrottle
	tarpit   *tarpit
	limiter  *fairLimiter
	rehash   *rehasher // nil when disabled

	// compare is argon2id.ComparePasswordAndHash; tests count calls.
	compare func(secret, hash string) (bool, error)

	argon2Runs atomic.Uint64
}

// WithDefaults fills zero fields with their defaults and turns "off"
// (negative) into the zero the verifier's parts read as off.
func (cfg VerifierConfig) WithDefaults() VerifierConfig {
	d := DefaultVerifierConfig()
	if cfg.Params == (argon2id.Params{}) {
		cfg.Params = DefaultParams
	}
	orDefault := func(v *int, def int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	orDefaultDuration := func(v *time.Duration, def time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	if cfg.MemoryBudgetKiB == 0 {
		cfg.MemoryBudgetKiB = max(d.MemoryBudgetKiB, 2*cfg.Params.Memory)
	}
	orDefaultDuration(&cfg.MaxWait, d.MaxWait)
	orDefault(&cfg.MaxQueued, d.MaxQueued)
	orDefaultDuration(&cfg.BusyRetryAfter, d.BusyRetryAfter)
	orDefault(&cfg.CacheSize, d.CacheSize)
	orDefaultDuration(&cfg.CacheTTL, d.CacheTTL)
	t, dt := &cfg.Throttle, d.Throttle
	orDefaultDuration(&t.Window, dt.Window)
	orDefault(&t.MaxKeyFailuresPerClient, dt.MaxKeyFailuresPerClient)
	orDefault(&t.YieldAfterClientFailures, dt.YieldAfterClientFailures)
	orDefaultDuration(&t.Delay, dt.Delay)
	orDefault(&t.MaxDelayed, dt.MaxDelayed)
	orDefault(&t.MaxTracked, dt.MaxTracked)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// NewVerifier returns a Verifier configured by cfg (zero fields: defaults).
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	cfg = cfg.WithDefaults()
	if err := validParams(&cfg.Params); err != nil {
		return nil, fmt.Errorf("pbkeys: argon2id parameters: %w", err)
	}
	if cfg.MemoryBudgetKiB < cfg.Params.Memory {
		return nil, fmt.Errorf("pbkeys: the argon2 memory budget (%d KiB) is smaller than one hash (%d KiB)",
			cfg.MemoryBudgetKiB, cfg.Params.Memory)
	}
	if cfg.RehashError == nil {
		cfg.RehashError = func(string, error) {}
	}
	v := &Verifier{
		cfg:      cfg,
		throttle: newFailureThrottle(cfg.Throttle, cfg.Now),
		tarpit:   newTarpit(cfg.Throttle.Delay, cfg.Throttle.MaxDelayed),
		limiter:  newFairLimiter(cfg.MemoryBudgetKiB, cfg.MaxWait, cfg.MaxQueued),
		compare:  argon2id.ComparePasswordAndHash,
	}
	if cfg.CacheSize > 0 {
		v.cache = newVerifiedCache(cfg.CacheSize, cfg.CacheTTL, cfg.Now)
		v.flights = &flights{}
	}
	if cfg.Rehash != nil {
		v.rehash = newRehasher(cfg.Params, cfg.Rehash, cfg.RehashError, v.limiter, func(newHash string, digest *secretDigest) {
			if v.cache != nil {
				// the next request reads the new hash: let it hit
				v.cache.add(fingerprintOf(newHash), digest.tag())
			}
		})
	}
	return v, nil
}

// Close stops background re-hashing and waits for re-hashes being stored,
// so that none writes after the caller closes its database.
func (v *Verifier) Close() {
	if v.rehash != nil {
		v.rehash.close()
	}
}

// Verify returns nil when key's secret matches storedHash, the stored hash
// of the key row the caller has just read. It returns ErrMismatch when the
// secret is wrong, a *RetryError wrapping ErrThrottled or ErrBusy when it
// refused to run argon2id, ErrUnusableHash for a bad stored hash, and ctx's
// error if ctx ended while waiting. client names the caller for the failure
// limits and for turns (e.g. its IP address).
func (v *Verifier) Verify(ctx context.Context, key Key, storedHash, client string) error {
	digest := digestOf(key.Secret)
	if v.cache == nil {
		return v.verifyArgon2(ctx, key, storedHash, client, &digest, false)
	}
	fp := fingerprintOf(storedHash)
	var holder bool
	switch v.cache.lookup(fp, digest.tag()) {
	case cacheFresh:
		return nil
	case cacheStale:
		// This secret verified before: whoever sends it holds the key, so
		// the limits that are there to stop guessing do not apply.
		holder = true
	}
	if !holder {
		// refused before queueing: a throttled pair costs no turn
		if after, refused := v.throttle.refused(key.ID, client); refused {
			return v.throttled(ctx, after)
		}
	}
	return v.coalesced(ctx, key, storedHash, client, digest, holder)
}

// coalesced runs verifyArgon2 in a flight. It is a function of its own so
// that Verify's digest stays on the stack: the cache-hit path allocates
// nothing.
func (v *Verifier) coalesced(ctx context.Context, key Key, storedHash, client string, digest secretDigest, holder bool) error {
	return v.flights.do(ctx, flightKey(storedHash, &digest, client), func() error {
		return v.verifyArgon2(context.WithoutCancel(ctx), key, storedHash, client, &digest, holder)
	})
}

// verifyArgon2 runs argon2id in its turn, within the memory budget.
func (v *Verifier) verifyArgon2(ctx context.Context, key Key, storedHash, client string, digest *secretDigest, holder bool) error {
	params, _, _, err := argon2id.DecodeHash(storedHash)
	if err == nil {
		err = validParams(params)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnusableHash, err)
	}
	kib := int64(params.Memory)
	if kib > int64(v.cfg.MemoryBudgetKiB) {
		return fmt.Errorf("%w: needs %d KiB, the budget is %d KiB", ErrUnusableHash, kib, v.cfg.MemoryBudgetKiB)
	}

	job := limiterJob{client: client, serial: key.ID + "\x00" + client, kib: kib, prio: prioNormal, holder: holder}
	if !holder && v.throttle.yielding(client) {
		job.prio = prioYield
	}
	if err := v.limiter.acquire(ctx, job); err != nil {
		if errors.Is(err, ErrBusy) {
			return &RetryError{Err: ErrBusy, After: v.cfg.BusyRetryAfter}
		}
		return err
	}

	// Our turn. While we waited, the failures of this (key id, client) may
	// have used up its window (the limiter ran them one at a time), or an
	// identical secret from another client may have been verified.
	if v.cache != nil && v.cache.lookup(fingerprintOf(storedHash), digest.tag()) == cacheFresh {
		v.limiter.release(job)
		return nil
	}
	if !holder {
		if after, refused := v.throttle.refused(key.ID, client); refused {
			v.limiter.release(job)
			return v.throttled(ctx, after)
		}
	}

	v.argon2Runs.Add(1)
	ok, err := v.compare(key.Secret, storedHash)
	if kib >= collectAfterKiB {
		// The hash's memory is garbage now. Left to the garbage collector's
		// pacing (next cycle at twice the live heap), the next verification
		// would take fresh pages while this buffer is still uncollected, and
		// a flood would reach two to three times the budget in resident
		// memory. Collecting while we still hold our share of the budget
		// lets the next verification reuse these pages. It costs a few ms
		// of CPU next to argon2id's ~40 ms, and only on this slow path.
		runtime.GC()
	}
	// Record the outcome before release lets the pair's next run start, so
	// that run sees this failure (or this success) when it checks.
	switch {
	case err != nil:
	case !ok:
		v.throttle.fail(key.ID, client)
		if v.throttle.yielding(client) {
			v.limiter.demote(client)
		}
	case v.cache != nil:
		v.cache.add(fingerprintOf(storedHash), digest.tag())
	}
	v.limiter.release(job)

	switch {
	case err != nil:
		return fmt.Errorf("%w: %v", ErrUnusableHash, err)
	case !ok:
		return ErrMismatch
	}
	if v.rehash != nil && v.rehash.outdated(params) {
		v.rehash.schedule(key.ID, key.Secret, storedHash, *digest)
	}
	return nil
}

// throttled holds a refused attempt in the tarpit and returns the refusal.
func (v *Verifier) throttled(ctx context.Context, after time.Duration) error {
	if v.tarpit.hold(ctx) {
		after = max(after-v.cfg.Throttle.Delay, time.Second)
	}
	return &RetryError{Err: ErrThrottled, After: after}
}

// validParams refuses parameters argon2 cannot run with (it panics on zero
// iterations or lanes) before they reach it.
func validParams(p *argon2id.Params) error {
	switch {
	case p.Memory == 0, p.Iterations == 0, p.Parallelism == 0, p.KeyLength == 0:
		return fmt.Errorf("memory, iterations, parallelism and key length must be positive (m=%d, t=%d, p=%d, key %d bytes)",
			p.Memory, p.Iterations, p.Parallelism, p.KeyLength)
	}
	return nil
}

// Argon2Runs returns how many argon2id verifications this Verifier has run.
func (v *Verifier) Argon2Runs() uint64 {
	return v.argon2Runs.Load()
}
