package clientinfo_test

import (
	"testing"

	"github.com/pbkeys/pbkeys/internal/clientinfo"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"curl/8.5.0", clientinfo.MaxUserAgent, "curl/8.5.0"},
		{"  agent\r\nX-Forged: 1\t", 100, "agent  X-Forged: 1"},
		{"bad \xff byte", 100, "bad \uFFFD byte"},
		{"héllo", 2, "h"}, // never half a rune
		{"abcdef", 3, "abc"},
		{"\x00\x01", 10, ""},
	} {
		if got := clientinfo.Clean(tc.in, tc.max); got != tc.want {
			t.Errorf("Clean(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
