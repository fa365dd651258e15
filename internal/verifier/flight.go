package verifier

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/singleflight"
)

// errFlightAborted is what callers see if a verification panicked: never a
// nil (accepting) result.
var errFlightAborted = errors.New("apikey: verification aborted")

// flights coalesces identical verifications that run at the same time, with
// x/sync/singleflight.
//
// When a client opens 32 connections with the same key on a cold cache,
// the first request starts argon2id and the other 31 wait for its answer
// instead of queueing 31 more 64 MiB hashes. Identical means the same
// stored hash, secret and client: a refusal decided for one client (its
// throttle, its turn) is never handed to another.
//
// The verification runs on its own goroutine (DoChan) and does not depend
// on any one request: a caller whose request ends stops waiting, and the
// others keep theirs. It runs to its end even if every caller left; its
// cost is bounded like any other (throttle, turns, MaxWait), and a correct
// key's result is cached, so the client's retry finds it done.
type flights struct{ group singleflight.Group }

// flightKey names one verification. It is built only on the argon2id path.
func flightKey(storedHash string, digest *secretDigest, client string) string {
	return storedHash + "\x00" + string(digest[:]) + "\x00" + client
}

// do runs fn, or joins an identical run in flight, and returns its result
// or ctx's error if ctx ends first.
func (f *flights) do(ctx context.Context, key string, fn func() error) error {
	ch := f.group.DoChan(key, func() (_ any, err error) {
		// A panic on DoChan's goroutine would end the process (no
		// request's recoverer is above it): make it an error.
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: %v", errFlightAborted, p)
			}
		}()
		return nil, fn()
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}
