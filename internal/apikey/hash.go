package apikey

import (
	"github.com/alexedwards/argon2id"
)

// DefaultParams are the argon2id parameters production uses: the library's
// defaults (64 MiB, 1 iteration, 2 lanes; docs/performance.md has what one
// hash costs). Verification reads the parameters from the stored PHC
// string, so changing them later only affects keys issued afterwards.
var DefaultParams = argon2id.Params{
	Memory:      64 * 1024,
	Iterations:  1,
	Parallelism: 2,
	SaltLength:  16,
	KeyLength:   32,
}

// Hash returns the argon2id PHC string of secret.
func Hash(secret string, params argon2id.Params) (string, error) {
	return argon2id.CreateHash(secret, &params)
}

// Issue generates a new secret and its hash for the key with the given id.
// It returns the full key, shown once to the user, and the hash to store.
func Issue(id string, params argon2id.Params) (key Key, hash string, err error) {
	secret, err := NewSecret(id)
	if err != nil {
		return Key{}, "", err
	}
	hash, err = Hash(secret, params)
	if err != nil {
		return Key{}, "", err
	}
	return Key{ID: id, Secret: secret}, hash, nil
}
