package keystore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/verifier"
)

// Leak says where a key was found exposed and who reported it, for its
// owner's mail and the log.
type Leak struct {
	URL        string // where it was found; may be empty
	ReportedBy string // e.g. "GitHub secret scanning"
}

// LeakOutcome is what RevokeLeaked made of a reported token.
type LeakOutcome int

const (
	// LeakNotAKey: not a live key of this server — malformed, a wrong
	// checksum, an unknown id or a wrong secret. A false positive.
	LeakNotAKey LeakOutcome = iota

	// LeakRevoked: a live key, revoked now; its owner is being emailed.
	LeakRevoked

	// LeakAlreadyRevoked: a real key that was revoked as leaked before
	// (by this process) or by someone else while it was being checked. It
	// was a true positive; nothing more is done.
	LeakAlreadyRevoked

	// LeakUnchecked: possibly a key, but it could not be checked now (its
	// id or the client is throttled, or no argon2id memory came free in
	// time). Nothing was done; report it again later.
	LeakUnchecked
)

// LeakResult is what RevokeLeaked did with one token. It never holds the
// token.
type LeakResult struct {
	Outcome    LeakOutcome
	KeyID      string        // the key's id, once the token parsed as a key
	Key        *core.Record  // the revoked key (LeakRevoked)
	Owner      *core.Record  // its owner (LeakRevoked)
	RetryAfter time.Duration // when to try again (LeakUnchecked)
}

// TruePositive reports whether the token was a real key of this server.
func (r LeakResult) TruePositive() bool {
	return r.Outcome == LeakRevoked || r.Outcome == LeakAlreadyRevoked
}

// RevokeLeaked handles a token found exposed, for leaked-key reports and
// the CLI alike. A token that is a live key — checked like any presented
// key: apikey.Parse (format, checksum) then FindVerified (key row, owner,
// secret) — is revoked at once (realtime streams that subscribed with it
// are closed by the delete hooks) and its owner is emailed which key, where
// it was found, by whom and when. Anything else changes nothing. client
// names the reporter for the verifier's per-client throttle.
//
// A key checked as a live key whose deletion loses a race (reported twice
// at once) is LeakAlreadyRevoked, so its owner gets one mail. Tokens
// revoked here are remembered (by SHA-256, never in plain text) so that a
// report sent again says they were real keys.
//
// While no argon2id memory is free it waits and tries again until ctx ends;
// a throttled key id or client is LeakUnchecked at once. The error is for
// database failures only.
func (s *Store) RevokeLeaked(ctx context.Context, v *verifier.Verifier, token string, leak Leak, client string) (LeakResult, error) {
	key, err := apikey.Parse(token)
	if err != nil {
		return LeakResult{Outcome: LeakNotAKey}, nil
	}
	digest := sha256.Sum256([]byte(token))
	if s.leaks.has(digest) {
		return LeakResult{Outcome: LeakAlreadyRevoked, KeyID: key.ID}, nil
	}

	record, owner, err := s.findVerifiedWaiting(ctx, v, key, client)
	var retry *verifier.RetryError
	switch {
	case errors.Is(err, sql.ErrNoRows) && s.leaks.has(digest):
		return LeakResult{Outcome: LeakAlreadyRevoked, KeyID: key.ID}, nil // by a report running at the same time
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, ErrOwnerNotAllowed),
		errors.Is(err, verifier.ErrMismatch), errors.Is(err, verifier.ErrUnusableHash):
		return LeakResult{Outcome: LeakNotAKey}, nil
	case errors.As(err, &retry):
		return LeakResult{Outcome: LeakUnchecked, KeyID: key.ID, RetryAfter: retry.After}, nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return LeakResult{Outcome: LeakUnchecked, KeyID: key.ID, RetryAfter: time.Second}, nil
	case err != nil:
		return LeakResult{}, fmt.Errorf("keystore: check a leaked key: %w", err)
	}

	// The token is remembered before the delete commits, so that a report
	// of it running at the same time finds either the row or the memo.
	revoked := false
	err = s.app.RunInTransaction(func(tx core.App) error {
		r, err := tx.FindRecordById(Collection, record.Id)
		if isNotFound(err) {
			return nil // revoked meanwhile
		}
		if err != nil {
			return err
		}
		if err := tx.Delete(r); err != nil {
			return err
		}
		revoked = true
		s.leaks.add(digest)
		return nil
	})
	if err != nil {
		if revoked {
			s.leaks.remove(digest) // rolled back: the key still works
		}
		return LeakResult{}, fmt.Errorf("keystore: revoke leaked key %s: %w", record.Id, err)
	}
	s.leaks.add(digest)
	if !revoked {
		return LeakResult{Outcome: LeakAlreadyRevoked, KeyID: key.ID}, nil
	}
	s.app.Logger().Warn("API key revoked: found exposed",
		append(logAttrs(record), "url", leak.URL, "reportedBy", leak.ReportedBy)...)
	s.cfg.Notify.KeyRevokedAsLeaked(record, owner, leak, time.Now())
	return LeakResult{Outcome: LeakRevoked, KeyID: key.ID, Key: record, Owner: owner}, nil
}

// findVerifiedWaiting is FindVerified, trying again while the verifier is
// busy (no argon2id memory free) until ctx ends: a report must not lose a
// leaked key because other requests were verifying keys at that moment.
func (s *Store) findVerifiedWaiting(ctx context.Context, v *verifier.Verifier, key apikey.Key, client string) (record, owner *core.Record, err error) {
	for {
		record, owner, err = s.FindVerified(ctx, v, key, client)
		var retry *verifier.RetryError
		if !errors.As(err, &retry) || !errors.Is(err, verifier.ErrBusy) {
			return record, owner, err
		}
		timer := time.NewTimer(retry.After)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, nil, err
		case <-timer.C:
		}
	}
}

// leakMemo remembers the SHA-256 of the last tokens revoked as leaked, so
// that a token reported again (GitHub resends, a report twice, a retried
// report) is answered as the real key it was. A key's row is gone once it
// is revoked, so nothing else could tell it from a made-up token. Bounded:
// the oldest are forgotten first.
type leakMemo struct {
	mu    sync.Mutex
	set   map[[sha256.Size]byte]struct{}
	order [][sha256.Size]byte // ring of the entries, oldest at next
	next  int
}

const leakMemoSize = 10_000

func (m *leakMemo) has(d [sha256.Size]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.set[d]
	return ok
}

// remove forgets d (its slot in the ring is reused in turn).
func (m *leakMemo) remove(d [sha256.Size]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.set, d)
}

func (m *leakMemo) add(d [sha256.Size]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.set == nil {
		m.set = make(map[[sha256.Size]byte]struct{})
	}
	if _, ok := m.set[d]; ok {
		return
	}
	if len(m.order) < leakMemoSize {
		m.order = append(m.order, d)
	} else {
		delete(m.set, m.order[m.next])
		m.order[m.next] = d
		m.next = (m.next + 1) % leakMemoSize
	}
	m.set[d] = struct{}{}
}
