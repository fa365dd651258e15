package e2e_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/web"
)

// sessionCookie returns the browser's session cookie for the pages, or
// nil. Scripts cannot read it (HttpOnly); the DevTools protocol can.
func sessionCookie(t *testing.T, ctx context.Context, srv *pagestest.Server) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{srv.URL + "/api-keys"}})
	if err != nil {
		t.Fatalf("reading cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == web.SessionCookie {
			return c
		}
	}
	return nil
}

// TestBrowserSignOutEndsTheSession: a session cookie copied before signing
// out is worth nothing after it: put back into the browser, it gets the
// sign-in page, which says the session has ended.
func TestBrowserSignOutEndsTheSession(t *testing.T) {
	ctx := newTab(t)
	srv := pagestest.Start(t)
	signIn(t, ctx, srv)
	copied := sessionCookie(t, ctx, srv)
	if copied == nil {
		t.Fatal("no session cookie after signing in")
	}
	if !copied.HTTPOnly || copied.SameSite != network.CookieSameSiteLax || copied.Path != "/api-keys" {
		t.Errorf("cookie HttpOnly=%v SameSite=%q Path=%q", copied.HTTPOnly, copied.SameSite, copied.Path)
	}
	if seen := run(t, ctx, "document.cookie", chromedp.Evaluate[string](`document.cookie`)); strings.Contains(seen, web.SessionCookie) {
		t.Error("the page's scripts can read the session cookie")
	}

	do(t, ctx, "sign out",
		chromedp.Click(css(`form[action="/api-keys/logout"] button`)),
		chromedp.WaitVisible(css("#email")),
	)
	if sessionCookie(t, ctx, srv) != nil {
		t.Error("the session cookie is still in the browser after signing out")
	}

	// The old cookie, put back as someone who had copied it would.
	_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: web.SessionCookie, Value: copied.Value, URL: srv.URL + "/api-keys", Path: "/api-keys",
		HTTPOnly: &copied.HTTPOnly, SameSite: network.CookieSameSiteLax,
	})
	if err != nil {
		t.Fatalf("setting the old cookie: %v", err)
	}
	if back := sessionCookie(t, ctx, srv); back == nil || back.Value != copied.Value {
		t.Fatal("the old cookie did not go back into the browser")
	}
	do(t, ctx, "open /api-keys", chromedp.Navigate(srv.URL+"/api-keys"))
	if loc := run(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/api-keys/login") {
		t.Fatalf("the old cookie led to %s, want the sign-in page", loc)
	}
	if notice := run(t, ctx, "notice", chromedp.Text(css(`[data-testid=notice]`))); !strings.Contains(notice, "Your session has ended") {
		t.Errorf("the sign-in page says %q", notice)
	}
	if run(t, ctx, "keys shown?", chromedp.Evaluate[bool](`!!document.querySelector('[data-testid=keys], [data-testid=signed-in-email]')`)) {
		t.Error("the old cookie shows the keys page")
	}
}
