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
	// ErrThrottled is returned (inside a *RetryError) when the key id or the
	// client has had too many wrong secrets in the current throttle window,
	// after holding the caller for ThrottleConfig.Delay. No argon2id work
	// was done.
	ErrThrottled = errors.New("apikey: too many failed attempts")

	// ErrBusy is returned (inside a *RetryError) when no argon2id memory
	// became free within the configured wait. No argon2id work was done.
	ErrBusy = errors.New("apikey: verifier busy")

	// ErrUnusableHash is returned when the stored hash is not an argon2id
	// PHC string, or needs more memory than the whole budget allows.
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
	// Params are the argon2id parameters new secrets are hashed with
	// (DefaultParams when zero). The memory budget must hold at least one
	// such hash.
	Params argon2id.Params

	// MemoryBudgetKiB is how much argon2id memory, in kibibytes, all
	// running verifications may use together. Each verification needs the
	// memory written in its stored hash (65536 KiB with DefaultParams), so
	// the budget divided by that is how many run at once. A stored hash
	// needing more than the whole budget is refused with ErrUnusableHash.
	MemoryBudgetKiB uint32

	// MaxWait is the longest a verification waits for memory before it is
	// refused with ErrBusy. Negative: no waiting.
	MaxWait time.Duration

	// BusyRetryAfter is the Retry-After suggested with ErrBusy.
	BusyRetryAfter time.Duration

	// CacheSize is how many successful verifications are remembered
	// (least recently used first out). Negative: no cache, and no
	// coalescing of identical verifications: every request pays argon2id,
	// which is the naive design benchmarks compare against.
	CacheSize int

	// CacheTTL is how long a remembered verification is accepted without
	// running argon2id again, counted from that argon2id run.
	CacheTTL time.Duration

	// Throttle limits wrong secrets per key id and per client.
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
		MaxWait:         250 * time.Millisecond,
		BusyRetryAfter:  time.Second,
		CacheSize:       10_000,
		CacheTTL:        10 * time.Minute,
		Throttle: ThrottleConfig{
			Window:               time.Minute,
			MaxFailuresPerKey:    10,
			MaxFailuresPerClient: 20,
			Delay:                time.Second,
			MaxDelayed:           1024,
			MaxTracked:           10_000,
		},
	}
}

// withDefaults fills zero fields with their defaults and turns "off"
// (negative) into the zero the verifier's parts read as off.
func (cfg VerifierConfig) withDefaults() VerifierConfig {
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
		cfg.MemoryBudgetKiB = d.MemoryBudgetKiB
	}
	orDefaultDuration(&cfg.MaxWait, d.MaxWait)
	orDefaultDuration(&cfg.BusyRetryAfter, d.BusyRetryAfter)
	orDefault(&cfg.CacheSize, d.CacheSize)
	orDefaultDuration(&cfg.CacheTTL, d.CacheTTL)
	t, dt := &cfg.Throttle, d.Throttle
	orDefaultDuration(&t.Window, dt.Window)
	orDefault(&t.MaxFailuresPerKey, dt.MaxFailuresPerKey)
	orDefault(&t.MaxFailuresPerClient, dt.MaxFailuresPerClient)
	orDefaultDuration(&t.Delay, dt.Delay)
	orDefault(&t.MaxDelayed, dt.MaxDelayed)
	orDefault(&t.MaxTracked, dt.MaxTracked)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
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
// What the verifier adds is cost control around argon2id:
//
//   - a cache of recent successes (verifiedCache): the owner's requests
//     after the first cost a SHA-256 and a map lookup, not 64 MiB and 44 ms;
//   - coalescing (flights): identical verifications running at once share
//     one argon2id run;
//   - a failure throttle (failureThrottle): a key id or client with too many
//     wrong secrets is refused before any argon2id work. A cache hit is
//     answered before the throttle is asked, so the owner keeps working
//     while someone hammers their key id;
//   - a memory limit (memoryLimiter): argon2id runs only within the memory
//     budget, and a request that cannot start soon is refused (ErrBusy).
type Verifier struct {
	cfg      VerifierConfig
	cache    *verifiedCache // nil when disabled
	flights  *flights       // nil when the cache is disabled
	throttle *failureThrottle
	tarpit   *tarpit
	limiter  *memoryLimiter

	// compare is argon2id.ComparePasswordAndHash; tests count calls.
	compare func(secret, hash string) (bool, error)

	argon2Runs atomic.Uint64
}

// NewVerifier returns a Verifier configured by cfg (zero fields: defaults).
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	cfg = cfg.withDefaults()
	if cfg.MemoryBudgetKiB < cfg.Params.Memory {
		return nil, fmt.Errorf("pbkeys: the argon2 memory budget (%d KiB) is smaller than one hash (%d KiB)",
			cfg.MemoryBudgetKiB, cfg.Params.Memory)
	}
	v := &Verifier{
		cfg:      cfg,
		throttle: newFailureThrottle(cfg.Throttle, cfg.Now),
		tarpit:   newTarpit(cfg.Throttle.Delay, cfg.Throttle.MaxDelayed),
		limiter:  newMemoryLimiter(cfg.MemoryBudgetKiB, cfg.MaxWait),
		compare:  argon2id.ComparePasswordAndHash,
	}
	if cfg.CacheSize > 0 {
		v.cache = newVerifiedCache(cfg.CacheSize, cfg.CacheTTL, cfg.Now)
		v.flights = newFlights()
	}
	return v, nil
}

// Verify returns nil when key's secret matches storedHash, the stored hash
// of the key row the caller has just read. It returns ErrMismatch when the
// secret is wrong, a *RetryError wrapping ErrThrottled or ErrBusy when it
// refused to run argon2id, ErrUnusableHash for a bad stored hash, and ctx's
// error if ctx ended while waiting. client names the caller for the
// per-client throttle (e.g. its IP address).
func (v *Verifier) Verify(ctx context.Context, key Key, storedHash, client string) error {
	digest := digestOf(key.Secret)
	if v.cache == nil {
		return v.verifyArgon2(ctx, key, storedHash, client, &digest, false)
	}
	var owner bool
	switch v.cache.lookup(storedHash, &digest) {
	case cacheFresh:
		return nil
	case cacheStale:
		// This secret verified before: whoever sends it holds the key, so
		// the throttle that is there to stop guessing does not apply.
		owner = true
	}
	return v.flights.do(ctx, flightKey{storedHash, digest}, func() error {
		return v.verifyArgon2(ctx, key, storedHash, client, &digest, owner)
	})
}

// verifyArgon2 runs argon2id within the throttle and the memory budget.
func (v *Verifier) verifyArgon2(ctx context.Context, key Key, storedHash, client string, digest *secretDigest, owner bool) error {
	params, _, _, err := argon2id.DecodeHash(storedHash)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnusableHash, err)
	}
	kib := int64(params.Memory)
	if kib > int64(v.cfg.MemoryBudgetKiB) {
		return fmt.Errorf("%w: needs %d KiB, the budget is %d KiB", ErrUnusableHash, kib, v.cfg.MemoryBudgetKiB)
	}

	var ticket throttleTicket
	if !owner {
		var after time.Duration
		var ok bool
		ticket, after, ok = v.throttle.reserve(key.ID, client)
		if !ok {
			if v.tarpit.hold(ctx) {
				after = max(after-v.cfg.Throttle.Delay, time.Second)
			}
			return &RetryError{Err: ErrThrottled, After: after}
		}
	}

	if err := v.limiter.acquire(ctx, kib); err != nil {
		v.throttle.refund(ticket)
		if errors.Is(err, ErrBusy) {
			return &RetryError{Err: ErrBusy, After: v.cfg.BusyRetryAfter}
		}
		return err
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
		// of CPU next to argon2id's ~44 ms, and only on this slow path.
		runtime.GC()
	}
	v.limiter.release(kib)

	switch {
	case err != nil:
		v.throttle.refund(ticket)
		return fmt.Errorf("%w: %v", ErrUnusableHash, err)
	case !ok:
		return ErrMismatch // the reserved unit stays: one more failure
	}
	v.throttle.refund(ticket)
	if v.cache != nil {
		v.cache.add(storedHash, digest)
	}
	return nil
}

// Argon2Runs returns how many argon2id verifications this Verifier has run.
func (v *Verifier) Argon2Runs() uint64 {
	return v.argon2Runs.Load()
}
