package secretscanning_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/secretscanning"
)

// GitHub's documented sample request, signed by one of its published
// secret-scanning keys (the document at PublicKeysURL lists it).
const (
	docKeyID     = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c"
	docPublicKey = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n"
	docSignature = "MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg=="
	docPayload   = `[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]`
)

func document(t testing.TB, entries ...[2]string) []byte {
	t.Helper()
	type entry struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	}
	var doc struct {
		PublicKeys []entry `json:"public_keys"`
	}
	for _, e := range entries {
		doc.PublicKeys = append(doc.PublicKeys, entry{e[0], e[1], false})
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func pemOf(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestVerifiesGitHubsDocumentedSample(t *testing.T) {
	keys, err := secretscanning.ParsePublicKeys(document(t, [2]string{docKeyID, docPublicKey}))
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Verify([]byte(docPayload), docKeyID, docSignature); err != nil {
		t.Fatalf("GitHub's sample does not verify: %v", err)
	}
	if err := keys.Verify([]byte(docPayload+"\n"), docKeyID, docSignature); !errors.Is(err, secretscanning.ErrBadSignature) {
		t.Fatalf("a changed body: %v, want ErrBadSignature", err)
	}
	matches, err := secretscanning.ParseReport([]byte(docPayload))
	if err != nil {
		t.Fatal(err)
	}
	want := secretscanning.Match{Token: "some_token", Type: "some_type", URL: "https://example.com/base-repo-url/", Source: "commit"}
	if len(matches) != 1 || matches[0] != want {
		t.Fatalf("parsed %+v", matches)
	}
}

func TestVerify(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secretscanning.ParsePublicKeys(document(t, [2]string{"mine", pemOf(t, &priv.PublicKey)}, [2]string{docKeyID, docPublicKey}))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`[{"token":"x"}]`)
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	good := base64.StdEncoding.EncodeToString(sig)
	for _, c := range []struct {
		name    string
		id, sig string
		body    []byte
		wantErr error
	}{
		{"signed", "mine", good, body, nil},
		{"another listed key's id", docKeyID, good, body, secretscanning.ErrBadSignature},
		{"an unknown key id", "other", good, body, secretscanning.ErrUnknownKey},
		{"no id", "", good, body, secretscanning.ErrUnsigned},
		{"no signature", "mine", "", body, secretscanning.ErrUnsigned},
		{"not base64", "mine", "!!", body, secretscanning.ErrBadSignature},
		{"base64url instead of base64", "mine", base64.RawURLEncoding.EncodeToString(sig) + "~", body, secretscanning.ErrBadSignature},
		{"another body", "mine", good, []byte(`[{"token":"y"}]`), secretscanning.ErrBadSignature},
	} {
		if err := keys.Verify(c.body, c.id, c.sig); !errors.Is(err, c.wantErr) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.wantErr)
		}
	}
}

func TestParsePublicKeysRefusesWhatIsNotAP256Key(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{
		"not JSON":           []byte("<html>API rate limit exceeded</html>"),
		"no keys":            []byte(`{"public_keys":[]}`),
		"another document":   []byte(`{"message":"Not Found"}`),
		"no key identifier":  document(t, [2]string{"", docPublicKey}),
		"not PEM":            document(t, [2]string{"k", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"}),
		"an RSA key":         document(t, [2]string{"k", pemOf(t, &rsaKey.PublicKey)}),
		"a P-384 key":        document(t, [2]string{"k", pemOf(t, &p384.PublicKey)}),
		"a private key type": document(t, [2]string{"k", strings.Replace(docPublicKey, "PUBLIC KEY", "EC PRIVATE KEY", 2)}),
	} {
		if _, err := secretscanning.ParsePublicKeys(doc); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseReport(t *testing.T) {
	for _, body := range []string{
		``, `null`, `{}`, `"x"`, `[1]`, `[null]`, `[{"token":""}]`, `[{"token":1}]`,
		`[{"token":"a","url":5}]`, `[]x`, `[][]`, `[]]`, `[{"token":"a"}`,
	} {
		if _, err := secretscanning.ParseReport([]byte(body)); !errors.Is(err, secretscanning.ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", body, err)
		}
	}
	for body, n := range map[string]int{
		`[]`:      0,
		" [ ] \n": 0,
		`[{"token":"a","type":"t","url":"","source":"npm","new_field":{"x":1}}]`: 1,
	} {
		if m, err := secretscanning.ParseReport([]byte(body)); err != nil || len(m) != n {
			t.Errorf("%q: %d matches, err %v; want %d", body, len(m), err, n)
		}
	}
}

func TestKeyFileReadsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	write := func(data []byte, mod time.Time) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now().Add(-time.Hour)
	if _, err := secretscanning.OpenKeyFile(path); err == nil {
		t.Fatal("a missing file was accepted")
	}
	write([]byte("{}"), start)
	if _, err := secretscanning.OpenKeyFile(path); err == nil {
		t.Fatal("a file without keys was accepted")
	}

	write(document(t, [2]string{docKeyID, docPublicKey}), start)
	f, err := secretscanning.OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	verifies := func() bool {
		keys, _ := f.Keys()
		return keys.Verify([]byte(docPayload), docKeyID, docSignature) == nil
	}
	if !verifies() {
		t.Fatal("the sample does not verify")
	}

	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	write(document(t, [2]string{"rotated", pemOf(t, &priv.PublicKey)}), start.Add(time.Minute))
	if keys, err := f.Keys(); err != nil || verifies() || keys.Len() != 1 {
		t.Fatalf("after a rotation: err %v, old key still verifies: %v", err, verifies())
	}

	write([]byte("<html>"), start.Add(2*time.Minute))
	if _, err := f.Keys(); err == nil {
		t.Fatal("a broken file: no error")
	}
	if keys, err := f.Keys(); err != nil || keys.Len() != 1 {
		t.Fatalf("a broken file: the keys read before are not kept (%v), or the error repeats (%v)", keys, err)
	}
}
