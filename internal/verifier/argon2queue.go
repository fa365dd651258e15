package verifier

import (
	"context"
	"slices"
	"sync"
	"time"
)

// priority is which rotation a job waits in.
type priority int

const (
	// prioNormal: clients in good standing, and holders proven by the cache.
	prioNormal priority = iota
	// prioYield: clients past their failure limit, and background re-hashing.
	prioYield
)

// yieldShare means one grant in yieldShare goes to the yielding rotation
// while both rotations wait: clients past their failure limit slow each
// other and are never starved, but take at most a quarter of argon2id time
// from everyone else.
const yieldShare = 4

// queueJob is one argon2id run waiting for memory.
type queueJob struct {
	client string // whose turn it takes
	serial string // jobs with the same non-empty serial never run at once
	kib    int64
	prio   priority
	holder bool // a proven holder's: never demoted
}

// argon2Queue is the argon2id memory queue: it bounds the argon2id memory
// in use at once and decides, when memory frees up, whose argon2id runs
// next.
//
// Memory: each run needs the memory written in its hash (64 MiB with
// DefaultParams) while it runs; without a bound, N concurrent wrong guesses
// cost N × 64 MiB. A run takes its memory from the budget, so the budget
// divided by the per-hash memory is how many run at once.
//
// Order: a job waits in its client's own queue and clients take turns
// (round robin). A client with 200 jobs queued — a CI fleet behind one NAT
// right after a restart, or a flood — delays another client's job by one
// turn per waiting client, not by 200 verifications. Clients past their
// failure limit (prioYield) wait in a second rotation that gets one grant
// in yieldShare while the first one waits; a client that passes its limit
// moves the jobs it already queued there too (demote).
//
// Serial: two jobs with the same serial (the verifier uses key id and
// client) never run at once, so the failure limits have counted each wrong
// secret of a (key id, client) pair before the pair's next run starts. That
// keeps concurrent guesses within the limit without counting runs in flight
// as failures, which is what locked out correct keys.
//
// Bounds: a job waits at most maxWait (then ErrBusy). At most maxQueued wait
// at once; past that, the newest job of the client with the most waiting is
// refused, so a flood overflows its own queue, not someone else's.
//
// Hand-written because the semantics are the point: x/sync/semaphore bounds
// weighted memory but wakes waiters in arrival order, and no maintained
// package schedules per client with priorities and serial keys.
type argon2Queue struct {
	budgetKiB int64
	maxWait   time.Duration
	maxQueued int

	mu        sync.Mutex
	inUse     int64
	queued    int
	running   map[string]int // serial → jobs running
	rotations [2]rotation    // by priority
	normalRun int            // grants to prioNormal in a row while prioYield waited
}

// rotation is the clients waiting at one priority, in turn order.
type rotation struct {
	queues map[string]*clientQueue
	ring   []*clientQueue
	next   int // index in ring of the client whose turn is next
}

type clientQueue struct {
	client  string
	waiters []*queueWaiter // FIFO
}

type queueWaiter struct {
	job     queueJob
	ready   chan struct{} // closed once decided
	decided bool          // under mu
	err     error         // nil: granted; ErrBusy: refused to make room
}

func newArgon2Queue(budgetKiB uint32, maxWait time.Duration, maxQueued int) *argon2Queue {
	l := &argon2Queue{
		budgetKiB: int64(budgetKiB),
		maxWait:   maxWait,
		maxQueued: max(maxQueued, 1),
		running:   map[string]int{},
	}
	for i := range l.rotations {
		l.rotations[i].queues = map[string]*clientQueue{}
	}
	return l
}

// acquire waits for job's turn and memory, at most maxWait or until ctx is
// done. It returns ErrBusy when the wait ran out or the queue was full. On
// nil the caller must release(job). A job larger than the whole budget is
// the caller's bug (Verifier refuses such hashes before asking).
func (l *argon2Queue) acquire(ctx context.Context, job queueJob) error {
	w := &queueWaiter{job: job, ready: make(chan struct{})}
	l.mu.Lock()
	if l.queued >= l.maxQueued && !l.makeRoomLocked(job.client) {
		l.mu.Unlock()
		return ErrBusy
	}
	l.enqueueLocked(w)
	l.grantLocked()
	if w.decided || l.maxWait <= 0 {
		if !w.decided {
			l.removeLocked(w)
			w.err = ErrBusy
		}
		l.mu.Unlock()
		return w.err
	}
	l.mu.Unlock()

	timer := time.NewTimer(l.maxWait)
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
		return w.err
	case <-timer.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if w.decided {
		return w.err // decided while we were giving up: a grant is used
	}
	l.removeLocked(w)
	l.grantLocked() // a head that did not fit may have been us
	return err
}

// release returns job's memory and serial and grants whoever is next.
func (l *argon2Queue) release(job queueJob) {
	l.mu.Lock()
	l.inUse -= job.kib
	if job.serial != "" {
		if l.running[job.serial]--; l.running[job.serial] <= 0 {
			delete(l.running, job.serial)
		}
	}
	l.grantLocked()
	l.mu.Unlock()
}

// grantLocked starts waiting jobs, in turn, while the next one fits.
func (l *argon2Queue) grantLocked() {
	for {
		r, ring, idx, yieldWaits := l.pickLocked()
		if r == nil {
			return
		}
		w := r.ring[ring].waiters[idx]
		if l.inUse+w.job.kib > l.budgetKiB {
			return // its turn: others wait until it fits rather than pass it
		}
		if r == &l.rotations[prioNormal] && yieldWaits {
			l.normalRun++
		} else {
			l.normalRun = 0
		}
		l.takeLocked(r, ring, idx)
		l.inUse += w.job.kib
		if w.job.serial != "" {
			l.running[w.job.serial]++
		}
		w.decided = true
		close(w.ready)
	}
}

// pickLocked returns the next job to run: its rotation, its client's index
// in the ring and its index in the client's queue (r is nil when no job may
// start), and whether a yielding job could have started too.
func (l *argon2Queue) pickLocked() (r *rotation, ring, idx int, yieldWaits bool) {
	normal, yield := &l.rotations[prioNormal], &l.rotations[prioYield]
	nRing, nIdx, nOK := l.peekLocked(normal)
	yRing, yIdx, yOK := l.peekLocked(yield)
	switch {
	case nOK && (!yOK || l.normalRun < yieldShare-1):
		return normal, nRing, nIdx, yOK
	case yOK:
		return yield, yRing, yIdx, yOK
	}
	return nil, 0, 0, false
}

// peekLocked finds, from the client whose turn it is onwards, the first
// client with a job that may start now (its serial is not running), and
// that client's first such job.
func (l *argon2Queue) peekLocked(r *rotation) (ring, idx int, ok bool) {
	n := len(r.ring)
	for i := range n {
		ring = (r.next + i) % n
		for idx, w := range r.ring[ring].waiters {
			if w.job.serial == "" || l.running[w.job.serial] == 0 {
				return ring, idx, true
			}
		}
	}
	return 0, 0, false
}

// takeLocked removes the job at (ring, idx) and passes the turn on.
func (l *argon2Queue) takeLocked(r *rotation, ring, idx int) {
	q := r.ring[ring]
	q.waiters = slices.Delete(q.waiters, idx, idx+1)
	l.queued--
	if len(q.waiters) == 0 {
		r.dropLocked(ring) // the next client slides into this index
		return
	}
	r.next = (ring + 1) % len(r.ring)
}

func (l *argon2Queue) enqueueLocked(w *queueWaiter) {
	r := &l.rotations[w.job.prio]
	q, ok := r.queues[w.job.client]
	if !ok {
		q = &clientQueue{client: w.job.client}
		r.queues[w.job.client] = q
		// A newcomer takes its turn just before the client to serve next:
		// after everyone already waiting, like a late arrival at a round table.
		r.ring = slices.Insert(r.ring, r.next, q)
		r.next = (r.next + 1) % len(r.ring)
	}
	q.waiters = append(q.waiters, w)
	l.queued++
}

// removeLocked takes an undecided waiter out of its queue.
func (l *argon2Queue) removeLocked(w *queueWaiter) {
	r := &l.rotations[w.job.prio]
	q := r.queues[w.job.client]
	if q == nil {
		return
	}
	if i := slices.Index(q.waiters, w); i >= 0 {
		q.waiters = slices.Delete(q.waiters, i, i+1)
		l.queued--
	}
	if len(q.waiters) == 0 {
		r.dropLocked(slices.Index(r.ring, q))
	}
}

// makeRoomLocked refuses the newest job of the client with the most jobs
// waiting, unless that is client itself (counting the job it brings): then
// it reports false and the newcomer is the one refused.
func (l *argon2Queue) makeRoomLocked(client string) bool {
	var longest *clientQueue
	var in *rotation
	own := 1
	for i := range l.rotations {
		r := &l.rotations[i]
		for _, q := range r.ring {
			if q.client == client {
				own += len(q.waiters)
			}
			if longest == nil || len(q.waiters) > len(longest.waiters) {
				longest, in = q, r
			}
		}
	}
	if longest == nil || longest.client == client || len(longest.waiters) <= own {
		return false
	}
	w := longest.waiters[len(longest.waiters)-1]
	longest.waiters = longest.waiters[:len(longest.waiters)-1]
	l.queued--
	if len(longest.waiters) == 0 {
		in.dropLocked(slices.Index(in.ring, longest))
	}
	w.decided, w.err = true, ErrBusy
	close(w.ready)
	return true
}

// demote moves client's waiting jobs, but proven holders', to the yielding
// rotation: the client has just passed its failure limit, and the jobs it
// queued before (a flood opens many connections at once) must not keep
// their places ahead of clients in good standing.
func (l *argon2Queue) demote(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &l.rotations[prioNormal]
	q := r.queues[client]
	if q == nil {
		return
	}
	keep := q.waiters[:0]
	for _, w := range q.waiters {
		if w.job.holder {
			keep = append(keep, w)
			continue
		}
		w.job.prio = prioYield
		l.queued-- // enqueueLocked counts it again
		l.enqueueLocked(w)
	}
	q.waiters = keep
	if len(keep) == 0 {
		r.dropLocked(slices.Index(r.ring, q))
	}
}

// dropLocked removes the (empty) client queue at ring index i.
func (r *rotation) dropLocked(i int) {
	if i < 0 {
		return
	}
	delete(r.queues, r.ring[i].client)
	r.ring = slices.Delete(r.ring, i, i+1)
	if i < r.next {
		r.next--
	}
	if r.next >= len(r.ring) {
		r.next = 0
	}
}

// stats returns the memory in use and the number of waiting jobs, for tests.
func (l *argon2Queue) stats() (inUseKiB int64, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inUse, l.queued
}
