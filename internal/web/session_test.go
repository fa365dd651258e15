package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/internal/pbtest"
	"github.com/pbkeys/pbkeys/internal/web"
	"github.com/pbkeys/pbkeys/internal/web/webtest"
)

func TestInvalidTokenSignsOut(t *testing.T) {
	t.Parallel()
	srv := webtest.Start(t)

	// A password change renews the user's tokenKey: the old cookie dies.
	c := srv.Client(t)
	c.Login(pbtest.AliceEmail, pbtest.Password)
	alice, _ := srv.Env.App.FindRecordById("users", pbtest.AliceID)
	alice.SetPassword("a brand new password")
	if err := srv.Env.App.Save(alice); err != nil {
		t.Fatal(err)
	}
	res := c.Get(web.PathKeys)
	if res.StatusCode != http.StatusSeeOther || res.Location() != "/login?next=/api-keys" {
		t.Fatalf("after password change: %d to %q", res.StatusCode, res.Location())
	}
	if c.Cookie(web.SessionCookie) != "" {
		t.Error("stale session cookie not cleared")
	}
	if login := c.Get(res.Location()); !strings.Contains(login.Body, "Your session has ended") {
		t.Error("no explanation on the sign-in page")
	}

	// A deleted user is signed out too.
	b := srv.Client(t)
	b.Login(pbtest.BobEmail, pbtest.Password)
	bob, _ := srv.Env.App.FindRecordById("users", pbtest.BobID)
	if err := srv.Env.App.Delete(bob); err != nil {
		t.Fatal(err)
	}
	if res := b.Get(web.PathKeys); res.StatusCode != http.StatusSeeOther {
		t.Errorf("deleted user: %d", res.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	srv := webtest.Start(t)
	c := srv.Client(t)
	c.Login(pbtest.AliceEmail, pbtest.Password)
	csrf := webtest.InputValue(c.Get(web.PathKeys).Body, "csrf")

	// Without the page's token: refused, still signed in.
	if res := c.Post(web.PathLogout, url.Values{"csrf": {"forged"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("logout without token: %d", res.StatusCode)
	}
	if c.Get(web.PathKeys).StatusCode != 200 {
		t.Fatal("signed out by a forged form")
	}

	res := c.Post(web.PathLogout, url.Values{"csrf": {csrf}})
	if res.StatusCode != http.StatusSeeOther || res.Location() != web.PathLogin {
		t.Fatalf("logout: %d to %q", res.StatusCode, res.Location())
	}
	if c.Cookie(web.SessionCookie) != "" {
		t.Error("session cookie kept")
	}
	if !strings.Contains(c.Get(web.PathLogin).Body, "You have been signed out.") {
		t.Error("no signed-out message")
	}
	if res := c.Get(web.PathKeys); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d", res.StatusCode)
	}
}

// TestCrossSiteRequestsRefused: a form on another site cannot act for a
// signed-in user, even knowing the token; nor can a missing token.
func TestCrossSiteRequestsRefused(t *testing.T) {
	t.Parallel()
	srv := webtest.Start(t)
	c := srv.Client(t)
	c.Login(pbtest.AliceEmail, pbtest.Password)
	create := newKeyForm(t, c, "from evil")
	roll := rollForm(t, c, pbtest.AliceKeyID, "now")
	csrf := url.Values{"csrf": {create.Get("csrf")}}
	login := url.Values{"email": {pbtest.AliceEmail}, "password": {pbtest.Password}}

	crossSite := [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site", "Origin", "https://sub.example"},
		{"Origin", "https://evil.example"}, // older browsers: no Sec-Fetch-Site
	}
	for _, headers := range crossSite {
		for _, r := range []struct {
			path string
			form url.Values
		}{
			{web.PathKeys, create},
			{web.RevokePath(pbtest.AliceKeyID), csrf},
			{web.RollPath(pbtest.AliceKeyID), roll},
			{web.DisablePath(pbtest.AliceKeyID), csrf},
			{web.EnablePath(pbtest.AliceKeyID), csrf},
			{web.PathRevokeAll, csrf},
			{web.PathLogout, csrf},
			{web.PathLogin, login},
			{web.PathSignup, url.Values{"email": {"new@example.com"}, "password": {"12345678"}, "passwordConfirm": {"12345678"}}},
		} {
			res := c.Post(r.path, r.form, headers...)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "sent from another site") {
				t.Errorf("%v POST %s: %d, want 403", headers, r.path, res.StatusCode)
			}
		}
	}

	// Same site, but no or a wrong token.
	for _, token := range []string{"", "forged", csrf.Get("csrf") + "x"} {
		f := newKeyForm(t, c, "no token")
		f.Set("csrf", token)
		for _, r := range []struct {
			path string
			form url.Values
		}{
			{web.PathKeys, f},
			{web.RevokePath(pbtest.AliceKeyID), url.Values{"csrf": {token}}},
			{web.RollPath(pbtest.AliceKeyID), url.Values{"csrf": {token}, "nonce": {roll.Get("nonce")}, "grace": {"now"}}},
			{web.DisablePath(pbtest.AliceKeyID), url.Values{"csrf": {token}}},
			{web.PathRevokeAll, url.Values{"csrf": {token}}},
		} {
			if res := c.Post(r.path, r.form); res.StatusCode != http.StatusForbidden {
				t.Errorf("token %q POST %s: %d, want 403", token, r.path, res.StatusCode)
			}
		}
	}

	// Nothing changed.
	if n := countKeys(t, srv, pbtest.AliceID); n != 1 {
		t.Errorf("Alice has %d keys, want 1", n)
	}
	if r, _ := srv.Env.Store.Find(pbtest.AliceKeyID); r.GetBool("disabled") || !r.GetDateTime("expires").IsZero() {
		t.Error("a cross-site form disabled or rolled the key")
	}
	if _, err := srv.Env.App.FindAuthRecordByEmail("users", "new@example.com"); err == nil {
		t.Error("a cross-site sign-up created an account")
	}
	if c.Get(web.PathKeys).StatusCode != 200 {
		t.Error("signed out by a cross-site form")
	}
}

func TestStaticAndRoot(t *testing.T) {
	t.Parallel()
	srv := webtest.Start(t)
	c := srv.Client(t)
	if res := c.Get("/"); res.StatusCode != http.StatusSeeOther || res.Location() != web.PathKeys {
		t.Errorf("/: %d to %q", res.StatusCode, res.Location())
	}
	page := c.Get(web.PathLogin).Body
	for _, asset := range []struct{ name, contentType string }{
		{"css/app.css", "text/css"},
		{"js/app.js", "javascript"},
		{"icons/key.svg", "image/svg+xml"},
	} {
		i := strings.Index(page, "/static/"+asset.name+"?v=")
		if i < 0 {
			t.Errorf("page does not link %s", asset.name)
			continue
		}
		href := page[i : i+strings.IndexByte(page[i:], '"')]
		res := c.Get(href)
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), asset.contentType) {
			t.Errorf("%s: %d %q", href, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s not cacheable: %q", href, res.Header.Get("Cache-Control"))
		}
	}
	if res := c.Get("/static/../main.go"); res.StatusCode == 200 {
		t.Error("static serves outside its tree")
	}
	// No page loads anything from another origin.
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("page references another origin")
	}
}

func TestBadInputIsNeverAServerError(t *testing.T) {
	t.Parallel()
	srv := webtest.Start(t)
	c := srv.Client(t)
	c.Login(pbtest.AliceEmail, pbtest.Password)
	huge := url.Values{"label": {strings.Repeat("x", 200<<10)}}
	for _, path := range []string{web.PathKeys, web.PathLogin, web.PathSignup, web.PathRevokeAll} {
		res := c.Post(path, huge)
		if res.StatusCode >= 500 {
			t.Errorf("POST %s with a huge body: %d", path, res.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+web.PathKeys, strings.NewReader("%zz=%"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res := c.Do(req); res.StatusCode >= 500 {
		t.Errorf("malformed form: %d", res.StatusCode)
	}
	// Odd values in the key options are refused inline.
	odd := newKeyForm(t, c, "odd")
	for i := 0; i < 200; i++ {
		odd.Add("collections", strings.Repeat("c", i))
	}
	odd.Set("expires", "custom")
	odd.Set("expires_date", "9999-99-99T99")
	odd.Set("rate_limit", "1e309")
	if res := c.Post(web.PathKeys, odd); res.StatusCode != http.StatusBadRequest {
		t.Errorf("odd key options: %d, want 400", res.StatusCode)
	}
	for _, path := range []string{"/api-keys/%00/revoke", "/api-keys/" + strings.Repeat("a", 5000) + "/revoke", "/api-keys/%00/roll"} {
		if res := c.Get(path); res.StatusCode >= 500 {
			t.Errorf("GET %s: %d", path[:20], res.StatusCode)
		}
	}
}

// TestSessionCookieSecureOverTLS: a session started over HTTPS is never
// sent back over plain HTTP.
func TestSessionCookieSecureOverTLS(t *testing.T) {
	t.Parallel()
	form := url.Values{"email": {pbtest.AliceEmail}, "password": {pbtest.Password}}
	s := tests.ApiScenario{
		Name:           "login over TLS",
		Method:         http.MethodPost,
		URL:            "https://pbkeys.example/login", // httptest marks the request as TLS
		Body:           strings.NewReader(form.Encode()),
		Headers:        map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		ExpectedStatus: http.StatusSeeOther,
		TestAppFactory: webtest.Factory(),
		AfterTestFunc: func(t testing.TB, _ *tests.TestApp, res *http.Response) {
			for _, ck := range res.Cookies() {
				if ck.Name == web.SessionCookie {
					if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
						t.Errorf("Secure=%v HttpOnly=%v SameSite=%v", ck.Secure, ck.HttpOnly, ck.SameSite)
					}
					return
				}
			}
			t.Error("no session cookie")
		},
	}
	s.Test(t)
}
