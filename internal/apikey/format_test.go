package apikey_test

import (
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

const (
	idAlphabet        = "abcdefghijklmnopqrstuvwxyz0123456789"
	base64urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	base62Alphabet    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

func randomString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// TestPatternMatchesKeysAndLittleElse: the published regular expression
// matches every generated key, alone or inside text, and no random
// base64url string of a key's length; of strings shaped exactly like a key
// (so the pattern matches), the checksum refuses all. The counts are
// logged (go test -run TestPattern -v ./internal/apikey) for docs/secret-scanning.md.
func TestPatternMatchesKeysAndLittleElse(t *testing.T) {
	const n = 100_000
	pattern := regexp.MustCompile(apikey.Pattern)
	r := rand.New(rand.NewPCG(11, 2026)) // fixed: the same strings every run

	for i := 0; i < n; i++ {
		id := randomString(r, idAlphabet, apikey.IDLength)
		secret, err := apikey.NewSecret(id)
		if err != nil {
			t.Fatal(err)
		}
		key := id + "." + secret
		if got := pattern.FindString("export PBKEYS_KEY=" + key + "\n"); got != key {
			t.Fatalf("generated key %d: the pattern found %q in a line holding it", i, got)
		}
	}

	count := func(make func() string) (matched, accepted int) {
		for i := 0; i < n; i++ {
			s := make()
			if pattern.MatchString(s) {
				matched++
			}
			if _, err := apikey.Parse(s); err == nil {
				accepted++
			}
		}
		return matched, accepted
	}

	// Random base64url strings of a key's length.
	matched, accepted := count(func() string { return randomString(r, base64urlAlphabet, apikey.Length) })
	t.Logf("%d random base64url strings of %d characters: %d match the pattern, %d parse as keys", n, apikey.Length, matched, accepted)
	if matched != 0 || accepted != 0 {
		t.Errorf("random base64url strings: %d matched, %d accepted; want none", matched, accepted)
	}

	// "<id>." and a random base64url secret of the new length: what a
	// key-like token of another system looks like.
	matched, accepted = count(func() string {
		return randomString(r, idAlphabet, apikey.IDLength) + "." + randomString(r, base64urlAlphabet, apikey.SecretLength)
	})
	t.Logf("%d key-shaped strings with a random base64url secret: %d match the pattern, %d parse as keys", n, matched, accepted)
	if matched > 1 || accepted != 0 { // expected matches: n × 64⁻⁴ × (62/64)⁴⁹ ≈ 0.001
		t.Errorf("key-shaped strings: %d matched, %d accepted", matched, accepted)
	}

	// Exactly a key's shape, marker included, with a random body and
	// checksum: the pattern matches all of them; the checksum is what
	// tells them from keys (expected false accepts: n / 2³² ≈ 0.00002).
	matched, accepted = count(func() string {
		return randomString(r, idAlphabet, apikey.IDLength) + "." + apikey.Marker + randomString(r, base62Alphabet, apikey.BodyLength+apikey.ChecksumLength)
	})
	t.Logf("%d strings shaped exactly like keys: %d match the pattern, %d pass the checksum", n, matched, accepted)
	if matched != n || accepted > 1 {
		t.Errorf("key-shaped strings with the marker: %d matched (want all), %d accepted", matched, accepted)
	}
}

// The pattern finds whole keys only, and never a legacy key (which has no
// marker: scanners cannot tell it from other tokens).
func TestPatternBoundaries(t *testing.T) {
	pattern := regexp.MustCompile(apikey.Pattern)
	for _, c := range []struct {
		text, want string
	}{
		{validKey, validKey},
		{`"key": "` + validKey + `"`, validKey},
		{"Authorization: Bearer " + validKey, validKey},
		{"KEY='" + validKey + "'", validKey},
		{"x" + validKey, ""}, // part of a longer word
		{validKey + "x", ""}, // a longer secret
		{validKey[:len(validKey)-1], ""},
		{legacyKey, ""},
		{strings.ToUpper(validID) + "." + validSecret, ""},
	} {
		if got := pattern.FindString(c.text); got != c.want {
			t.Errorf("in %q the pattern found %q, want %q", c.text, got, c.want)
		}
	}
}

// The README publishes the pattern scanners are given: it must be this one.
func TestREADMEPublishesThePattern(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```\n"+apikey.Pattern+"\n```") {
		t.Fatalf("README.md does not publish %s in a code block of its own", apikey.Pattern)
	}
}
