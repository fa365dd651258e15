package verifier

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// failureLimits counts wrong secrets per (key id, client) and per client:
// past Config.MaxKeyFailures a pair is refused, past
// Config.YieldAfterFailures a client waits behind others.
//
// Only verifications that ran argon2id and failed count: one in flight is
// not a failure (counting it locked out a fleet verifying correct keys at
// once). That concurrent guesses cannot all slip past the limit before the
// first failure is counted is the argon2Queue's job: it never runs two
// verifications of one (key id, client) pair at once.
//
// The windows live in hashicorp's simplelru under one mutex: checks and
// updates are compound (read, maybe start a new window, write) and cheap, on
// the slow path only.
type failureLimits struct {
	cfg Config
	now func() time.Time

	mu      sync.Mutex
	pairs   *simplelru.LRU[failurePair, failureCount]
	clients *simplelru.LRU[string, failureCount]
}

type failurePair struct{ keyID, client string }

type failureCount struct {
	start time.Time
	count int
}

func newFailureLimits(cfg Config, now func() time.Time) *failureLimits {
	size := max(cfg.MaxTrackedFailures, 1)
	pairs, _ := simplelru.NewLRU[failurePair, failureCount](size, nil) // errs only for size < 1
	clients, _ := simplelru.NewLRU[string, failureCount](size, nil)
	return &failureLimits{cfg: cfg, now: now, pairs: pairs, clients: clients}
}

// refused reports whether client has used up its wrong secrets for keyID
// in the current window, and if so, how long until the window ends.
func (t *failureLimits) refused(keyID, client string) (retryAfter time.Duration, refused bool) {
	if t.cfg.MaxKeyFailures <= 0 {
		return 0, false
	}
	now := t.now()
	t.mu.Lock()
	w, ok := t.pairs.Peek(failurePair{keyID, client})
	t.mu.Unlock()
	if !ok || now.Sub(w.start) >= t.cfg.FailureWindow || w.count < t.cfg.MaxKeyFailures {
		return 0, false
	}
	return w.start.Add(t.cfg.FailureWindow).Sub(now), true
}

// yielding reports whether client has sent so many wrong secrets in the
// current window that its verifications should wait behind others'.
func (t *failureLimits) yielding(client string) bool {
	if t.cfg.YieldAfterFailures <= 0 {
		return false
	}
	now := t.now()
	t.mu.Lock()
	w, ok := t.clients.Peek(client)
	t.mu.Unlock()
	return ok && now.Sub(w.start) < t.cfg.FailureWindow && w.count >= t.cfg.YieldAfterFailures
}

// fail counts a wrong secret for keyID from client.
func (t *failureLimits) fail(keyID, client string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cfg.MaxKeyFailures > 0 {
		countIn(t.pairs, failurePair{keyID, client}, now, t.cfg.FailureWindow)
	}
	if t.cfg.YieldAfterFailures > 0 {
		countIn(t.clients, client, now, t.cfg.FailureWindow)
	}
}

// countIn adds one failure to subject's window, starting a new window if
// the old one ended; it makes subject the most recently failing.
func countIn[K comparable](l *simplelru.LRU[K, failureCount], subject K, now time.Time, window time.Duration) {
	w, ok := l.Peek(subject)
	if !ok || now.Sub(w.start) >= window {
		w = failureCount{start: now}
	}
	w.count++
	l.Add(subject, w)
}
