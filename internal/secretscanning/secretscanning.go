// Package secretscanning is the partner side of GitHub's secret-scanning
// protocol: GitHub finds a provider's tokens in public code and POSTs them,
// signed, to the provider, which answers whether each was a real credential.
// https://docs.github.com/en/code-security/secret-scanning/secret-scanning-partnership-program/secret-scanning-partner-program
//
// It knows the wire formats and the signature, nothing of HTTP routing,
// PocketBase or keys: hooks/leaked.go binds it to the endpoint.
package secretscanning

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The headers GitHub signs a report with.
const (
	HeaderKeyID     = "Github-Public-Key-Identifier" // which key_identifier of the public keys
	HeaderSignature = "Github-Public-Key-Signature"  // base64 ASN.1 ECDSA P-256 signature of SHA-256(body)
)

// PublicKeysURL is where GitHub publishes the keys it signs reports with.
const PublicKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"

// The labels of a token in the answer.
const (
	TruePositive  = "true_positive"  // a real credential (now revoked)
	FalsePositive = "false_positive" // not one
)

// Errors of Verify. All of them mean: the report is not GitHub's, ignore it.
var (
	ErrUnsigned     = errors.New("secretscanning: the report has no signature headers")
	ErrUnknownKey   = errors.New("secretscanning: the report is signed with an unknown key")
	ErrBadSignature = errors.New("secretscanning: the report's signature does not verify")
)

// PublicKeys are the keys reports may be signed with, by key identifier.
type PublicKeys struct {
	keys map[string]*ecdsa.PublicKey
}

// publicKeysDocument is the shape of PublicKeysURL's answer.
type publicKeysDocument struct {
	PublicKeys []struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	} `json:"public_keys"`
}

// ParsePublicKeys reads a document shaped like PublicKeysURL's answer:
// {"public_keys":[{"key_identifier":"...","key":"-----BEGIN PUBLIC KEY-----...","is_current":true}]}.
// Every listed key is accepted, current or not: GitHub lists a retiring
// key as not current while reports signed with it may still arrive. Each
// key must be an ECDSA P-256 public key in PEM.
func ParsePublicKeys(data []byte) (*PublicKeys, error) {
	var doc publicKeysDocument
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a public keys document (%v)", err)
	}
	if len(doc.PublicKeys) == 0 {
		return nil, errors.New(`it lists no keys (want {"public_keys":[{"key_identifier":...,"key":...}]})`)
	}
	keys := &PublicKeys{keys: make(map[string]*ecdsa.PublicKey, len(doc.PublicKeys))}
	for i, k := range doc.PublicKeys {
		if k.KeyIdentifier == "" {
			return nil, fmt.Errorf("key %d has no key_identifier", i+1)
		}
		block, _ := pem.Decode([]byte(k.Key))
		if block == nil || block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("key %s is not a PEM public key", k.KeyIdentifier)
		}
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("key %s: %v", k.KeyIdentifier, err)
		}
		ec, ok := parsed.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("key %s is not an ECDSA P-256 key", k.KeyIdentifier)
		}
		keys.keys[k.KeyIdentifier] = ec
	}
	return keys, nil
}

// Len returns how many keys there are.
func (p *PublicKeys) Len() int { return len(p.keys) }

// Verify checks that body, byte for byte as received, is signed by the key
// keyID names (the HeaderKeyID value) with signature (the HeaderSignature
// value: base64 of an ASN.1 DER ECDSA signature of SHA-256(body)).
func (p *PublicKeys) Verify(body []byte, keyID, signature string) error {
	if keyID == "" || signature == "" {
		return ErrUnsigned
	}
	key, ok := p.keys[keyID]
	if !ok {
		return ErrUnknownKey
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return ErrBadSignature
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(key, digest[:], sig) {
		return ErrBadSignature
	}
	return nil
}

// Match is one token GitHub found.
type Match struct {
	Token  string `json:"token"`  // the matched text
	Type   string `json:"type"`   // the token type the provider registered
	URL    string `json:"url"`    // where it was found; may be empty
	Source string `json:"source"` // what it was found in: content, commit, issue_comment, npm...
}

// ErrMalformed is returned by ParseReport for a body that is not a report.
var ErrMalformed = errors.New("secretscanning: malformed report")

// ParseReport reads a report: a JSON array of matches, each with a string
// "token" (not empty); "type", "url" and "source" are strings when present.
// Unknown fields are ignored (GitHub may add some).
func ParseReport(body []byte) ([]Match, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var matches []Match
	if err := dec.Decode(&matches); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if matches == nil {
		return nil, fmt.Errorf("%w: not a JSON array", ErrMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the array", ErrMalformed)
	}
	for i, m := range matches {
		if m.Token == "" {
			return nil, fmt.Errorf("%w: match %d has no token", ErrMalformed, i+1)
		}
	}
	return matches, nil
}

// Feedback is the answer about one token, in the report's order.
type Feedback struct {
	TokenRaw  string `json:"token_raw"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"` // TruePositive or FalsePositive
}
