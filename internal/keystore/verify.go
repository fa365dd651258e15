package keystore

import (
	"context"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/verifier"
)

// FindVerified returns the key with key.ID and its owner when key's secret
// is right. It is how a presented key is checked, wherever it comes from —
// the Authorization header (hooks/auth.go), a leaked-key report, the CLI —
// so there is one answer to "is this a live key?":
//
//  1. the key row and its owner, read fresh (FindWithOwner): revocation,
//     expiry and owner changes are never cached;
//  2. the secret against the stored hash (verifier.Verifier: the cache of
//     recent successes, else argon2id within the memory budget and the
//     failure throttle, which counts failures per key id and per client).
//
// The key must come from apikey.Parse (or FromAuthorization), which has
// already refused malformed keys and wrong checksums without a database
// read. Errors: sql.ErrNoRows and ErrOwnerNotAllowed from the lookup,
// v.Verify's (verifier.ErrMismatch, a *verifier.RetryError, ...), or a database
// error.
func (s *Store) FindVerified(ctx context.Context, v *verifier.Verifier, key apikey.Key, client string) (record, owner *core.Record, err error) {
	record, owner, err = s.FindWithOwner(key.ID)
	if err != nil {
		return nil, nil, err
	}
	if err := v.Verify(ctx, key, record.GetString(FieldKeyHash), client); err != nil {
		return nil, nil, err
	}
	return record, owner, nil
}

// ReplaceHash stores newHash as key id's hash if its stored hash is still
// oldHash, and reports whether it did. The verifier calls it to upgrade a
// hash made with other argon2id parameters (apikey.VerifierConfig.Rehash).
//
// It is a raw UPDATE, not app.Save: the same secret hashed again is
// bookkeeping, not an edit, so it neither bumps "updated", nor runs record
// hooks, nor broadcasts a realtime event; and Save writes every column, so
// a roll, disable or label change committed since the verifier read the row
// would be overwritten. The WHERE on the old hash makes it a compare-and-set:
// a key revoked (no row) or re-hashed by someone else meanwhile is left alone.
func (s *Store) ReplaceHash(id, oldHash, newHash string) (bool, error) {
	res, err := s.app.NonconcurrentDB().Update(Collection,
		dbx.Params{FieldKeyHash: newHash},
		dbx.HashExp{"id": id, FieldKeyHash: oldHash},
	).Execute()
	if err != nil {
		return false, fmt.Errorf("keystore: replace hash: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
