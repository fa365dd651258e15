// Package ratelimit is the per-key request limit: "N requests per minute"
// with GCRA, in memory.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter enforces per-key request limits ("N requests per minute")
// in memory with GCRA: a key may burst up to N requests, then one more
// every minute/N. It needs one timestamp per limited key, and answers how
// long to wait when a request is refused.
type Limiter struct {
	mu        sync.Mutex
	tat       map[string]time.Time // theoretical arrival time per key
	lastPrune time.Time
}

// New returns an empty limiter.
func New() *Limiter {
	return &Limiter{tat: map[string]time.Time{}}
}

// Allow records a request for keyID at now under a limit of perMinute
// requests per minute. It returns 0 when the request is allowed, or how
// long until the next request would be. perMinute <= 0 means unlimited.
func (l *Limiter) Allow(keyID string, perMinute int, now time.Time) (retryAfter time.Duration) {
	if perMinute <= 0 {
		return 0
	}
	interval := time.Minute / time.Duration(perMinute)

	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)

	tat := l.tat[keyID]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if allowAt := next.Add(-time.Minute); now.Before(allowAt) {
		return allowAt.Sub(now)
	}
	l.tat[keyID] = next
	return 0
}

// prune drops keys whose window has fully drained, at most once a minute,
// so the map only holds recently active keys.
func (l *Limiter) prune(now time.Time) {
	if now.Sub(l.lastPrune) < time.Minute {
		return
	}
	l.lastPrune = now
	for id, tat := range l.tat {
		if tat.Before(now) {
			delete(l.tat, id)
		}
	}
}
