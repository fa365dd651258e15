package apikey

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// ThrottleConfig bounds what wrong secrets cost: per key id and client, and
// per client.
type ThrottleConfig struct {
	// Window is the length of a throttling window, counted from the first
	// failure after the previous window ended.
	Window time.Duration

	// MaxKeyFailuresPerClient is how many wrong secrets one client may send
	// for one key id per Window before its further attempts on that key id
	// are refused with ErrThrottled. Counting per (key id, client) rather
	// than per key id is what keeps the holder in while others guess: key
	// ids are not secret, so a limit per key id alone is a switch anyone can
	// flip. Negative: no limit.
	MaxKeyFailuresPerClient int

	// YieldAfterClientFailures is how many wrong secrets one client (an IP
	// address, or an IPv6 /64, as the caller names it) may send per Window,
	// over all key ids, before its verifications wait behind other
	// clients' (see fairLimiter). They are never refused for it: behind one
	// address there may be a fleet whose other members hold correct keys.
	// Negative: never.
	YieldAfterClientFailures int

	// Delay is how long a refused attempt is held before ErrThrottled is
	// returned, so that a client hammering a throttled key id gets one
	// answer per Delay per connection instead of thousands (see tarpit).
	// Negative: answered at once.
	Delay time.Duration

	// MaxDelayed bounds how many refused attempts are held at once; past
	// it they are answered at once.
	MaxDelayed int

	// MaxTracked bounds the number of (key id, client) pairs and,
	// separately, of clients the throttle remembers. The least recently
	// failing one is forgotten first, so an attacker rotating addresses
	// mostly evicts its own entries.
	MaxTracked int
}

// failureThrottle counts wrong secrets per (key id, client) and per client.
//
// Only verifications that ran argon2id and failed count: one in flight is
// not a failure (counting it locked out a fleet verifying correct keys at
// once). That concurrent guesses cannot all slip past the limit before the
// first failure is counted is the fairLimiter's job: it never runs two
// verifications of one (key id, client) pair at once.
//
// The windows live in hashicorp's simplelru under one mutex: checks and
// updates are compound (read, maybe start a new window, write) and cheap, on
// the slow path only.
type failureThrottle struct {
	cfg ThrottleConfig
	now func() time.Time

	mu      sync.Mutex
	pairs   *simplelru.LRU[throttlePair, throttleWindow]
	clients *simplelru.LRU[string, throttleWindow]
}

type throttlePair struct{ keyID, client string }

type throttleWindow struct {
	start time.Time
	count int
}

func newFailureThrottle(cfg ThrottleConfig, now func() time.Time) *failureThrottle {
	size := max(cfg.MaxTracked, 1)
	pairs, _ := simplelru.NewLRU[throttlePair, throttleWindow](size, nil) // errs only for size < 1
	clients, _ := simplelru.NewLRU[string, throttleWindow](size, nil)
	return &failureThrottle{cfg: cfg, now: now, pairs: pairs, clients: clients}
}

// refused reports whether client has used up its wrong secrets for keyID
// in the current window, and if so, how long until the window ends.
func (t *failureThrottle) refused(keyID, client string) (retryAfter time.Duration, refused bool) {
	if t.cfg.MaxKeyFailuresPerClient <= 0 {
		return 0, false
	}
	now := t.now()
	t.mu.Lock()
	w, ok := t.pairs.Peek(throttlePair{keyID, client})
	t.mu.Unlock()
	if !ok || now.Sub(w.start) >= t.cfg.Window || w.count < t.cfg.MaxKeyFailuresPerClient {
		return 0, false
	}
	return w.start.Add(t.cfg.Window).Sub(now), true
}

// yielding reports whether client has sent so many wrong secrets in the
// current window that its verifications should wait behind others'.
func (t *failureThrottle) yielding(client string) bool {
	if t.cfg.YieldAfterClientFailures <= 0 {
		return false
	}
	now := t.now()
	t.mu.Lock()
	w, ok := t.clients.Peek(client)
	t.mu.Unlock()
	return ok && now.Sub(w.start) < t.cfg.Window && w.count >= t.cfg.YieldAfterClientFailures
}

// fail counts a wrong secret for keyID from client.
func (t *failureThrottle) fail(keyID, client string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cfg.MaxKeyFailuresPerClient > 0 {
		countIn(t.pairs, throttlePair{keyID, client}, now, t.cfg.Window)
	}
	if t.cfg.YieldAfterClientFailures > 0 {
		countIn(t.clients, client, now, t.cfg.Window)
	}
}

// countIn adds one failure to subject's window, starting a new window if
// the old one ended; it makes subject the most recently failing.
func countIn[K comparable](l *simplelru.LRU[K, throttleWindow], subject K, now time.Time, window time.Duration) {
	w, ok := l.Peek(subject)
	if !ok || now.Sub(w.start) >= window {
		w = throttleWindow{start: now}
	}
	w.count++
	l.Add(subject, w)
}
