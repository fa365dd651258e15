package verifier

import (
	"context"
	"time"
)

// tarpit holds refused attempts for a while before they are answered.
//
// Refusing a throttled attempt costs no argon2id, but a client that ignores
// Retry-After and asks again at once still costs a key-row read, an error
// response and a request log line each time; 64 such clients on loopback
// take almost all of a 2-core server and starve everyone else. Holding each
// refusal for a second caps a client that waits for its answers (as nearly
// all do) at one attempt per second per connection, and a held request
// costs a parked goroutine, not CPU. At most maxHeld requests are held at
// once, so holding cannot itself become the thing that exhausts memory;
// beyond that, refusals are answered at once.
type tarpit struct {
	delay time.Duration
	slots chan struct{}
}

func newTarpit(delay time.Duration, maxHeld int) *tarpit {
	if delay <= 0 || maxHeld <= 0 {
		return &tarpit{}
	}
	return &tarpit{delay: delay, slots: make(chan struct{}, maxHeld)}
}

// hold waits for the delay, or until ctx ends, unless maxHeld requests are
// already held. It reports whether it held the caller.
func (t *tarpit) hold(ctx context.Context) bool {
	if t.slots == nil {
		return false
	}
	select {
	case t.slots <- struct{}{}:
	default:
		return false
	}
	defer func() { <-t.slots }()
	timer := time.NewTimer(t.delay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	return true
}
