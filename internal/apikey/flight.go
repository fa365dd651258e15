package apikey

import (
	"context"
	"errors"
	"sync"
)

// errFlightAborted is what followers see if the leader's verification
// panicked: never a nil (accepting) result.
var errFlightAborted = errors.New("apikey: verification aborted")

// flightKey names one verification: which secret against which hash.
type flightKey struct {
	storedHash string
	digest     secretDigest
}

// flights coalesces identical verifications that run at the same time.
//
// When a client opens 32 connections with the same key on a cold cache,
// the first request runs argon2id and the other 31 wait for its answer
// instead of queueing 31 more 64 MiB hashes behind the memory limiter (and
// timing out with 503). Followers share the leader's result, including a
// refusal, and cost neither throttle units nor argon2id work.
type flights struct {
	mu       sync.Mutex
	inFlight map[flightKey]*flight
}

type flight struct {
	done chan struct{}
	err  error
}

func newFlights() *flights {
	return &flights{inFlight: map[flightKey]*flight{}}
}

// do runs fn unless an identical verification is running, in which case it
// waits for that one's result (or for ctx). A leader that gave up because
// its own request went away does not decide for its followers: they try again.
func (f *flights) do(ctx context.Context, k flightKey, fn func() error) error {
	for {
		f.mu.Lock()
		fl, ok := f.inFlight[k]
		if !ok {
			break // still locked: we lead
		}
		f.mu.Unlock()
		select {
		case <-fl.done:
			if isContextErr(fl.err) && ctx.Err() == nil {
				continue
			}
			return fl.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fl := &flight{done: make(chan struct{}), err: errFlightAborted}
	f.inFlight[k] = fl
	f.mu.Unlock()

	defer func() {
		f.mu.Lock()
		delete(f.inFlight, k)
		f.mu.Unlock()
		close(fl.done)
	}()
	fl.err = fn()
	return fl.err
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
