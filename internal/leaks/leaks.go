// Package leaks revokes API keys found exposed: a reported token is checked
// like any presented key, a live one is revoked at once and its owner told,
// and what was revoked is remembered so that a report sent again still says
// it was a real key.
package leaks

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
	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/verifier"
	"github.com/pbkeys/pbkeys/internal/writetx"
)

// Revoker revokes keys reported as leaked, for leaked-key reports and the
// CLI alike.
type Revoker struct {
	app      core.App
	store    *keystore.Store
	verifier *verifier.Verifier
	notify   Notifier
	memo     memo // tokens revoked as leaked
}

// Notifier tells a key's owner that it was revoked as leaked, after the
// revocation is committed, without blocking (internal/ownermail).
type Notifier interface {
	KeyRevokedAsLeaked(key, owner *core.Record, leak Leak, at time.Time)
}

// New returns a Revoker that checks tokens with v, as presented keys are
// checked, and tells owners through notify.
func New(app core.App, store *keystore.Store, v *verifier.Verifier, notify Notifier) *Revoker {
	return &Revoker{app: app, store: store, verifier: v, notify: notify}
}

// Leak says where a key was found exposed and who reported it, for its
// owner's mail, the log and the key's events.
type Leak struct {
	URL        string          // where it was found; may be empty
	ReportedBy string          // e.g. "GitHub secret scanning"
	By         keystore.Origin // who revokes it, from where: a leak report, the CLI
}

// Outcome is what Revoke made of a reported token.
type Outcome int

const (
	// NotAKey: not a live key of this server — malformed, a wrong
	// checksum, an unknown id or a wrong secret. A false positive.
	NotAKey Outcome = iota

	// Revoked: a live key, revoked now; its owner is being emailed.
	Revoked

	// AlreadyRevoked: a real key that was revoked as leaked before
	// (by this process) or by someone else while it was being checked. It
	// was a true positive; nothing more is done.
	AlreadyRevoked

	// Unchecked: possibly a key, but it could not be checked now (its
	// id or the client is throttled, or no argon2id memory came free in
	// time). Nothing was done; report it again later.
	Unchecked
)

// Result is what Revoke did with one token. It never holds the
// token.
type Result struct {
	Outcome    Outcome
	KeyID      string        // the key's id, once the token parsed as a key
	Key        *core.Record  // the revoked key (Revoked)
	Owner      *core.Record  // its owner (Revoked)
	RetryAfter time.Duration // when to try again (Unchecked)
}

// TruePositive reports whether the token was a real key of this server.
func (r Result) TruePositive() bool {
	return r.Outcome == Revoked || r.Outcome == AlreadyRevoked
}

// Revoke handles a token found exposed. A token that is a live key — checked like any presented
// key: apikey.Parse (format, checksum) then FindVerified (key row, owner,
// secret) — is revoked at once (realtime streams that subscribed with it
// are closed by the delete hooks) and its owner is emailed which key, where
// it was found, by whom and when. Anything else changes nothing. client
// names the reporter for the verifier's per-client throttle.
//
// A key checked as a live key whose deletion loses a race (reported twice
// at once) is AlreadyRevoked, so its owner gets one mail. Tokens
// revoked here are remembered (by SHA-256, never in plain text) so that a
// report sent again says they were real keys.
//
// While no argon2id memory is free it waits and tries again until ctx ends;
// a throttled key id or client is Unchecked at once. The error is for
// database failures only.
func (r *Revoker) Revoke(ctx context.Context, token string, leak Leak, client string) (Result, error) {
	key, err := apikey.Parse(token)
	if err != nil {
		return Result{Outcome: NotAKey}, nil
	}
	digest := sha256.Sum256([]byte(token))
	if r.memo.has(digest) {
		return Result{Outcome: AlreadyRevoked, KeyID: key.ID}, nil
	}

	record, owner, err := r.findVerifiedWaiting(ctx, key, client)
	var retry *verifier.RetryError
	switch {
	case errors.Is(err, sql.ErrNoRows) && r.memo.has(digest):
		return Result{Outcome: AlreadyRevoked, KeyID: key.ID}, nil // by a report running at the same time
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, keystore.ErrOwnerNotAllowed),
		errors.Is(err, verifier.ErrMismatch), errors.Is(err, verifier.ErrUnusableHash):
		return Result{Outcome: NotAKey}, nil
	case errors.As(err, &retry):
		return Result{Outcome: Unchecked, KeyID: key.ID, RetryAfter: retry.After}, nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Result{Outcome: Unchecked, KeyID: key.ID, RetryAfter: time.Second}, nil
	case err != nil:
		return Result{}, fmt.Errorf("leaks: check a leaked key: %w", err)
	}

	// The token is remembered before the delete commits, so that a report
	// of it running at the same time finds either the row or the memo.
	revoked := false
	err = writetx.Run(r.app, func(tx core.App) error {
		row, err := tx.FindRecordById(keystore.Collection, record.Id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // revoked meanwhile
		}
		if err != nil {
			return err
		}
		row.SetRaw(keystore.OriginKey, []keystore.Origin{leak.By})
		events.MarkLeaked(row, leak.URL, leak.ReportedBy)
		if err := tx.Delete(row); err != nil {
			return err
		}
		revoked = true
		r.memo.add(digest)
		return nil
	})
	if err != nil {
		if revoked {
			r.memo.remove(digest) // rolled back: the key still works
		}
		return Result{}, fmt.Errorf("leaks: revoke leaked key %s: %w", record.Id, err)
	}
	r.memo.add(digest)
	if !revoked {
		return Result{Outcome: AlreadyRevoked, KeyID: key.ID}, nil
	}
	r.app.Logger().Warn("API key revoked: found exposed", "keyId", record.Id,
		"ownerId", record.GetString(keystore.FieldOwner), "ownerCollection", record.GetString(keystore.FieldOwnerCollection),
		"label", record.GetString(keystore.FieldLabel), "url", leak.URL, "reportedBy", leak.ReportedBy)
	r.notify.KeyRevokedAsLeaked(record, owner, leak, time.Now())
	return Result{Outcome: Revoked, KeyID: key.ID, Key: record, Owner: owner}, nil
}

// findVerifiedWaiting is the store's FindVerified, trying again while the
// verifier is busy (no argon2id memory free) until ctx ends: a report must
// not lose a leaked key because other requests were verifying keys at that
// moment.
func (r *Revoker) findVerifiedWaiting(ctx context.Context, key apikey.Key, client string) (record, owner *core.Record, err error) {
	for {
		record, owner, err = r.store.FindVerified(ctx, r.verifier, key, client)
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

// memo remembers the SHA-256 of the last tokens revoked as leaked, so
// that a token reported again (GitHub resends, a report twice, a retried
// report) is answered as the real key it was. A key's row is gone once it
// is revoked, so nothing else could tell it from a made-up token. Bounded:
// the oldest are forgotten first.
type memo struct {
	mu    sync.Mutex
	set   map[[sha256.Size]byte]struct{}
	order [][sha256.Size]byte // ring of the entries, oldest at next
	next  int
}

const memoSize = 10_000

func (m *memo) has(d [sha256.Size]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.set[d]
	return ok
}

// remove forgets d (its slot in the ring is reused in turn).
func (m *memo) remove(d [sha256.Size]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.set, d)
}

func (m *memo) add(d [sha256.Size]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.set == nil {
		m.set = make(map[[sha256.Size]byte]struct{})
	}
	if _, ok := m.set[d]; ok {
		return
	}
	if len(m.order) < memoSize {
		m.order = append(m.order, d)
	} else {
		delete(m.set, m.order[m.next])
		m.order[m.next] = d
		m.next = (m.next + 1) % memoSize
	}
	m.set[d] = struct{}{}
}
