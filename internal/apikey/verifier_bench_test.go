package apikey

import (
	"testing"
)

// The hot path of every key-authenticated request, apart from the database:
// parsing the header and answering from the verified cache.

func BenchmarkFromAuthorization(b *testing.B) {
	header := "Bearer " + testKeyID + "." + testSecret
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := FromAuthorization(header); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	cfg := DefaultVerifierConfig()
	v, err := NewVerifier(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hash, err := Hash(testSecret, cheapParams)
	if err != nil {
		b.Fatal(err)
	}
	key := Key{ID: testKeyID, Secret: testSecret}
	if err := v.Verify(b.Context(), key, hash, "c"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := v.Verify(b.Context(), key, hash, "c"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyArgon2Default(b *testing.B) {
	cfg := DefaultVerifierConfig()
	cfg.CacheSize = -1 // no cache: every call pays argon2id, with production parameters
	v, err := NewVerifier(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hash, err := Hash(testSecret, DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	key := Key{ID: testKeyID, Secret: testSecret}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(b.Context(), key, hash, "c"); err != nil {
			b.Fatal(err)
		}
	}
}
