package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/web"
)

func TestInvalidTokenSignsOut(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)

	// A password change renews the user's tokenKey: the old cookie dies.
	c := srv.Client(t)
	c.Login(hookstest.AliceEmail, hookstest.Password)
	alice, _ := srv.Env.App.FindRecordById("users", hookstest.AliceID)
	alice.SetPassword("a brand new password")
	if err := srv.Env.App.Save(alice); err != nil {
		t.Fatal(err)
	}
	res := c.Get(pagestest.Paths.Keys)
	if res.StatusCode != http.StatusSeeOther || res.Location() != pagestest.Paths.Login {
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
	b.Login(hookstest.BobEmail, hookstest.Password)
	bob, _ := srv.Env.App.FindRecordById("users", hookstest.BobID)
	if err := srv.Env.App.Delete(bob); err != nil {
		t.Fatal(err)
	}
	if res := b.Get(pagestest.Paths.Keys); res.StatusCode != http.StatusSeeOther {
		t.Errorf("deleted user: %d", res.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	c := srv.Client(t)
	c.Login(hookstest.AliceEmail, hookstest.Password)
	csrf := pagestest.InputValue(c.Get(pagestest.Paths.Keys).Body, "csrf")

	// Without the page's token: refused, still signed in.
	if res := c.Post(pagestest.Paths.Logout, url.Values{"csrf": {"forged"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("logout without token: %d", res.StatusCode)
	}
	if c.Get(pagestest.Paths.Keys).StatusCode != 200 {
		t.Fatal("signed out by a forged form")
	}

	res := c.Post(pagestest.Paths.Logout, url.Values{"csrf": {csrf}})
	if res.StatusCode != http.StatusSeeOther || res.Location() != pagestest.Paths.Login {
		t.Fatalf("logout: %d to %q", res.StatusCode, res.Location())
	}
	if c.Cookie(web.SessionCookie) != "" {
		t.Error("session cookie kept")
	}
	if !strings.Contains(c.Get(pagestest.Paths.Login).Body, "You have been signed out.") {
		t.Error("no signed-out message")
	}
	if res := c.Get(pagestest.Paths.Keys); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d", res.StatusCode)
	}
}

// TestCrossSiteRequestsRefused: a form on another site cannot act for a
// signed-in user, even knowing the token; nor can a missing token.
func TestCrossSiteRequestsRefused(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	c := srv.Client(t)
	c.Login(hookstest.AliceEmail, hookstest.Password)
	create := newKeyForm(t, c, "from evil")
	roll := rollForm(t, c, hookstest.AliceKeyID, "now")
	csrf := url.Values{"csrf": {create.Get("csrf")}}
	login := url.Values{"email": {hookstest.AliceEmail}, "password": {hookstest.Password}}

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
			{pagestest.Paths.Keys, create},
			{pagestest.Paths.Revoke(hookstest.AliceKeyID), csrf},
			{pagestest.Paths.Roll(hookstest.AliceKeyID), roll},
			{pagestest.Paths.Disable(hookstest.AliceKeyID), csrf},
			{pagestest.Paths.Enable(hookstest.AliceKeyID), csrf},
			{pagestest.Paths.RevokeAll, csrf},
			{pagestest.Paths.Logout, csrf},
			{pagestest.Paths.Login, login},
			{pagestest.Paths.Signup, url.Values{"email": {"new@example.com"}, "password": {"12345678"}, "passwordConfirm": {"12345678"}}},
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
			{pagestest.Paths.Keys, f},
			{pagestest.Paths.Revoke(hookstest.AliceKeyID), url.Values{"csrf": {token}}},
			{pagestest.Paths.Roll(hookstest.AliceKeyID), url.Values{"csrf": {token}, "nonce": {roll.Get("nonce")}, "grace": {"now"}}},
			{pagestest.Paths.Disable(hookstest.AliceKeyID), url.Values{"csrf": {token}}},
			{pagestest.Paths.RevokeAll, url.Values{"csrf": {token}}},
		} {
			if res := c.Post(r.path, r.form); res.StatusCode != http.StatusForbidden {
				t.Errorf("token %q POST %s: %d, want 403", token, r.path, res.StatusCode)
			}
		}
	}

	// Nothing changed.
	if n := countKeys(t, srv, hookstest.AliceID); n != 1 {
		t.Errorf("Alice has %d keys, want 1", n)
	}
	if r, _ := srv.Env.Store.Find(hookstest.AliceKeyID); r.GetBool("disabled") || !r.GetDateTime("expires").IsZero() {
		t.Error("a cross-site form disabled or rolled the key")
	}
	if _, err := srv.Env.App.FindAuthRecordByEmail("users", "new@example.com"); err == nil {
		t.Error("a cross-site sign-up created an account")
	}
	if c.Get(pagestest.Paths.Keys).StatusCode != 200 {
		t.Error("signed out by a cross-site form")
	}
}

func TestStaticAndRoot(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	c := srv.Client(t)
	// Outside the prefix nothing is the pages': "/" and the rest are the
	// app's (here, PocketBase's 404).
	for _, path := range []string{"/", "/login", "/signup", "/logout", "/static/css/app.css", "/api-keysx"} {
		if res := c.Get(path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d %q, want the app's 404", path, res.StatusCode, res.Location())
		}
	}
	// The prefix with a trailing slash, as people type it, leads to the list.
	if res := c.Get(pagestest.Paths.Keys + "/"); res.StatusCode != http.StatusMovedPermanently || res.Location() != pagestest.Paths.Keys {
		t.Errorf("GET %s/: %d %q, want 301 to %s", pagestest.Paths.Keys, res.StatusCode, res.Location(), pagestest.Paths.Keys)
	}
	page := c.Get(pagestest.Paths.Login).Body
	for _, asset := range []struct{ name, contentType string }{
		{"css/app.css", "text/css"},
		{"js/app.js", "javascript"},
		{"icons/key.svg", "image/svg+xml"},
	} {
		i := strings.Index(page, pagestest.Paths.Static+asset.name+"?v=")
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
	if res := c.Get(pagestest.Paths.Static + "../main.go"); res.StatusCode == 200 {
		t.Error("static serves outside its tree")
	}
	// No page loads anything from another origin.
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("page references another origin")
	}
}

func TestBadInputIsNeverAServerError(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	c := srv.Client(t)
	c.Login(hookstest.AliceEmail, hookstest.Password)
	huge := url.Values{"label": {strings.Repeat("x", 200<<10)}}
	for _, path := range []string{pagestest.Paths.Keys, pagestest.Paths.Login, pagestest.Paths.Signup, pagestest.Paths.RevokeAll} {
		res := c.Post(path, huge)
		if res.StatusCode >= 500 {
			t.Errorf("POST %s with a huge body: %d", path, res.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+pagestest.Paths.Keys, strings.NewReader("%zz=%"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res := c.Do(req); res.StatusCode >= 500 {
		t.Errorf("malformed form: %d", res.StatusCode)
	}
	// Odd values in the key options are refused inline.
	odd := newKeyForm(t, c, "odd")
	odd.Set("access", "custom")
	for i := 0; i < 200; i++ {
		odd.Add("perm.notes", strings.Repeat("w", i))
	}
	odd.Set("allowed_ips", strings.Repeat("1.", 5000)+"\x00\n::/0%eth0")
	odd.Set("expires", "custom")
	odd.Set("expires_date", "9999-99-99T99")
	odd.Set("rate_limit", "1e309")
	if res := c.Post(pagestest.Paths.Keys, odd); res.StatusCode != http.StatusBadRequest {
		t.Errorf("odd key options: %d, want 400", res.StatusCode)
	}
	for _, path := range []string{"/api-keys/revoke/%00", "/api-keys/revoke/" + strings.Repeat("a", 5000), "/api-keys/roll/%00"} {
		if res := c.Get(path); res.StatusCode >= 500 {
			t.Errorf("GET %s: %d", path[:20], res.StatusCode)
		}
	}
}

// TestSessionCookieSecureOverTLS: a session started over HTTPS is never
// sent back over plain HTTP.
func TestSessionCookieSecureOverTLS(t *testing.T) {
	t.Parallel()
	form := url.Values{"email": {hookstest.AliceEmail}, "password": {hookstest.Password}}
	s := tests.ApiScenario{
		Name:           "login over TLS",
		Method:         http.MethodPost,
		URL:            "https://pbkeys.example/api-keys/login", // httptest marks the request as TLS
		Body:           strings.NewReader(form.Encode()),
		Headers:        map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		ExpectedStatus: http.StatusSeeOther,
		TestAppFactory: pagestest.Factory(),
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

// TestPagesUnderAnotherPrefix: every page, asset, link, form and cookie
// follows a configured prefix, and "/" leads there only when asked.
func TestPagesUnderAnotherPrefix(t *testing.T) {
	t.Parallel()
	env := hookstest.New(t, func(c *hooks.Config) {
		c.PagesPath = "/account/keys"
		c.RedirectRoot = true
	})
	t.Cleanup(env.App.Cleanup)
	srv := &pagestest.Server{Server: env.Serve(t), Env: env}
	c := srv.Client(t)

	if res := c.Get("/"); res.StatusCode != http.StatusSeeOther || res.Location() != "/account/keys" {
		t.Errorf("/: %d to %q, want the pages", res.StatusCode, res.Location())
	}
	if res := c.Get("/account/keys"); res.StatusCode != http.StatusSeeOther || res.Location() != "/account/keys/login" {
		t.Errorf("guest: %d to %q", res.StatusCode, res.Location())
	}
	login := c.Get("/account/keys/login")
	for _, want := range []string{`action="/account/keys/login"`, `href="/account/keys/static/css/app.css?v=`, `href="/account/keys/signup"`} {
		if !strings.Contains(login.Body, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	res := c.Post("/account/keys/login", url.Values{"email": {hookstest.AliceEmail}, "password": {hookstest.Password}})
	if res.StatusCode != http.StatusSeeOther || res.Location() != "/account/keys" {
		t.Fatalf("sign in: %d to %q", res.StatusCode, res.Location())
	}
	for _, ck := range res.Cookies() {
		if ck.Name == web.SessionCookie && ck.Path != "/account/keys" {
			t.Errorf("session cookie path %q, want the prefix", ck.Path)
		}
	}
	list := c.Get("/account/keys").Body
	for _, want := range []string{
		`action="/account/keys/logout"`, `href="/account/keys/new"`,
		`href="/account/keys/revoke/` + hookstest.AliceKeyID + `"`, `href="/account/keys/roll/` + hookstest.AliceKeyID + `"`,
		`action="/account/keys/disable/` + hookstest.AliceKeyID + `"`,
	} {
		if !strings.Contains(list, want) {
			t.Errorf("list page lacks %s", want)
		}
	}
	for _, path := range []string{"/api-keys", "/api-keys/login", "/api-keys/static/css/app.css"} {
		if res := c.Get(path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404 (the default prefix is not taken)", path, res.StatusCode)
		}
	}
}
