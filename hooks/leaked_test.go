package hooks_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// githubSigner stands in for GitHub: an ECDSA P-256 key pair whose public
// half is listed (or not) in the public keys file.
type githubSigner struct {
	id   string
	priv *ecdsa.PrivateKey
}

func newSigner(t testing.TB, id string) githubSigner {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return githubSigner{id: id, priv: priv}
}

// sign returns the headers GitHub sends with body.
func (s githubSigner) sign(t testing.TB, body string) map[string]string {
	t.Helper()
	digest := sha256.Sum256([]byte(body))
	sig, err := ecdsa.SignASN1(rand.Reader, s.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"Github-Public-Key-Identifier": s.id,
		"Github-Public-Key-Signature":  base64.StdEncoding.EncodeToString(sig),
	}
}

// writeKeysFile writes the public keys document listing signers, in the
// shape of https://api.github.com/meta/public_keys/secret_scanning.
func writeKeysFile(t testing.TB, path string, signers ...githubSigner) {
	t.Helper()
	type entry struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	}
	var doc struct {
		PublicKeys []entry `json:"public_keys"`
	}
	for i, s := range signers {
		der, err := x509.MarshalPKIXPublicKey(&s.priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		doc.PublicKeys = append(doc.PublicKeys, entry{s.id, string(pemKey), i == 0})
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// leakEnv returns a fixture app that accepts reports signed by signers,
// and the path of its public keys file.
func leakEnv(t testing.TB, signers ...githubSigner) (*hookstest.Env, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret_scanning.json")
	writeKeysFile(t, path, signers...)
	env := hookstest.New(t, func(c *hooks.Config) { c.LeakReportKeys = path })
	t.Cleanup(env.App.Cleanup)
	return env, path
}

// report is a report body for tokens, as GitHub writes it.
func report(tokens ...string) string {
	type match struct {
		Token  string `json:"token"`
		Type   string `json:"type"`
		URL    string `json:"url"`
		Source string `json:"source"`
	}
	matches := make([]match, len(tokens))
	for i, tok := range tokens {
		matches[i] = match{tok, "pbkeys_api_key", fmt.Sprintf("https://github.com/octo/app/blob/5e1f/config/%d.env", i), "content"}
	}
	raw, _ := json.Marshal(matches)
	return string(raw)
}

// postReport sends body to the leak endpoint with headers from ip.
func postReport(h http.Handler, body string, headers map[string]string, ip string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/api-keys/leaked", strings.NewReader(body))
	req.RemoteAddr = ip + ":40000"
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const githubIP = "140.82.115.1"

type feedback struct {
	TokenRaw  string `json:"token_raw"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

func decodeFeedback(t testing.TB, rec *httptest.ResponseRecorder) []feedback {
	t.Helper()
	var fb []feedback
	if err := json.Unmarshal(rec.Body.Bytes(), &fb); err != nil {
		t.Fatalf("answer %s: %v", rec.Body.String(), err)
	}
	return fb
}

// keyWorks reports whether key still authenticates.
func keyWorks(t testing.TB, h http.Handler, key string) bool {
	t.Helper()
	rec := getAs(h, "/api/collections/notes/records", "Bearer "+key, ownerIP)
	switch rec.Code {
	case 200:
		return true
	case 401:
		return false
	}
	t.Fatalf("request with key: status %d %s", rec.Code, rec.Body.String())
	return false
}

// A correctly signed report of a live key revokes it at once — its open
// realtime stream included — emails its owner, and says true_positive.
func TestLeakReportRevokesAndNotifies(t *testing.T) {
	gh := newSigner(t, "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c")
	env, _ := leakEnv(t, gh)
	key, record := issue(t, env, keystore.Options{Label: "deploy <bot>"})
	waitForMail(t, env.App, 1) // "new API key"
	srv := env.Serve(t)

	c := connectRealtime(t, srv.URL)
	if res := c.subscribe(t, key, "notes/*"); res.StatusCode != http.StatusNoContent {
		t.Fatalf("subscribe with key: status %d", res.StatusCode)
	}

	url := `https://github.com/octo/app/blob/5e1f/.env?x="><script>alert(1)</script>`
	body := `[{"token":"` + key + `","type":"pbkeys_api_key","url":"` + strings.ReplaceAll(url, `"`, `\"`) + `","source":"content"}]`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/api-keys/leaked", strings.NewReader(body))
	for k, v := range gh.sign(t, body) {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var fb []feedback
	if err := json.NewDecoder(res.Body).Decode(&fb); err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d, err %v", res.StatusCode, err)
	}
	res.Body.Close()
	if len(fb) != 1 || fb[0] != (feedback{key, "pbkeys_api_key", "true_positive"}) {
		t.Fatalf("answer %+v, want one true_positive echoing the token and type", fb)
	}

	if _, err := env.Store.Find(record.Id); err == nil {
		t.Fatal("the reported key still exists")
	}
	if status, _ := call(t, srv.URL, http.MethodGet, "/api/collections/notes/records", "Bearer "+key, ""); status != 401 {
		t.Fatalf("the reported key: status %d, want 401", status)
	}
	saveNote(t, env.App, hookstest.AliceID, "after the leak")
	for ev := c.next(t, 5*time.Second); ev.Name != "closed"; ev = c.next(t, 5*time.Second) {
		if strings.Contains(ev.Data, "after the leak") {
			t.Fatal("the leaked key's realtime stream still receives events")
		}
	}

	waitForMail(t, env.App, 2)
	msg := env.App.TestMailer.LastMessage()
	if len(msg.To) != 1 || msg.To[0].Address != hookstest.AliceEmail {
		t.Fatalf("mail to %v, want the owner", msg.To)
	}
	for _, want := range []string{record.Id, "deploy <bot>", url, "GitHub secret scanning", "Revoked:", "/api-keys", "revoked"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("mail text lacks %q:\n%s", want, msg.Text)
		}
	}
	if !strings.Contains(msg.Subject, "deploy <bot>") || !strings.Contains(msg.Subject, "revoked") {
		t.Errorf("subject %q", msg.Subject)
	}
	if strings.Contains(msg.HTML, "<script>") || strings.Contains(msg.HTML, "<bot>") {
		t.Errorf("mail HTML does not escape the report's url or the label:\n%s", msg.HTML)
	}
	if secret := strings.SplitN(key, ".", 2)[1]; strings.Contains(msg.Text+msg.HTML+msg.Subject, secret) {
		t.Fatal("the mail contains the secret")
	}
}

// Reports that are not GitHub's — signed by an unlisted key, tampered
// with, without or with broken headers — get 401 and change nothing.
func TestLeakReportForgedChangesNothing(t *testing.T) {
	gh := newSigner(t, "github-1")
	env, _ := leakEnv(t, gh)
	key, record := issue(t, env, keystore.Options{Label: "victim"})
	h := inProcessMux(t, env)
	body := report(key)
	signed := gh.sign(t, body)
	forger := newSigner(t, "github-1") // claims GitHub's key id
	stranger := newSigner(t, "someone-else")

	for _, c := range []struct {
		name    string
		body    string
		headers map[string]string
		message string
	}{
		{"signed by an unlisted key under a listed id", body, forger.sign(t, body), "does not verify"},
		{"signed by an unlisted key under its own id", body, stranger.sign(t, body), "does not verify"},
		{"tampered body", strings.Replace(body, "content", "commit", 1), signed, "does not verify"},
		{"signature of another body", body, gh.sign(t, report(key, key)), "does not verify"},
		{"no key identifier", body, map[string]string{"Github-Public-Key-Signature": signed["Github-Public-Key-Signature"]}, "not signed"},
		{"no signature", body, map[string]string{"Github-Public-Key-Identifier": gh.id}, "not signed"},
		{"no headers", body, nil, "not signed"},
		{"signature not base64", body, map[string]string{"Github-Public-Key-Identifier": gh.id, "Github-Public-Key-Signature": "%%%"}, "does not verify"},
		{"signature not ASN.1", body, map[string]string{"Github-Public-Key-Identifier": gh.id, "Github-Public-Key-Signature": base64.StdEncoding.EncodeToString([]byte("abc"))}, "does not verify"},
		{"malformed and unsigned", "not json", nil, "not signed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := postReport(h, c.body, c.headers, githubIP)
			if rec.Code != 401 || !strings.Contains(rec.Body.String(), `"status":401`) || !strings.Contains(rec.Body.String(), c.message) {
				t.Fatalf("status %d %s, want 401 saying %q", rec.Code, rec.Body.String(), c.message)
			}
			if strings.Contains(rec.Body.String(), key) {
				t.Fatal("the refusal echoes the token")
			}
			if _, err := env.Store.Find(record.Id); err != nil {
				t.Fatal("a forged report revoked the key")
			}
		})
	}
	if !keyWorks(t, h, key) {
		t.Fatal("the key stopped working")
	}
	time.Sleep(100 * time.Millisecond) // mails are sent in the background
	if n := env.App.TestMailer.TotalSend(); n != 1 {
		t.Fatalf("%d mails, want only the one about the key's creation", n)
	}
}

// A report mixing live keys (new and legacy format) with look-alikes and
// other tokens labels each one, in order, and revokes only the live keys.
func TestLeakReportLabelsEachToken(t *testing.T) {
	gh := newSigner(t, "github-1")
	env, _ := leakEnv(t, gh)
	h := inProcessMux(t, env)
	key, record := issue(t, env, keystore.Options{Label: "leaked"})
	sibling, siblingRecord := issue(t, env, keystore.Options{Label: "not leaked"})
	waitForMail(t, env.App, 2)

	typo := []byte(key)
	if typo[30] == 'x' { // one character off: the checksum no longer matches
		typo[30] = 'y'
	} else {
		typo[30] = 'x'
	}
	otherSecret, err := apikey.NewSecret(record.Id)
	if err != nil {
		t.Fatal(err)
	}
	unknownSecret, err := apikey.NewSecret("zzzzzzzzzzzzzzz")
	if err != nil {
		t.Fatal(err)
	}
	tokens := []struct {
		token, label string
	}{
		{key, "true_positive"},
		{hookstest.BobKey, "true_positive"}, // a legacy key is a key too
		{string(typo), "false_positive"},
		{record.Id + "." + otherSecret, "false_positive"},              // right checksum, wrong secret
		{"zzzzzzzzzzzzzzz." + unknownSecret, "false_positive"},         // right checksum, unknown id
		{"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", "false_positive"}, // someone else's token
		{"eyJhbGciOiJIUzI1NiJ9.eyJpZCI6IngifQ.c2ln", "false_positive"}, // a JWT
		{key, "true_positive"},                                         // listed twice
	}
	var list []string
	for _, tok := range tokens {
		list = append(list, tok.token)
	}
	body := report(list...)
	rec := postReport(h, body, gh.sign(t, body), githubIP)
	if rec.Code != 200 {
		t.Fatalf("status %d %s", rec.Code, rec.Body.String())
	}
	fb := decodeFeedback(t, rec)
	if len(fb) != len(tokens) {
		t.Fatalf("%d answers for %d tokens", len(fb), len(tokens))
	}
	for i, tok := range tokens {
		if fb[i] != (feedback{tok.token, "pbkeys_api_key", tok.label}) {
			t.Errorf("token %d: answer %+v, want %s", i, fb[i], tok.label)
		}
	}

	for id, want := range map[string]bool{record.Id: false, hookstest.BobKeyID: false, siblingRecord.Id: true, hookstest.AliceKeyID: true} {
		if _, err := env.Store.Find(id); (err == nil) != want {
			t.Errorf("key %s exists: %v, want %v", id, err == nil, want)
		}
	}
	if !keyWorks(t, h, sibling) {
		t.Error("a key that was not reported stopped working")
	}
	waitForMail(t, env.App, 4) // one per revoked key, not per listing
	time.Sleep(100 * time.Millisecond)
	if n := env.App.TestMailer.TotalSend(); n != 4 {
		t.Fatalf("%d mails, want 2 creations and 2 leaks", n)
	}
	to := map[string]bool{}
	for _, m := range env.App.TestMailer.Messages()[2:] {
		to[m.To[0].Address] = true
	}
	if !to[hookstest.AliceEmail] || !to[hookstest.BobEmail] {
		t.Errorf("leak mails went to %v, want Alice and Bob", to)
	}
}

// A key reported again — GitHub found it twice, or resends a report — is
// still a true positive, and nothing happens twice.
func TestLeakReportTwice(t *testing.T) {
	gh := newSigner(t, "github-1")
	env, _ := leakEnv(t, gh)
	h := inProcessMux(t, env)
	key, _ := issue(t, env, keystore.Options{Label: "leaked"})
	body := report(key)
	for round := 1; round <= 2; round++ {
		rec := postReport(h, body, gh.sign(t, body), githubIP)
		if rec.Code != 200 {
			t.Fatalf("round %d: status %d %s", round, rec.Code, rec.Body.String())
		}
		if fb := decodeFeedback(t, rec); len(fb) != 1 || fb[0].Label != "true_positive" {
			t.Fatalf("round %d: answer %+v", round, fb)
		}
	}
	waitForMail(t, env.App, 2)
	time.Sleep(100 * time.Millisecond)
	if n := env.App.TestMailer.TotalSend(); n != 2 {
		t.Fatalf("%d mails, want the creation and one leak", n)
	}
}

// Malformed and oversized reports, correctly signed, are refused in
// PocketBase's error shape and change nothing.
func TestLeakReportMalformed(t *testing.T) {
	gh := newSigner(t, "github-1")
	env, _ := leakEnv(t, gh)
	h := inProcessMux(t, env)
	key, _ := issue(t, env, keystore.Options{Label: "kept"})
	many := make([]string, 1001)
	for i := range many {
		many[i] = key
	}
	for _, c := range []struct {
		name   string
		body   string
		status int
	}{
		{"not JSON", "not json", 400},
		{"an object", `{"token":"` + key + `"}`, 400},
		{"null", `null`, 400},
		{"numbers", `[1,2]`, 400},
		{"a token that is not a string", `[{"token":5}]`, 400},
		{"no token", `[{"type":"pbkeys_api_key","url":""}]`, 400},
		{"an empty token", `[{"token":""}]`, 400},
		{"two arrays", report(key) + report(key), 400},
		{"a stray bracket", report(key) + "]", 400},
		{"1001 tokens", report(many...), 413},
		{"over 1 MiB", `[{"token":"` + key + `","url":"` + strings.Repeat("a", 1<<20) + `"}]`, 413},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := postReport(h, c.body, gh.sign(t, c.body), githubIP)
			if rec.Code != c.status || !strings.Contains(rec.Body.String(), fmt.Sprintf(`"status":%d`, c.status)) {
				t.Fatalf("status %d %s, want %d in PocketBase's error shape", rec.Code, rec.Body.String(), c.status)
			}
			if !keyWorks(t, h, key) {
				t.Fatal("the key was revoked")
			}
		})
	}
	// an empty report is a report
	if rec := postReport(h, "[]", gh.sign(t, "[]"), githubIP); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Fatalf("empty report: %d %s, want 200 []", rec.Code, rec.Body.String())
	}
}

// Without PBKEYS_LEAK_REPORT_KEYS the endpoint does not exist.
func TestLeakReportOffWithoutKeys(t *testing.T) {
	gh := newSigner(t, "github-1")
	body := report(hookstest.AliceKey)
	s := tests.ApiScenario{
		Name: "no public keys file", Method: http.MethodPost, URL: "/api/api-keys/leaked",
		Body: strings.NewReader(body), Headers: gh.sign(t, body),
		ExpectedStatus: 404, ExpectedContent: []string{`"status":404`},
		TestAppFactory: hookstest.Factory(),
		AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
			if _, err := app.FindRecordById("api_keys", hookstest.AliceKeyID); err != nil {
				t.Fatal("the key was revoked")
			}
		},
	}
	s.Test(t)
}

// An API key never reaches the endpoint (like every /api/api-keys/ route),
// even with a valid signature: 403, nothing changed.
func TestLeakReportRefusesKeys(t *testing.T) {
	gh := newSigner(t, "github-1")
	env, _ := leakEnv(t, gh)
	h := inProcessMux(t, env)
	body := report(hookstest.BobKey)
	headers := gh.sign(t, body)
	headers["Authorization"] = "Bearer " + hookstest.AliceKey
	rec := postReport(h, body, headers, githubIP)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "API keys cannot manage API keys") {
		t.Fatalf("status %d %s, want 403", rec.Code, rec.Body.String())
	}
	if !keyWorks(t, h, hookstest.BobKey) {
		t.Fatal("the reported key was revoked")
	}
}

// Reports are rate-limited per client address, before the signature is
// checked: the 61st in a minute gets 429 with Retry-After; other addresses
// are not affected.
func TestLeakReportRateLimit(t *testing.T) {
	gh := newSigner(t, "github-1")
	env, _ := leakEnv(t, gh)
	h := inProcessMux(t, env)
	for i := 0; i < 60; i++ {
		if rec := postReport(h, "[]", nil, "198.51.100.9"); rec.Code != 401 {
			t.Fatalf("report %d: status %d, want 401 (unsigned)", i+1, rec.Code)
		}
	}
	rec := postReport(h, "[]", gh.sign(t, "[]"), "198.51.100.9")
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"status":429`) {
		t.Fatalf("61st report: status %d (Retry-After %q) %s, want 429", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if rec := postReport(h, "[]", gh.sign(t, "[]"), githubIP); rec.Code != 200 {
		t.Fatalf("another address: status %d, want 200", rec.Code)
	}
}

// A key that cannot be checked now (the reporter's own address is
// throttled for its id after wrong secrets, and it is not in the verified
// cache) is not answered false_positive: the report gets 503 with
// Retry-After, to be sent again, and what could be revoked is revoked. An
// attacker's wrong secrets for a key id, from elsewhere, do not keep the
// report from revoking that key: failures count per (key id, client).
func TestLeakReportUncheckedKeyAsksForRetry(t *testing.T) {
	gh := newSigner(t, "github-1")
	path := filepath.Join(t.TempDir(), "keys.json")
	writeKeysFile(t, path, gh)
	env := hookstest.New(t, func(c *hooks.Config) {
		c.LeakReportKeys = path
		c.Tuning.Verifier.MaxKeyFailures = 1
		c.Tuning.Verifier.RefusalDelay = -1 // answer 429s at once
	})
	t.Cleanup(env.App.Cleanup)
	h := inProcessMux(t, env)
	throttled, throttledRecord := issue(t, env, keystore.Options{Label: "throttled"})
	attacked, attackedRecord := issue(t, env, keystore.Options{Label: "attacked"})
	other, otherRecord := issue(t, env, keystore.Options{Label: "other"})
	for _, tc := range []struct {
		record *core.Record
		from   string
	}{{throttledRecord, githubIP}, {attackedRecord, attackerIP}} {
		wrong, _ := apikey.NewSecret(tc.record.Id)
		if rec := getAs(h, aliceNoteURL, "Bearer "+tc.record.Id+"."+wrong, tc.from); rec.Code != 401 {
			t.Fatalf("wrong secret from %s: status %d", tc.from, rec.Code)
		}
	}

	body := report(throttled, attacked, other)
	rec := postReport(h, body, gh.sign(t, body), githubIP)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "again later") {
		t.Fatalf("status %d (Retry-After %q) %s, want 503", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if _, err := env.Store.Find(throttledRecord.Id); err != nil {
		t.Error("the unchecked key was revoked")
	}
	for _, r := range []*core.Record{attackedRecord, otherRecord} {
		if _, err := env.Store.Find(r.Id); err == nil {
			t.Errorf("the checkable key %q was not revoked", r.GetString(keystore.FieldLabel))
		}
	}
}

// The public keys file is read again when it changes: GitHub's rotated keys
// are accepted without a restart, and a broken file keeps the keys read
// before.
func TestLeakReportKeysFileReload(t *testing.T) {
	old := newSigner(t, "github-old")
	env, path := leakEnv(t, old)
	h := inProcessMux(t, env)
	next := newSigner(t, "github-new")

	if rec := postReport(h, "[]", next.sign(t, "[]"), githubIP); rec.Code != 401 {
		t.Fatalf("unknown key: status %d, want 401", rec.Code)
	}
	writeKeysFile(t, path, next, old)
	touchLater(t, path)
	for _, s := range []githubSigner{next, old} {
		if rec := postReport(h, "[]", s.sign(t, "[]"), githubIP); rec.Code != 200 {
			t.Fatalf("after the refresh, %s: status %d %s", s.id, rec.Code, rec.Body.String())
		}
	}
	if err := os.WriteFile(path, []byte("<html>rate limited</html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	touchLater(t, path)
	if rec := postReport(h, "[]", next.sign(t, "[]"), githubIP); rec.Code != 200 {
		t.Fatalf("after a broken refresh: status %d %s, want the keys read before", rec.Code, rec.Body.String())
	}
}

// touchLater moves path's modification time forward, so a rewrite within the
// file system's time resolution is noticed.
func touchLater(t testing.TB, path string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	later := info.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
}

// A server configured with a file it cannot use does not start.
func TestLeakReportKeysFileRequiredAtStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"public_keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.json"), bad} {
		app, err := tests.NewTestApp(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cfg := hookstest.Config()
		cfg.LeakReportKeys = path
		err = hooks.Register(app, cfg)
		app.Cleanup()
		if err == nil || !strings.Contains(err.Error(), "PBKEYS_LEAK_REPORT_KEYS") {
			t.Errorf("%s: Register error %v, want one naming %s", path, err, "PBKEYS_LEAK_REPORT_KEYS")
		}
	}
}
