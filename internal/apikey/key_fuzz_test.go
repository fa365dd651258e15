package apikey_test

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

// FuzzFromAuthorization checks the Authorization-header parser on anything
// a client can send. CI runs it briefly (.ci/run); locally:
//
//	go test -run '^$' -fuzz FuzzFromAuthorization -fuzztime 1m ./internal/apikey
//
// Properties: it never panics; a value it does not claim (found=false) has
// no error; a value it claims but refuses is ErrMalformed; and a value it
// accepts is canonical — the header is exactly "[Bearer ]" + key.String(),
// with a 15-char [a-z0-9] id and either a current secret whose checksum
// matches or a legacy one that decodes to 32 bytes and encodes back to
// itself — so every key has one spelling only. A value whose
// first segment is a key id (a key id alone too) is always claimed: never
// left to PocketBase, which would treat an invalid one as a guest.
func FuzzFromAuthorization(f *testing.F) {
	pattern := regexp.MustCompile("^" + apikey.Pattern + "$")
	for _, seed := range []string{
		// real values
		"Bearer " + validKey,
		"bearer " + validKey,
		"BEARER " + validKey,
		validKey,
		"Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxYWxpY2UwMDAwMDAwMCJ9.c2lnbmF0dXJl",
		"Basic dXNlcjpwYXNzd29yZA==",
		"",
		"Bearer ",
		// hostile values
		"Bearer  " + validKey,
		"Bearer\t" + validKey,
		"Bearer Bearer " + validKey,
		validKey + "\n",
		validKey + "\x00",
		"\x00" + validKey,
		validKey[:68],
		validKey + "A",
		validID + "." + legacySecret[:42] + "J", // non-zero trailing bits
		validID + "." + legacySecret[:42] + "=",
		validID + "." + strings.Repeat("/", 43),
		strings.ToUpper(validID) + "." + validSecret,
		validID + "%2E" + validSecret,
		"k1alice0000000\u00e9." + validSecret[1:],
		"k1alice00000001\u2024" + validSecret, // one-dot leader, not "."
		"k1alice00000001." + validSecret[:41] + "\u00ff",
		"..",
		".",
		"a.b",
		"a.b.c.d",
		strings.Repeat(".", 59),
		strings.Repeat("a", 15) + "." + strings.Repeat("A", 43),
		"Bearer " + strings.Repeat("a.", 5000),
		validKey + ".",
		validID + ".e30.c2ln",
		legacyKey,
		"Bearer " + legacyKey,
		legacyKey[:58],
		validKey[:len(validKey)-1] + "g", // wrong checksum
		"k3alice00000003." + validSecret, // another id
		validID + ".pbk_" + strings.Repeat("0", 49),
		validID,
		"Bearer " + validID,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		key, found, err := apikey.FromAuthorization(header)
		raw := header
		if len(raw) > 7 && strings.EqualFold(raw[:7], "Bearer ") {
			raw = raw[7:]
		}
		if id, _, _ := strings.Cut(raw, "."); apikey.IsID(id) && !found {
			t.Fatalf("%q starts with a key id but was left to PocketBase", header)
		}
		switch {
		case !found:
			if err != nil {
				t.Fatalf("not found but err = %v", err)
			}
			return
		case err != nil:
			if !errors.Is(err, apikey.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			return
		}
		if key.String() != raw {
			t.Fatalf("accepted %q as %q: not canonical", header, key.String())
		}
		switch {
		case len(key.ID) != apikey.IDLength:
			t.Fatalf("accepted %q with an id of the wrong length", header)
		case len(raw) == apikey.Length && len(key.Secret) == apikey.SecretLength:
			if !strings.HasPrefix(key.Secret, apikey.Marker) || !pattern.MatchString(raw) {
				t.Fatalf("accepted %q, which the published pattern does not match", header)
			}
		case len(raw) == apikey.LegacyLength && len(key.Secret) == apikey.LegacySecretLength:
			if b, err := base64.RawURLEncoding.DecodeString(key.Secret); err != nil || base64.RawURLEncoding.EncodeToString(b) != key.Secret {
				t.Fatalf("accepted legacy secret %q: not canonical base64url", key.Secret)
			}
		default:
			t.Fatalf("accepted %q with wrong lengths", header)
		}
		for _, c := range []byte(key.ID) {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
				t.Fatalf("accepted id %q", key.ID)
			}
		}
		if again, err := apikey.Parse(key.String()); err != nil || again != key {
			t.Fatalf("accepted key does not round-trip: %v", err)
		}
	})
}

// TestFromAuthorizationAllocations: the parser's allocations do not grow
// with the header, whatever its size or shape.
func TestFromAuthorizationAllocations(t *testing.T) {
	for _, header := range []string{
		"Bearer " + validKey,
		validKey,
		validKey[:len(validKey)-1] + "g", // wrong checksum
		"Bearer " + legacyKey,
		"Bearer " + strings.Repeat("a", apikey.MaxHeaderLength-7),
		"Bearer " + strings.Repeat("a.", apikey.MaxHeaderLength/2-4),
		"Bearer " + strings.Repeat("a.", 1<<20),
		strings.Repeat("x", 8<<20),
	} {
		allocs := testing.AllocsPerRun(20, func() { apikey.FromAuthorization(header) })
		if allocs > 1 {
			t.Errorf("header of %d bytes: %v allocations per call, want at most 1", len(header), allocs)
		}
	}
}
