package apikey_test

import (
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/alexedwards/argon2id"
	"github.com/pbkeys/pbkeys/internal/apikey"
)

const (
	validID = "k1alice00000001"

	// validSecret is a secret of the current format (marker, body,
	// checksum) for validID.
	validSecret = "pbk_BJVFJGTUePey6jSswnAWDZ1gLE0kBYBG6AKE4mbN42109Spsf"
	validKey    = validID + "." + validSecret

	// legacySecret is a secret issued before the checksum: 32 random
	// bytes in unpadded base64url.
	legacySecret = "4dONW9nY_twlMQ3O-ZFbGeE6yTNybcUolPYe121ICiI"
	legacyKey    = validID + "." + legacySecret
)

func TestNewSecretIsCanonicalAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		s, err := apikey.NewSecret(validID)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != apikey.SecretLength || !strings.HasPrefix(s, apikey.Marker) {
			t.Fatalf("secret %q: want %d characters starting %q", s, apikey.SecretLength, apikey.Marker)
		}
		for _, c := range s[len(apikey.Marker):] {
			if !strings.ContainsRune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", c) {
				t.Fatalf("secret %q: %q is not base62", s, c)
			}
		}
		if _, err := apikey.Parse(validID + "." + s); err != nil {
			t.Fatalf("a fresh secret does not parse: %v", err)
		}
		if seen[s] {
			t.Fatal("secret repeated")
		}
		seen[s] = true
	}
}

// The checksum is the CRC-32 (IEEE) of "<id>.pbk_<body>" in 6 base62
// digits, as docs/secret-scanning.md documents it for scanners that check it.
func TestChecksumIsDocumentedCRC32(t *testing.T) {
	body := validKey[:apikey.Length-apikey.ChecksumLength]
	sum := crc32.ChecksumIEEE([]byte(body))
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var want [6]byte
	for i := 5; i >= 0; i-- {
		want[i] = digits[sum%62]
		sum /= 62
	}
	if got := validKey[apikey.Length-apikey.ChecksumLength:]; got != string(want[:]) {
		t.Fatalf("checksum %q, want %q", got, want)
	}
}

// Every single-character typo and every swap of two neighbouring
// characters is refused by the checksum (CRC-32 catches every error
// within 32 consecutive bits), the id included.
func TestChecksumCatchesTypos(t *testing.T) {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	refused := func(s string) {
		t.Helper()
		if _, err := apikey.Parse(s); !errors.Is(err, apikey.ErrMalformed) {
			t.Fatalf("%q: err = %v, want it refused", s, err)
		}
	}
	for i := 0; i < len(validKey); i++ {
		if i == apikey.IDLength || i > apikey.IDLength && i <= apikey.IDLength+len(apikey.Marker) {
			continue // the dot and the marker are checked as such
		}
		for _, c := range []byte(alphabet) {
			if c != validKey[i] {
				typo := []byte(validKey)
				typo[i] = c
				refused(string(typo))
			}
		}
		if j := i + 1; j < len(validKey) && validKey[i] != validKey[j] && j != apikey.IDLength {
			swapped := []byte(validKey)
			swapped[i], swapped[j] = swapped[j], swapped[i]
			refused(string(swapped))
		}
	}
	// a typo in the body is a checksum error, which auth reports as such
	typo := []byte(validKey)
	typo[30] ^= 'a' ^ 'b'
	if _, err := apikey.Parse(string(typo)); !errors.Is(err, apikey.ErrChecksum) {
		t.Fatalf("body typo: err = %v, want ErrChecksum", err)
	}
}

func TestFromAuthorization(t *testing.T) {
	cases := []struct {
		name   string
		header string
		want   string // the key parsed, "" for none
		found  bool
		err    error
	}{
		{"bearer key", "Bearer " + validKey, validKey, true, nil},
		{"lower-case scheme", "bearer " + validKey, validKey, true, nil},
		{"bare key (JS/Dart SDK)", validKey, validKey, true, nil},
		{"legacy key", "Bearer " + legacyKey, legacyKey, true, nil},
		{"bare legacy key", legacyKey, legacyKey, true, nil},
		{"empty", "", "", false, nil},
		{"bearer without token", "Bearer ", "", false, nil},
		{"JWT", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJpZCI6IngifQ.c2ln", "", false, nil},
		{"opaque token without a dot", "Bearer abcdef", "", false, nil},
		{"key id alone", "Bearer " + validID, "", true, apikey.ErrIncomplete},
		{"bare key id alone", validID, "", true, apikey.ErrIncomplete},
		{"key id alone, lower-case scheme", "bearer " + validID, "", true, apikey.ErrIncomplete},
		{"key id alone is malformed", validID, "", true, apikey.ErrMalformed},
		{"16 characters without a dot", validID + "a", "", false, nil},
		{"upper-case id alone", strings.ToUpper(validID), "", false, nil},
		{"basic auth is not ours", "Basic dXNlcjpwYXNz", "", false, nil},
		{"short key-shaped", "Bearer a.b", "", true, apikey.ErrMalformed},
		{"three dots", "a.b.c.d", "", true, apikey.ErrMalformed},
		{"double space after scheme", "Bearer  " + validKey, "", true, apikey.ErrMalformed},
		{"trailing space", validKey + " ", "", true, apikey.ErrMalformed},
		{"upper-case id", strings.ToUpper(validID) + "." + validSecret, "", true, apikey.ErrMalformed},
		{"id too short", validID[1:] + "." + validSecret + "A", "", true, apikey.ErrMalformed},
		{"huge header", "Bearer " + strings.Repeat("a.", 1<<20), "", true, apikey.ErrMalformed},
		// the current format
		{"checksum off by one character", validKey[:len(validKey)-1] + "g", "", true, apikey.ErrChecksum},
		{"another key's id", "k3alice00000003." + validSecret, "", true, apikey.ErrChecksum},
		{"checksum cut off", validKey[:len(validKey)-1], "", true, apikey.ErrMalformed},
		{"marker in another case", validID + ".PBK_" + validSecret[4:], "", true, apikey.ErrMalformed},
		{"no marker, same length", validID + ".xxx_" + validSecret[4:], "", true, apikey.ErrMalformed},
		{"base64url character in the body", validID + "." + validSecret[:10] + "-" + validSecret[11:], "", true, apikey.ErrMalformed},
		// the legacy format
		{"padded legacy secret", validID + "." + legacySecret[:42] + "=", "", true, apikey.ErrMalformed},
		{"non-canonical last character", validID + "." + legacySecret[:42] + "J", "", true, apikey.ErrMalformed},
		{"standard base64 alphabet", validID + "." + strings.Repeat("/", 43), "", true, apikey.ErrMalformed},
		// a key id first is a key attempt, however many dots follow
		{"trailing dot (two dots)", validKey + ".", "", true, apikey.ErrMalformed},
		{"bare key trailing dot", "Bearer " + validKey + ".", "", true, apikey.ErrMalformed},
		{"key id then JWT-like tail", validID + ".e30.c2ln", "", true, apikey.ErrMalformed},
		{"key id, empty secret, dot", validID + "..", "", true, apikey.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, found, err := apikey.FromAuthorization(c.header)
			if found != c.found || !errors.Is(err, c.err) {
				t.Fatalf("found=%v err=%v, want found=%v err=%v", found, err, c.found, c.err)
			}
			if c.want != "" && (key.ID != validID || key.String() != c.want) {
				t.Fatalf("parsed %+v, want %s", key, c.want)
			}
		})
	}
}

func TestIssueHashesTheSecret(t *testing.T) {
	params := apikey.DefaultParams
	params.Memory = 1024 // cheap for the test; production uses DefaultParams
	key, hash, err := apikey.Issue(validID, params)
	if err != nil {
		t.Fatal(err)
	}
	if key.ID != validID || strings.Contains(hash, key.Secret) || !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("key %s, hash %s", key.ID, hash)
	}
	if _, err := apikey.Parse(key.String()); err != nil {
		t.Fatalf("issued key does not parse: %v", err)
	}
	if ok, err := argon2id.ComparePasswordAndHash(key.Secret, hash); !ok || err != nil {
		t.Fatalf("issued key does not match its hash: %v", err)
	}
	if ok, _ := argon2id.ComparePasswordAndHash(validSecret, hash); ok {
		t.Fatal("another secret matches the hash")
	}
}

// Keys issued before the checksum keep verifying as they always did.
func TestLegacyKeyVerifies(t *testing.T) {
	params := apikey.DefaultParams
	params.Memory = 1024
	hash, err := apikey.Hash(legacySecret, params)
	if err != nil {
		t.Fatal(err)
	}
	key, err := apikey.Parse(legacyKey)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := argon2id.ComparePasswordAndHash(key.Secret, hash); !ok || err != nil {
		t.Fatalf("legacy key does not match its hash: %v", err)
	}
}
