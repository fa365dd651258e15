package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/web"
)

// signedIn starts a server and returns a client signed in as Alice.
func signedIn(t *testing.T) (*pagestest.Server, *pagestest.Client) {
	t.Helper()
	srv := pagestest.Start(t)
	c := srv.Client(t)
	c.Login(hookstest.AliceEmail, hookstest.Password)
	return srv, c
}

func countKeys(t testing.TB, srv *pagestest.Server, owner string) int {
	t.Helper()
	records, err := srv.Env.Store.List(srv.Env.Record(t, "users", owner))
	if err != nil {
		t.Fatal(err)
	}
	return len(records)
}

// newKeyForm opens the New API key page and returns its form values.
func newKeyForm(t testing.TB, c *pagestest.Client, label string) url.Values {
	t.Helper()
	page := c.Get(pagestest.Paths.NewKey)
	if page.StatusCode != 200 {
		t.Fatalf("new key page: %d", page.StatusCode)
	}
	return url.Values{
		"csrf":  {pagestest.InputValue(page.Body, "csrf")},
		"nonce": {pagestest.InputValue(page.Body, "nonce")},
		"label": {label},
	}
}

func TestGuestsAreSentToSignIn(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	guest := srv.Client(t)
	p := pagestest.Paths
	// After sign-in a GET comes back to where it was; a POST to the list
	// (where the sign-in page goes without a "next").
	for _, r := range []struct{ method, path, next string }{
		{http.MethodGet, p.Keys, ""},
		{http.MethodGet, p.NewKey, p.NewKey},
		{http.MethodGet, p.RevokeAll, p.RevokeAll},
		{http.MethodGet, p.Revoke(hookstest.AliceKeyID), p.Revoke(hookstest.AliceKeyID)},
		{http.MethodPost, p.Keys, ""},
		{http.MethodPost, p.RevokeAll, ""},
		{http.MethodPost, p.Revoke(hookstest.AliceKeyID), ""},
		{http.MethodGet, p.Roll(hookstest.AliceKeyID), p.Roll(hookstest.AliceKeyID)},
		{http.MethodPost, p.Roll(hookstest.AliceKeyID), ""},
		{http.MethodPost, p.Disable(hookstest.AliceKeyID), ""},
		{http.MethodPost, p.Enable(hookstest.AliceKeyID), ""},
	} {
		var res *pagestest.Response
		if r.method == http.MethodGet {
			res = guest.Get(r.path)
		} else {
			res = guest.Post(r.path, url.Values{"label": {"x"}})
		}
		want := p.Login
		if r.next != "" {
			want += "?next=" + r.next
		}
		if res.StatusCode != http.StatusSeeOther || res.Location() != want {
			t.Errorf("%s %s: %d to %q, want 303 to %q", r.method, r.path, res.StatusCode, res.Location(), want)
		}
	}
	if n, _ := srv.Env.App.CountRecords(keystore.Collection); n != 2 {
		t.Errorf("%d keys, want the fixture's 2", n)
	}

	// The sign-in page brings the guest back.
	res := guest.Post(p.Login, url.Values{"email": {hookstest.AliceEmail}, "password": {hookstest.Password}, "next": {p.NewKey}})
	if res.Location() != p.NewKey {
		t.Errorf("after sign-in: %q", res.Location())
	}

	var scenarios []tests.ApiScenario
	// An invalid (e.g. forged or stale) cookie is a guest too, and is cleared.
	scenarios = append(scenarios, tests.ApiScenario{
		Name:           "forged session cookie",
		Method:         http.MethodGet,
		URL:            p.Keys,
		Headers:        map[string]string{"Cookie": web.SessionCookie + "=eyJhbGciOiJIUzI1NiJ9.e30.x"},
		ExpectedStatus: http.StatusSeeOther,
		TestAppFactory: pagestest.Factory(),
		AfterTestFunc: func(t testing.TB, _ *tests.TestApp, res *http.Response) {
			cleared := false
			for _, ck := range res.Cookies() {
				cleared = cleared || (ck.Name == web.SessionCookie && ck.MaxAge < 0)
			}
			if !cleared || res.Header.Get("Location") != p.Login {
				t.Errorf("cookie cleared=%v, Location %q", cleared, res.Header.Get("Location"))
			}
		},
	})
	for _, s := range scenarios {
		s.Test(t)
	}
}

func TestListKeys(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	res := c.Get(pagestest.Paths.Keys)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, want := range []string{
		"<title>API keys · pbkeys</title>",
		`data-testid="signed-in-email">` + hookstest.AliceEmail,
		"Sign out",
		hookstest.AliceKeyLabel,
		hookstest.AliceKeyID + ".••••••••",
		`<span class="never">Never</span>`,
		`<time datetime="`,
		"Revoke all",
		"New API key",
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	for _, notWant := range []string{hookstest.BobKeyLabel, hookstest.BobKeyID, hookstest.AliceKeySecret} {
		if strings.Contains(res.Body, notWant) {
			t.Errorf("list shows %q", notWant)
		}
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}

	// Last used, once the key has been used.
	if code := srv.APIGet(t, pagestest.AliceNotePath, hookstest.AliceKey); code != 200 {
		t.Fatalf("REST with Alice's key: %d", code)
	}
	waitFor(t, func() bool {
		r, _ := srv.Env.Store.Find(hookstest.AliceKeyID)
		return !r.GetDateTime(keystore.FieldLastUsed).IsZero()
	})
	if res := c.Get(pagestest.Paths.Keys); strings.Contains(res.Body, `<span class="never">Never</span>`) || !strings.Contains(res.Body, "just now") {
		t.Errorf("last used not shown:\n%s", res.Body)
	}

	// Newest first.
	if _, _, err := srv.Env.Store.Issue(srv.Env.Record(t, "users", hookstest.AliceID), keystore.Options{Label: "Newer key"}, keystore.Origin{}); err != nil {
		t.Fatal(err)
	}
	body := c.Get(pagestest.Paths.Keys).Body
	if strings.Index(body, "Newer key") > strings.Index(body, hookstest.AliceKeyLabel) {
		t.Error("the newest key is not first")
	}
}

func TestEmptyState(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	if _, err := srv.Env.Store.RevokeAll(srv.Env.Record(t, "users", hookstest.AliceID)); err != nil {
		t.Fatal(err)
	}
	res := c.Get(pagestest.Paths.Keys)
	if !strings.Contains(res.Body, "No API keys yet") || !strings.Contains(res.Body, "Create your first API key") {
		t.Errorf("no empty state:\n%s", res.Body)
	}
	if strings.Contains(res.Body, `data-testid="keys"`) || strings.Contains(res.Body, "Revoke all") {
		t.Error("empty list shows a table or Revoke all")
	}
}

// keyPattern is the published pattern, anchored: a revealed key is one
// that secret scanners find.
var keyPattern = regexp.MustCompile("^" + apikey.Pattern + "$")

func TestCreateKey(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	form := newKeyForm(t, c, "  CI deploy  ")
	res := c.Post(pagestest.Paths.Keys, form)
	if res.StatusCode != 200 {
		t.Fatalf("status %d\n%s", res.StatusCode, res.Body)
	}
	key := pagestest.RevealedKey(res.Body)
	if !keyPattern.MatchString(key) {
		t.Fatalf("revealed %q, want a key", key)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("reveal Cache-Control %q, want no-store", got)
	}
	for _, want := range []string{"Your new API key “CI deploy”", "will not be shown again", "Copy"} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("reveal lacks %q", want)
		}
	}
	for _, ck := range res.Cookies() {
		if strings.Contains(ck.Value, key) || strings.Contains(ck.Value, key[16:]) {
			t.Errorf("cookie %s holds the key", ck.Name)
		}
	}
	if strings.Contains(res.Header.Get("Location"), key[16:]) {
		t.Error("the key is in a URL")
	}

	// The key is real: stored hashed, owned by Alice, and it authenticates.
	parsed, err := apikey.Parse(key)
	if err != nil {
		t.Fatal(err)
	}
	record, err := srv.Env.Store.FindOwned(srv.Env.Record(t, "users", hookstest.AliceID), parsed.ID)
	if err != nil {
		t.Fatalf("new key not Alice's: %v", err)
	}
	if record.GetString(keystore.FieldLabel) != "CI deploy" {
		t.Errorf("label %q", record.GetString(keystore.FieldLabel))
	}
	if strings.Contains(record.GetString(keystore.FieldKeyHash), parsed.Secret) {
		t.Error("secret stored in plain text")
	}
	if code := srv.APIGet(t, pagestest.AliceNotePath, key); code != 200 {
		t.Errorf("REST with the new key: %d", code)
	}

	// The list shows it masked afterwards, never in full.
	list := c.Get(pagestest.Paths.Keys)
	if !strings.Contains(list.Body, parsed.ID+".••••••••") || strings.Contains(list.Body, parsed.Secret) {
		t.Error("list does not show the new key masked")
	}
	if pagestest.RevealedKey(list.Body) != "" {
		t.Error("list reveals a key")
	}
}

func TestCreateKeyValidation(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	for _, tc := range []struct{ name, label, message string }{
		{"empty", "", "Enter a label for the key."},
		{"blank", "   ", "Enter a label for the key."},
		{"too long", strings.Repeat("x", 101), "Use at most 100 characters"},
		{"control characters", "line\nbreak", "cannot contain control characters"},
	} {
		res := c.Post(pagestest.Paths.Keys, newKeyForm(t, c, tc.label))
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tc.name, res.StatusCode)
		}
		if !strings.Contains(res.Body, tc.message) || !strings.Contains(res.Body, `aria-invalid="true"`) {
			t.Errorf("%s: no inline error %q", tc.name, tc.message)
		}
		if got := pagestest.InputValue(res.Body, "label"); got != tc.label {
			t.Errorf("%s: typed label not kept: %q", tc.name, got)
		}
		if pagestest.RevealedKey(res.Body) != "" {
			t.Errorf("%s: a key was revealed", tc.name)
		}
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 1 {
		t.Errorf("Alice has %d keys after invalid creates, want 1", n)
	}

	// The form's nonce survives a validation error: fixing the label and
	// sending the same form again creates the key.
	form := newKeyForm(t, c, "")
	c.Post(pagestest.Paths.Keys, form)
	form.Set("label", "fixed")
	if res := c.Post(pagestest.Paths.Keys, form); res.StatusCode != 200 || pagestest.RevealedKey(res.Body) == "" {
		t.Errorf("corrected form: %d", res.StatusCode)
	}
	// Exactly 100 characters is fine.
	if res := c.Post(pagestest.Paths.Keys, newKeyForm(t, c, strings.Repeat("y", 100))); res.StatusCode != 200 {
		t.Errorf("100 characters: %d", res.StatusCode)
	}
}

func TestHostileLabelIsText(t *testing.T) {
	t.Parallel()
	_, c := signedIn(t)
	hostile := `<img src=x onerror=alert(1)>"'&`
	res := c.Post(pagestest.Paths.Keys, newKeyForm(t, c, hostile))
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, body := range []string{res.Body, c.Get(pagestest.Paths.Keys).Body} {
		if strings.Contains(body, "<img src=x") {
			t.Fatal("label rendered as HTML")
		}
		if !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Error("label not shown as text")
		}
	}
}

func TestCreateKeyResubmitted(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	form := newKeyForm(t, c, "once")
	first := c.Post(pagestest.Paths.Keys, form)
	key := pagestest.RevealedKey(first.Body)
	if key == "" {
		t.Fatal("no key revealed")
	}

	// Reload of the reveal (the browser re-posts the same form), twice.
	for i := 0; i < 2; i++ {
		again := c.Post(pagestest.Paths.Keys, form)
		if again.StatusCode != http.StatusSeeOther || again.Location() != pagestest.Paths.Keys {
			t.Fatalf("resubmission: %d to %q", again.StatusCode, again.Location())
		}
		if strings.Contains(again.Body, key) {
			t.Fatal("resubmission shows the key again")
		}
		list := c.Get(pagestest.Paths.Keys)
		if strings.Contains(list.Body, key[16:]) {
			t.Fatal("list shows the key again")
		}
		if i == 0 && !strings.Contains(list.Body, "already created with this form, so no second key was created") {
			t.Errorf("no explanation after a resubmission:\n%s", list.Body)
		}
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 2 {
		t.Errorf("Alice has %d keys, want 2 (fixture + one)", n)
	}

	// A nonce that was never issued (or expired) creates nothing and keeps
	// the label; so does Bob's nonce in Alice's session.
	bob := srv.Client(t)
	bob.Login(hookstest.BobEmail, hookstest.Password)
	bobsNonce := newKeyForm(t, bob, "").Get("nonce")
	for _, nonce := range []string{"", "made-up", bobsNonce} {
		f := newKeyForm(t, c, "stale")
		f.Set("nonce", nonce)
		res := c.Post(pagestest.Paths.Keys, f)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "This form has expired") {
			t.Errorf("nonce %q: %d", nonce, res.StatusCode)
		}
		if pagestest.InputValue(res.Body, "label") != "stale" {
			t.Error("typed label not kept")
		}
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 2 {
		t.Errorf("Alice has %d keys, want 2", n)
	}
}

func TestRevokeKey(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	csrf := pagestest.InputValue(c.Get(pagestest.Paths.Keys).Body, "csrf")

	// The confirmation names the key.
	confirm := c.Get(pagestest.Paths.Revoke(hookstest.AliceKeyID))
	if confirm.StatusCode != 200 || !strings.Contains(confirm.Body, "Revoke ‘"+hookstest.AliceKeyLabel+"’?") ||
		!strings.Contains(confirm.Body, "Apps using it stop working immediately.") {
		t.Fatalf("confirmation: %d\n%s", confirm.StatusCode, confirm.Body)
	}

	// Someone else's key and an unknown id: 404, nothing changes.
	for _, id := range []string{hookstest.BobKeyID, "doesnotexist123", "x' OR '1'='1"} {
		if res := c.Get(pagestest.Paths.Revoke(url.PathEscape(id))); res.StatusCode != http.StatusNotFound {
			t.Errorf("confirm %q: %d, want 404", id, res.StatusCode)
		}
		res := c.Post(pagestest.Paths.Revoke(url.PathEscape(id)), url.Values{"csrf": {csrf}})
		if res.StatusCode != http.StatusNotFound || !strings.Contains(res.Body, "does not exist or has already been revoked") {
			t.Errorf("revoke %q: %d, want 404", id, res.StatusCode)
		}
	}
	if _, err := srv.Env.Store.Find(hookstest.BobKeyID); err != nil {
		t.Fatal("Bob's key was deleted")
	}
	if code := srv.APIGet(t, "/api/collections/notes/records/"+hookstest.BobNoteID, hookstest.BobKey); code != 200 {
		t.Errorf("Bob's key stopped working: %d", code)
	}

	// Her own: gone, says so, and the key no longer authenticates.
	res := c.Post(pagestest.Paths.Revoke(hookstest.AliceKeyID), url.Values{"csrf": {csrf}})
	if res.StatusCode != http.StatusSeeOther || res.Location() != pagestest.Paths.Keys {
		t.Fatalf("revoke: %d to %q", res.StatusCode, res.Location())
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 0 {
		t.Errorf("Alice still has %d keys", n)
	}
	if list := c.Get(pagestest.Paths.Keys); !strings.Contains(list.Body, "Revoked ‘"+hookstest.AliceKeyLabel+"’") {
		t.Error("no confirmation message after revoking")
	}
	if code := srv.APIGet(t, pagestest.AliceNotePath, hookstest.AliceKey); code != http.StatusUnauthorized {
		t.Errorf("revoked key: %d, want 401", code)
	}
	// Revoking it again is a 404, not an error page.
	if res := c.Post(pagestest.Paths.Revoke(hookstest.AliceKeyID), url.Values{"csrf": {csrf}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("second revoke: %d", res.StatusCode)
	}
}

func TestRevokeAll(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	for _, label := range []string{"two", "three"} {
		if _, _, err := srv.Env.Store.Issue(srv.Env.Record(t, "users", hookstest.AliceID), keystore.Options{Label: label}, keystore.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	confirm := c.Get(pagestest.Paths.RevokeAll)
	if confirm.StatusCode != 200 || !strings.Contains(confirm.Body, "Revoke all 3 API keys?") {
		t.Fatalf("confirmation: %d", confirm.StatusCode)
	}
	res := c.Post(pagestest.Paths.RevokeAll, url.Values{"csrf": {pagestest.InputValue(confirm.Body, "csrf")}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d", res.StatusCode)
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 0 {
		t.Errorf("Alice has %d keys left", n)
	}
	if n := countKeys(t, srv, hookstest.BobID); n != 1 {
		t.Errorf("Bob has %d keys, want 1", n)
	}
	list := c.Get(pagestest.Paths.Keys)
	if !strings.Contains(list.Body, "Revoked all 3 API keys.") || !strings.Contains(list.Body, "No API keys yet") {
		t.Errorf("after revoke all:\n%s", list.Body)
	}
	if code := srv.APIGet(t, pagestest.AliceNotePath, hookstest.AliceKey); code != http.StatusUnauthorized {
		t.Errorf("revoked key: %d", code)
	}
}

// TestOwnerIsEmailedForPageKeys: a key made on the page (and one made by
// rolling) reaches the owner's inbox, saying it came from the page.
func TestOwnerIsEmailedForPageKeys(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	mailer := srv.Env.App.TestMailer
	res := c.Post(pagestest.Paths.Keys, newKeyForm(t, c, "from the page"))
	key := pagestest.RevealedKey(res.Body)
	if key == "" {
		t.Fatalf("no key revealed: %d", res.StatusCode)
	}
	waitFor(t, func() bool { return mailer.TotalSend() >= 1 })
	msg := mailer.LastMessage()
	if len(msg.To) != 1 || msg.To[0].Address != hookstest.AliceEmail {
		t.Fatalf("mail to %v", msg.To)
	}
	for _, want := range []string{"from the page", key[:15], "API keys page", "/api-keys"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("mail lacks %q:\n%s", want, msg.Text)
		}
	}
	if strings.Contains(msg.Text+msg.HTML, key[16:]) {
		t.Fatal("the mail contains the secret")
	}

	res = c.Post(pagestest.Paths.Roll(key[:15]), rollForm(t, c, key[:15], "1h"))
	if pagestest.RevealedKey(res.Body) == "" {
		t.Fatalf("roll revealed nothing: %d", res.StatusCode)
	}
	waitFor(t, func() bool { return mailer.TotalSend() >= 2 })
	if msg := mailer.LastMessage(); !strings.Contains(msg.Text, "API keys page (roll)") {
		t.Errorf("roll mail:\n%s", msg.Text)
	}
}
