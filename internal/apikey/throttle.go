package apikey

import (
	"sync"
	"time"
)

// ThrottleConfig bounds how many argon2id verifications that fail (or are
// still running) one key id and one client may cause per window.
type ThrottleConfig struct {
	// Window is the length of a throttling window, counted from the first
	// attempt after the previous window ended.
	Window time.Duration

	// MaxFailuresPerKey is how many wrong secrets one key id may receive
	// per Window before further attempts are refused with ErrThrottled.
	// Negative: no per-key limit.
	MaxFailuresPerKey int

	// MaxFailuresPerClient is the same limit per client (an IP address,
	// or an IPv6 /64, as the caller names it). Negative: no limit.
	MaxFailuresPerClient int

	// Delay is how long a refused attempt is held before ErrThrottled is
	// returned, so that a client hammering a throttled key id gets one
	// answer per Delay per connection instead of thousands (see tarpit).
	// Negative: answered at once.
	Delay time.Duration

	// MaxDelayed bounds how many refused attempts are held at once; past
	// it they are answered at once.
	MaxDelayed int

	// MaxTracked bounds the number of key ids and, separately, of clients
	// the throttle remembers. The least recently failing one is forgotten
	// first, so an attacker rotating addresses only evicts its own entries
	// (and the per-key limit still holds).
	MaxTracked int
}

// failureThrottle counts argon2id attempts per key id and per client.
//
// An attempt reserves one unit in both windows before argon2id runs (so
// concurrent guesses cannot all slip through before the first failure is
// counted) and gives it back when it turns out right or never ran. What is
// left in a window is the number of wrong secrets; when a window is full,
// the next attempt is refused before any argon2id work.
type failureThrottle struct {
	cfg ThrottleConfig
	now func() time.Time

	mu      sync.Mutex
	keys    *lru[string, throttleWindow]
	clients *lru[string, throttleWindow]
}

type throttleWindow struct {
	start time.Time
	count int
}

// throttleTicket is one reserved attempt: the windows it was counted in.
type throttleTicket struct {
	keyID, client         string
	keyStart, clientStart time.Time
}

func newFailureThrottle(cfg ThrottleConfig, now func() time.Time) *failureThrottle {
	return &failureThrottle{
		cfg:     cfg,
		now:     now,
		keys:    newLRU[string, throttleWindow](cfg.MaxTracked),
		clients: newLRU[string, throttleWindow](cfg.MaxTracked),
	}
}

// reserve counts an attempt for keyID from client. When either window is
// full it counts nothing and returns how long until the later one ends.
func (t *failureThrottle) reserve(keyID, client string) (ticket throttleTicket, retryAfter time.Duration, ok bool) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()

	kw := t.current(t.keys, keyID, t.cfg.MaxFailuresPerKey, now)
	cw := t.current(t.clients, client, t.cfg.MaxFailuresPerClient, now)
	for _, w := range [...]struct {
		w   *throttleWindow
		max int
	}{{kw, t.cfg.MaxFailuresPerKey}, {cw, t.cfg.MaxFailuresPerClient}} {
		if w.w != nil && w.w.count >= w.max {
			retryAfter = max(retryAfter, w.w.start.Add(t.cfg.Window).Sub(now))
		}
	}
	if retryAfter > 0 {
		return throttleTicket{}, retryAfter, false
	}

	ticket = throttleTicket{keyID: keyID, client: client}
	if kw != nil {
		kw.count++
		ticket.keyStart = kw.start
	}
	if cw != nil {
		cw.count++
		ticket.clientStart = cw.start
	}
	return ticket, 0, true
}

// refund gives back an attempt that succeeded or never ran argon2id.
func (t *failureThrottle) refund(ticket throttleTicket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	refundIn(t.keys, ticket.keyID, ticket.keyStart)
	refundIn(t.clients, ticket.client, ticket.clientStart)
}

// current returns subject's window, started afresh if the old one ended,
// or nil when the limit is disabled.
func (t *failureThrottle) current(l *lru[string, throttleWindow], subject string, limit int, now time.Time) *throttleWindow {
	if limit <= 0 {
		return nil
	}
	w, ok := l.get(subject)
	if !ok || now.Sub(w.start) >= t.cfg.Window {
		w = l.put(subject, throttleWindow{start: now})
	}
	return w
}

// refundIn decrements subject's count if the window it was counted in is
// still the current one (a new window already started from zero).
func refundIn(l *lru[string, throttleWindow], subject string, start time.Time) {
	if start.IsZero() {
		return
	}
	if w, ok := l.get(subject); ok && w.start.Equal(start) && w.count > 0 {
		w.count--
	}
}
