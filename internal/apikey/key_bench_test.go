package apikey_test

import (
	"testing"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

// Parsing the header is on the path of every key-authenticated request.
func BenchmarkFromAuthorization(b *testing.B) {
	header := "Bearer " + validKey
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := apikey.FromAuthorization(header); err != nil {
			b.Fatal(err)
		}
	}
}
