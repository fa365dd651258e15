package apikey_test

import (
	"testing"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

// BenchmarkStageParse: parsing the header — the key's shape and its checksum
// — is the first stage of every key-authenticated request.
func BenchmarkStageParse(b *testing.B) {
	header := "Bearer " + validKey
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := apikey.FromAuthorization(header); err != nil {
			b.Fatal(err)
		}
	}
}
