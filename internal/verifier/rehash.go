package verifier

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/alexedwards/argon2id"
	"github.com/pbkeys/pbkeys/internal/apikey"
)

// RehashFunc stores newHash as key id's hash if the stored hash is still
// oldHash (compare-and-set, so a key revoked or changed meanwhile is left
// alone) and reports whether it did.
type RehashFunc func(id, oldHash, newHash string) (bool, error)

// maxPendingRehashes bounds the re-hashes waiting or running at once. A key
// left out is re-hashed after a later verification (at the latest when its
// cache entry's TTL has passed), so dropping costs nothing but time.
const maxPendingRehashes = 64

// rehasher upgrades stored hashes to the current parameters after a
// successful verification, as password libraries do, so that raising the
// cost reaches existing keys without a reset.
//
// It runs off the request path: the request that verified is answered at
// once, and the new hash is computed on a goroutine of its own, taking its
// memory from the same budget as verifications but waiting in the yielding
// rotation, behind clients' verifications.
type rehasher struct {
	params  argon2id.Params
	save    RehashFunc
	onError func(id string, err error)
	limiter *argon2Queue
	done    func(newHash string, digest *secretDigest) // on a stored upgrade

	ctx    context.Context // ended by close: waiting re-hashes give up
	cancel context.CancelFunc

	mu      sync.Mutex
	pending map[string]bool // key ids
	wg      sync.WaitGroup
}

// rehashClient is the turn re-hashing takes in the limiter: no client's
// address looks like it.
const rehashClient = "\x00rehash"

func newRehasher(params argon2id.Params, save RehashFunc, onError func(string, error), limiter *argon2Queue, done func(string, *secretDigest)) *rehasher {
	ctx, cancel := context.WithCancel(context.Background())
	return &rehasher{
		params: params, save: save, onError: onError, limiter: limiter, done: done,
		ctx: ctx, cancel: cancel, pending: map[string]bool{},
	}
}

// outdated reports whether a hash with params should be re-hashed.
func (r *rehasher) outdated(p *argon2id.Params) bool {
	return p.Memory != r.params.Memory || p.Iterations != r.params.Iterations ||
		p.Parallelism != r.params.Parallelism || p.SaltLength != r.params.SaltLength ||
		p.KeyLength != r.params.KeyLength
}

// schedule re-hashes secret, which has just verified against oldHash, in
// the background; at most one re-hash per key id at a time.
func (r *rehasher) schedule(id, secret, oldHash string, digest secretDigest) {
	r.mu.Lock()
	if r.ctx.Err() != nil || r.pending[id] || len(r.pending) >= maxPendingRehashes {
		r.mu.Unlock()
		return
	}
	r.pending[id] = true
	r.wg.Add(1)
	r.mu.Unlock()

	go func() {
		defer func() {
			r.mu.Lock()
			delete(r.pending, id)
			r.mu.Unlock()
			r.wg.Done()
		}()
		newHash, err := r.hash(secret)
		if err != nil {
			if r.ctx.Err() == nil && !errors.Is(err, ErrBusy) {
				r.onError(id, err)
			}
			return // ErrBusy: the server is busy; a later verification tries again
		}
		stored, err := r.save(id, oldHash, newHash)
		switch {
		case err != nil:
			r.onError(id, err)
		case stored:
			r.done(newHash, &digest)
		}
	}()
}

// hash computes the new hash within the memory budget.
func (r *rehasher) hash(secret string) (string, error) {
	job := queueJob{client: rehashClient, kib: int64(r.params.Memory), prio: prioYield}
	if err := r.limiter.acquire(r.ctx, job); err != nil {
		return "", err
	}
	defer r.limiter.release(job)
	hash, err := apikey.Hash(secret, r.params)
	if r.params.Memory >= collectAfterKiB {
		runtime.GC() // as after a verification (see verifyArgon2)
	}
	return hash, err
}

// close stops scheduling, makes waiting re-hashes give up and waits for
// those already hashing or saving.
func (r *rehasher) close() {
	r.mu.Lock()
	r.cancel()
	r.mu.Unlock()
	r.wg.Wait()
}
