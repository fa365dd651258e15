package bench_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/verifier"
)

// PocketBase's stages of a request authenticated by its own JWT, beside the
// key's (every BenchmarkStage; docs/performance.md has the table).

// BenchmarkStageJWTParse: the token's claims read, then its signature
// checked with the user's token key and the collection's secret, as
// FindAuthRecordByToken does around reading the user.
func BenchmarkStageJWTParse(b *testing.B) {
	env := hookstest.New(b)
	b.Cleanup(env.App.Cleanup)
	user := env.Alice(b)
	token := hookstest.JWT(b, env.App, hookstest.AliceID)
	secret := user.TokenKey() + user.Collection().AuthToken.Secret
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{}); err != nil {
			b.Fatal(err)
		}
		if _, err := security.ParseJWT(token, secret); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageJWTAuthRecord: the token's user read, by
// FindRecordById, on every request.
func BenchmarkStageJWTAuthRecord(b *testing.B) {
	env := hookstest.New(b)
	b.Cleanup(env.App.Cleanup)
	users := env.Alice(b).Collection()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.App.FindRecordById(users, hookstest.AliceID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageJWTTotal: all of PocketBase's token auth,
// FindAuthRecordByToken.
func BenchmarkStageJWTTotal(b *testing.B) {
	env := hookstest.New(b)
	b.Cleanup(env.App.Cleanup)
	token := hookstest.JWT(b, env.App, hookstest.AliceID)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.App.FindAuthRecordByToken(token, core.TokenTypeAuth); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageKeyTotal: all of a warm key's lookup and verification,
// keystore's FindVerified (the database's freshness, the key and its owner
// from memory, the verified cache).
func BenchmarkStageKeyTotal(b *testing.B) {
	env := hookstest.New(b)
	b.Cleanup(env.App.Cleanup)
	key := parsedKey(b, hookstest.AliceKey)
	v := newVerifier(b)
	if _, _, err := env.Store.FindVerified(b.Context(), v, key, "203.0.113.9"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := env.Store.FindVerified(b.Context(), v, key, "203.0.113.9"); err != nil {
			b.Fatal(err)
		}
	}
}

func parsedKey(b *testing.B, s string) apikey.Key {
	b.Helper()
	key, err := apikey.Parse(s)
	if err != nil {
		b.Fatal(err)
	}
	return key
}

func newVerifier(b *testing.B) *verifier.Verifier {
	b.Helper()
	v, err := verifier.New(hookstest.TestArgon2, verifier.Config{}, verifier.Rehash{})
	if err != nil {
		b.Fatal(err)
	}
	return v
}
