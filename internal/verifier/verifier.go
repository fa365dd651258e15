// Package verifier answers "is this secret right?" for presented API keys:
// argon2id against the stored hash, with what makes that affordable and
// safe under attack — a cache of recent successes, shared runs of identical
// verifications, failure limits per (key id, client), fair turns within an
// argon2id memory budget, a tarpit for refusals, and re-hashing to the
// current parameters. It knows nothing of HTTP or PocketBase.
package verifier

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

// Errors returned by Verifier.Verify.
var (
	// ErrMismatch is returned when the secret does not match the stored
	// hash: a wrong secret.
	ErrMismatch = errors.New("verifier: secret does not match")

	// ErrThrottled is returned (inside a *RetryError) when this client has
	// sent too many wrong secrets for this key id in the current failure
	// window, after holding the caller for Config.RefusalDelay. No
	// argon2id work was done.
	ErrThrottled = errors.New("verifier: too many failed attempts")

	// ErrBusy is returned (inside a *RetryError) when the verification did
	// not get its turn within MaxWait, or MaxQueued were already waiting. No
	// argon2id work was done.
	ErrBusy = errors.New("verifier: busy")

	// ErrUnusableHash is returned when the stored hash is not a usable
	// argon2id PHC string, or needs more memory than the whole budget allows.
	ErrUnusableHash = errors.New("verifier: unusable stored hash")
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
//     after the first cost two SHA-256s and a lookup, not an argon2id run;
//   - coalescing (flights): identical verifications running at once share
//     one argon2id run;
//   - failure limits (failureLimits) per (key id, client): whoever sends
//     wrong secrets for a key id is refused before any argon2id work, and
//     nobody else is. Only finished failures count, never runs in flight. A
//     client with many failures over all key ids is not refused but waits
//     behind others;
//   - fair turns within a memory budget (argon2Queue): argon2id runs only
//     within the budget, clients take turns, so a herd or a flood from some
//     addresses delays the others by a turn each, not by its length;
//   - re-hashing (rehasher): a hash with outdated parameters is upgraded in
//     the background after a successful verification.
type Verifier struct {
	cfg      Config
	cache    *verifiedCache // nil when disabled
	flights  *flights       // nil when the cache is disabled
	failures *failureLimits
	tarpit   *tarpit
	queue    *argon2Queue
	rehash   *rehasher // nil when disabled

	// compare is argon2id.ComparePasswordAndHash; tests count calls.
	compare func(secret, hash string) (bool, error)

	argon2Runs atomic.Uint64
}

// Rehash is how the verifier stores a key re-hashed with the current
// parameters (compare-and-set), and whom it tells when that failed (never
// with the secret). A zero Rehash turns re-hashing off.
type Rehash struct {
	Save    RehashFunc
	OnError func(keyID string, err error)
}

// New returns a Verifier for hashes made with params, new ones and
// re-hashed ones alike, configured by cfg (zero fields: defaults).
func New(params argon2id.Params, cfg Config, rehash Rehash) (*Verifier, error) {
	return newVerifier(params, cfg, rehash, time.Now)
}

// newVerifier is New on the clock now (tests pass a fake one).
func newVerifier(params argon2id.Params, cfg Config, rehash Rehash, now func() time.Time) (*Verifier, error) {
	if params == (argon2id.Params{}) {
		params = apikey.DefaultParams
	}
	cfg = cfg.WithDefaults(params)
	if err := validParams(&params); err != nil {
		return nil, fmt.Errorf("pbkeys: argon2id parameters: %w", err)
	}
	if cfg.MemoryBudgetKiB < params.Memory {
		return nil, fmt.Errorf("pbkeys: the argon2 memory budget (%d KiB) is smaller than one hash (%d KiB)",
			cfg.MemoryBudgetKiB, params.Memory)
	}
	v := &Verifier{
		cfg:      cfg,
		failures: newFailureLimits(cfg, now),
		tarpit:   newTarpit(cfg.RefusalDelay, cfg.MaxDelayedRefusals),
		queue:    newArgon2Queue(cfg.MemoryBudgetKiB, cfg.MaxWait, cfg.MaxQueued),
		compare:  argon2id.ComparePasswordAndHash,
	}
	if cfg.CacheSize > 0 {
		v.cache = newVerifiedCache(cfg.CacheSize, cfg.CacheTTL, now)
		v.flights = &flights{}
	}
	if rehash.Save != nil {
		onError := rehash.OnError
		if onError == nil {
			onError = func(string, error) {}
		}
		v.rehash = newRehasher(params, rehash.Save, onError, v.queue, func(newHash string, digest *secretDigest) {
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
func (v *Verifier) Verify(ctx context.Context, key apikey.Key, storedHash, client string) error {
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
		if after, refused := v.failures.refused(key.ID, client); refused {
			return v.throttled(ctx, after)
		}
	}
	return v.coalesced(ctx, key, storedHash, client, digest, holder)
}

// coalesced runs verifyArgon2 in a flight. It is a function of its own so
// that Verify's digest stays on the stack: the cache-hit path allocates
// nothing.
func (v *Verifier) coalesced(ctx context.Context, key apikey.Key, storedHash, client string, digest secretDigest, holder bool) error {
	return v.flights.do(ctx, flightKey(storedHash, &digest, client), func() error {
		return v.verifyArgon2(context.WithoutCancel(ctx), key, storedHash, client, &digest, holder)
	})
}

// verifyArgon2 runs argon2id in its turn, within the memory budget.
func (v *Verifier) verifyArgon2(ctx context.Context, key apikey.Key, storedHash, client string, digest *secretDigest, holder bool) error {
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

	job := queueJob{client: client, serial: key.ID + "\x00" + client, kib: kib, prio: prioNormal, holder: holder}
	if !holder && v.failures.yielding(client) {
		job.prio = prioYield
	}
	if err := v.queue.acquire(ctx, job); err != nil {
		if errors.Is(err, ErrBusy) {
			return &RetryError{Err: ErrBusy, After: v.cfg.BusyRetryAfter}
		}
		return err
	}

	// Our turn. While we waited, the failures of this (key id, client) may
	// have used up its window (the limiter ran them one at a time), or an
	// identical secret from another client may have been verified.
	if v.cache != nil && v.cache.lookup(fingerprintOf(storedHash), digest.tag()) == cacheFresh {
		v.queue.release(job)
		return nil
	}
	if !holder {
		if after, refused := v.failures.refused(key.ID, client); refused {
			v.queue.release(job)
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
		// of CPU next to argon2id's own cost, and only on this slow path.
		runtime.GC()
	}
	// Record the outcome before release lets the pair's next run start, so
	// that run sees this failure (or this success) when it checks.
	switch {
	case err != nil:
	case !ok:
		v.failures.fail(key.ID, client)
		if v.failures.yielding(client) {
			v.queue.demote(client)
		}
	case v.cache != nil:
		v.cache.add(fingerprintOf(storedHash), digest.tag())
	}
	v.queue.release(job)

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
		after = max(after-v.cfg.RefusalDelay, time.Second)
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
