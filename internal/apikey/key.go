// Package apikey is the API-key domain: the key format, secret generation,
// argon2id hashing, the verifier and the last-used recorder. It knows nothing
// of HTTP, PocketBase or templates; hooks/ and internal/web adapt it.
package apikey

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// A key is "<id>.<secret>". Keys issued now have a scanner-friendly secret
// (format.go): a marker, a random body and a checksum of everything before
// it. Keys issued before the checksum have a secret of 32 random bytes in
// unpadded base64url; they keep working unchanged.
const (
	// IDLength is the length of a key id: a PocketBase record id.
	IDLength = 15

	// SecretLength is the length of a secret issued now:
	// Marker + BodyLength random characters + ChecksumLength. It is also
	// the longest secret Parse accepts (the verifier's cache relies on it).
	SecretLength = len(Marker) + BodyLength + ChecksumLength

	// Length is the exact length of a key issued now: "<id>.<secret>".
	Length = IDLength + 1 + SecretLength

	// LegacySecretBytes is how much crypto/rand entropy a legacy secret
	// carries (256 bits).
	LegacySecretBytes = 32

	// LegacySecretLength is the length of a legacy secret (unpadded
	// base64url of LegacySecretBytes).
	LegacySecretLength = 43

	// LegacyLength is the exact length of a legacy key.
	LegacyLength = IDLength + 1 + LegacySecretLength

	// MaxHeaderLength bounds the Authorization header we look at at all.
	// Anything longer is neither a key nor a PocketBase JWT we issue.
	MaxHeaderLength = 8 << 10
)

// ErrMalformed is returned by Parse when a value looks like an API key
// (it is not a JWT and contains a ".") but is not a canonical one.
var ErrMalformed = errors.New("apikey: malformed key")

// ErrIncomplete is returned by FromAuthorization for a key id alone (no
// dot, no secret): a key cut down to its id. It is an ErrMalformed, so it
// is refused (401) and never left to PocketBase, which would make the
// request a guest's.
var ErrIncomplete = fmt.Errorf("%w: a key id without its secret", ErrMalformed)

// ErrChecksum is returned by Parse for a key of the current format whose
// checksum does not match: a typo, or a truncated or made-up key. It is
// an ErrMalformed, refused before any database read or argon2id work.
var ErrChecksum = fmt.Errorf("%w: checksum does not match", ErrMalformed)

// legacyEncoding is base64url without padding: URL-safe and free of ".",
// so the first "." always separates the id from the secret. Strict rejects
// non-canonical encodings (non-zero trailing bits), so every legacy secret
// has exactly one spelling.
var legacyEncoding = base64.RawURLEncoding.Strict()

// Key is a parsed API key.
type Key struct {
	ID     string // the api_keys record id
	Secret string // the high-entropy part, never stored in plain text
}

// String returns the key in its issued form "<id>.<secret>".
func (k Key) String() string {
	return k.ID + "." + k.Secret
}

// Parse parses a canonical key "<id>.<secret>", of the current format
// (checksum verified; ErrChecksum when it does not match) or the legacy
// one. It does not allocate beyond fixed-size buffers, whatever the input
// length.
func Parse(s string) (Key, error) {
	if (len(s) != Length && len(s) != LegacyLength) || s[IDLength] != '.' {
		return Key{}, ErrMalformed
	}
	id, secret := s[:IDLength], s[IDLength+1:]
	if !IsID(id) {
		return Key{}, ErrMalformed
	}
	if len(s) == Length {
		if err := checkSecret(s); err != nil {
			return Key{}, err
		}
		return Key{ID: id, Secret: secret}, nil
	}
	var buf [LegacySecretBytes + 2]byte // room for the decoder's look-ahead
	n, err := legacyEncoding.Decode(buf[:], []byte(secret))
	if err != nil || n != LegacySecretBytes {
		return Key{}, ErrMalformed
	}
	return Key{ID: id, Secret: secret}, nil
}

// FromAuthorization extracts an API key from an Authorization header value.
// It accepts "Bearer <key>" (scheme case-insensitive) and the bare "<key>"
// that the PocketBase JS and Dart SDKs send.
//
// found is false when the value is not an API-key attempt: empty, a token
// without a dot that is not a key id, or a JWT-shaped value (two dots)
// whose first segment is not a key id — those are PocketBase's to handle.
// found is true with ErrMalformed when the value is key-shaped but
// invalid, so the caller can refuse it instead of treating the request as
// a guest. A value whose first segment is a key id is always a key
// attempt, whatever follows ("<key>." has two dots) and also when nothing
// follows (ErrIncomplete, with key.ID set so the attempt can be logged): a
// JWT's first segment is base64url of a JSON object, which starts "eyI" or
// "eyJ" and is never 15 characters of [a-z0-9], and PocketBase issues no
// other tokens.
func FromAuthorization(header string) (key Key, found bool, err error) {
	if len(header) > 7 && strings.EqualFold(header[:7], "Bearer ") {
		header = header[7:]
	}
	if header == "" {
		return Key{}, false, nil
	}
	if len(header) > MaxHeaderLength {
		// Too long to be anything we issue; refuse without scanning it.
		return Key{}, true, ErrMalformed
	}
	id, _, hasDot := strings.Cut(header, ".")
	switch {
	case !hasDot && IsID(header):
		return Key{ID: header}, true, ErrIncomplete // a key cut down to its id
	case !hasDot:
		return Key{}, false, nil // an opaque token: PocketBase's business
	case !IsID(id) && strings.Count(header, ".") == 2:
		return Key{}, false, nil // a JWT: PocketBase's business
	}
	key, err = Parse(header)
	return key, true, err
}

// IsID reports whether s has the shape of a key id: IDLength characters
// of [a-z0-9], like every PocketBase record id.
func IsID(s string) bool {
	if len(s) != IDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
