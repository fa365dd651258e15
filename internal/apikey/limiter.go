package apikey

import (
	"context"
	"sync"
	"time"
)

// memoryLimiter bounds the argon2id memory in use at once.
//
// Each verification needs the memory written in its stored hash (64 MiB
// with DefaultParams) for as long as it runs; without a bound, N concurrent
// wrong guesses cost N × 64 MiB. A verification takes its memory from a
// budget, so the budget divided by the per-hash memory is how many run at
// once (with DefaultParams and the default 128 MiB budget, two). Waiting is
// first come, first served and bounded: a request that cannot start within
// maxWait gives up (the caller answers 503) instead of queueing without limit.
type memoryLimiter struct {
	budgetKiB int64
	maxWait   time.Duration

	mu      sync.Mutex
	inUse   int64
	waiters []*limiterWaiter // FIFO
}

type limiterWaiter struct {
	kib   int64
	ready chan struct{} // closed when the memory was granted
}

func newMemoryLimiter(budgetKiB uint32, maxWait time.Duration) *memoryLimiter {
	return &memoryLimiter{budgetKiB: int64(budgetKiB), maxWait: maxWait}
}

// acquire takes kib of the budget, waiting at most maxWait (or until ctx is
// done). It returns ErrBusy when the wait ran out. The caller must release
// the same kib. A request larger than the whole budget is the caller's bug
// (Verifier refuses such hashes before asking).
func (l *memoryLimiter) acquire(ctx context.Context, kib int64) error {
	l.mu.Lock()
	if len(l.waiters) == 0 && l.inUse+kib <= l.budgetKiB {
		l.inUse += kib
		l.mu.Unlock()
		return nil
	}
	if l.maxWait <= 0 {
		l.mu.Unlock()
		return ErrBusy
	}
	w := &limiterWaiter{kib: kib, ready: make(chan struct{})}
	l.waiters = append(l.waiters, w)
	l.mu.Unlock()

	timer := time.NewTimer(l.maxWait)
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-timer.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-w.ready:
		// granted while we were giving up: hand it on
		l.inUse -= kib
		l.grantLocked()
		return err
	default:
	}
	for i, other := range l.waiters {
		if other == w {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			break
		}
	}
	// our leaving may unblock smaller requests queued behind us
	l.grantLocked()
	return err
}

// release returns kib to the budget and wakes whoever now fits.
func (l *memoryLimiter) release(kib int64) {
	l.mu.Lock()
	l.inUse -= kib
	l.grantLocked()
	l.mu.Unlock()
}

// grantLocked admits waiters in order while the head of the queue fits.
func (l *memoryLimiter) grantLocked() {
	for len(l.waiters) > 0 {
		w := l.waiters[0]
		if l.inUse+w.kib > l.budgetKiB {
			return
		}
		l.inUse += w.kib
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
		close(w.ready)
	}
}

// stats returns the memory in use and the number of waiters, for tests.
func (l *memoryLimiter) stats() (inUseKiB int64, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inUse, len(l.waiters)
}
