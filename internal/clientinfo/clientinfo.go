// Package clientinfo makes what a request says about its client — its
// address, its user agent, or any other text from outside — safe to store
// and show: the key's last use (internal/usage) and its lifecycle record
// (internal/events) keep them alike.
package clientinfo

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxUserAgent bounds a stored user agent, in bytes: a header anyone
	// can fill is not stored at any length.
	MaxUserAgent = 512

	// MaxIP bounds a stored client address, in bytes (an IPv6 address
	// with a zone fits).
	MaxIP = 64
)

// Clean returns s as valid UTF-8, with control characters turned into
// spaces, trimmed, and cut to at most max bytes on a rune boundary.
func Clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	for len(s) > max {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
