package apikey_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

const (
	validID     = "k1alice00000001"
	validSecret = "4dONW9nY_twlMQ3O-ZFbGeE6yTNybcUolPYe121ICiI"
	validKey    = validID + "." + validSecret
)

func TestNewSecretIsCanonicalAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		s, err := apikey.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != apikey.SecretLength || strings.ContainsAny(s, ".=+/") {
			t.Fatalf("secret %q: want %d URL-safe characters without '.'", s, apikey.SecretLength)
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

func TestFromAuthorization(t *testing.T) {
	cases := []struct {
		name   string
		header string
		found  bool
		err    error
	}{
		{"bearer key", "Bearer " + validKey, true, nil},
		{"lower-case scheme", "bearer " + validKey, true, nil},
		{"bare key (JS/Dart SDK)", validKey, true, nil},
		{"empty", "", false, nil},
		{"bearer without token", "Bearer ", false, nil},
		{"JWT", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJpZCI6IngifQ.c2ln", false, nil},
		{"opaque token without a dot", "Bearer abcdef", false, nil},
		{"basic auth is not ours", "Basic dXNlcjpwYXNz", false, nil},
		{"short key-shaped", "Bearer a.b", true, apikey.ErrMalformed},
		{"three dots", "a.b.c.d", true, apikey.ErrMalformed},
		{"double space after scheme", "Bearer  " + validKey, true, apikey.ErrMalformed},
		{"trailing space", validKey + " ", true, apikey.ErrMalformed},
		{"upper-case id", strings.ToUpper(validID) + "." + validSecret, true, apikey.ErrMalformed},
		{"id too short", validID[1:] + "." + validSecret + "A", true, apikey.ErrMalformed},
		{"padded secret", validID + "." + validSecret[:42] + "=", true, apikey.ErrMalformed},
		{"non-canonical last character", validID + "." + validSecret[:42] + "J", true, apikey.ErrMalformed},
		{"standard base64 alphabet", validID + "." + strings.Repeat("/", 43), true, apikey.ErrMalformed},
		{"huge header", "Bearer " + strings.Repeat("a.", 1<<20), true, apikey.ErrMalformed},
		// a key id first is a key attempt, however many dots follow
		{"trailing dot (two dots)", validKey + ".", true, apikey.ErrMalformed},
		{"bare key trailing dot", "Bearer " + validKey + ".", true, apikey.ErrMalformed},
		{"key id then JWT-like tail", validID + ".e30.c2ln", true, apikey.ErrMalformed},
		{"key id, empty secret, dot", validID + "..", true, apikey.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, found, err := apikey.FromAuthorization(c.header)
			if found != c.found || !errors.Is(err, c.err) {
				t.Fatalf("found=%v err=%v, want found=%v err=%v", found, err, c.found, c.err)
			}
			if c.found && c.err == nil && (key.ID != validID || key.Secret != validSecret || key.String() != validKey) {
				t.Fatalf("parsed %+v", key)
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
	v, err := apikey.NewVerifier(apikey.DefaultVerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(t.Context(), key, hash, "192.0.2.1"); err != nil {
		t.Fatalf("issued key does not verify: %v", err)
	}
	other := key
	other.Secret = validSecret
	if err := v.Verify(t.Context(), other, hash, "192.0.2.1"); !errors.Is(err, apikey.ErrMismatch) {
		t.Fatalf("wrong secret: err = %v, want ErrMismatch", err)
	}
}
