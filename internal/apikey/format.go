package apikey

import (
	"crypto/rand"
	"hash/crc32"
)

// The secret of a key issued now, after the id and its ".":
//
//	pbk_ <43 random base62 characters> <6 base62 characters: checksum>
//
// The fixed marker and the checksum are what GitHub's token formats have:
// a scanner finds keys with one regular expression (Pattern) and almost
// nothing else, and a mistyped or truncated key is refused offline, before
// any database read or argon2id work. The body is 43 characters drawn
// uniformly from 62, 256.03 bits of entropy: as much as 32 random bytes.
// Base62 has no ".", "-" or "_", so a key is one word to editors and
// scanners, and a double-click selects the whole secret.
const (
	// Marker starts every secret issued now.
	Marker = "pbk_"

	// BodyLength is the number of random base62 characters after Marker.
	BodyLength = 43

	// ChecksumLength is the length of the checksum that ends the secret:
	// the CRC-32 (IEEE) of everything before it — "<id>.pbk_<body>" — as a
	// base62 number, most significant digit first, padded with "0" to 6.
	ChecksumLength = 6
)

// Pattern is the regular expression (RE2 and PCRE alike) that matches keys
// issued now and very little else; docs/secret-scanning.md publishes it for secret
// scanners. Whether a match is a key is then decided by its checksum.
const Pattern = `\b[a-z0-9]{15}\.pbk_[0-9A-Za-z]{49}\b`

// base62 is the alphabet of the body and the checksum, in digit order.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewSecret returns a fresh secret for the key with the given id: the id
// is covered by the checksum, so a typo anywhere in the key is caught.
func NewSecret(id string) (string, error) {
	var key [Length]byte
	n := copy(key[:], id)
	key[n] = '.'
	n++
	n += copy(key[n:], Marker)
	if err := randomBase62(key[n : n+BodyLength]); err != nil {
		return "", err
	}
	n += BodyLength
	putChecksum(key[n:], crc32IEEE(string(key[:n])))
	return string(key[IDLength+1:]), nil
}

// randomBase62 fills dst with characters drawn uniformly from base62: a
// random byte below 248 (4 × 62) picks one, the others are drawn again, so
// no character is likelier than another.
func randomBase62(dst []byte) error {
	var buf [64]byte
	for i := 0; i < len(dst); {
		if _, err := rand.Read(buf[:]); err != nil {
			return err
		}
		for _, b := range buf {
			if b < 248 && i < len(dst) {
				dst[i] = base62[b%62]
				i++
			}
		}
	}
	return nil
}

// checkSecret checks a key of the current format, s = "<id>.<secret>" of
// Length bytes with a valid id: the marker, the body's alphabet and the
// checksum.
func checkSecret(s string) error {
	secret := s[IDLength+1:]
	if secret[:len(Marker)] != Marker {
		return ErrMalformed
	}
	rest := secret[len(Marker):]
	for i := 0; i < len(rest); i++ {
		if !isBase62(rest[i]) {
			return ErrMalformed
		}
	}
	var want [ChecksumLength]byte
	putChecksum(want[:], crc32IEEE(s[:Length-ChecksumLength]))
	if string(want[:]) != s[Length-ChecksumLength:] {
		return ErrChecksum
	}
	return nil
}

// putChecksum writes sum into dst (ChecksumLength bytes) in base62, most
// significant digit first. 62^6 > 2^32, so every sum fits.
func putChecksum(dst []byte, sum uint32) {
	v := uint64(sum)
	for i := ChecksumLength - 1; i >= 0; i-- {
		dst[i] = base62[v%62]
		v /= 62
	}
}

// crc32IEEE is crc32.ChecksumIEEE of s, computed on the string itself so
// that parsing a header allocates nothing.
func crc32IEEE(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
