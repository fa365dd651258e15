package apikey

import (
	"context"

	"github.com/alexedwards/argon2id"
)

// Verifier checks presented secrets against stored argon2id hashes. It is
// the one place that answers "is this secret right?"; callers look the key
// row up themselves on every request, so revocation is never cached.
type Verifier struct{}

// NewVerifier returns a Verifier.
func NewVerifier() *Verifier {
	return &Verifier{}
}

// Verify returns nil when key's secret matches storedHash and ErrMismatch
// when it does not. Other errors mean the stored hash is unusable.
func (v *Verifier) Verify(ctx context.Context, key Key, storedHash string) error {
	// argon2id.ComparePasswordAndHash compares in constant time.
	ok, err := argon2id.ComparePasswordAndHash(key.Secret, storedHash)
	if err != nil {
		return err
	}
	if !ok {
		return ErrMismatch
	}
	return nil
}
