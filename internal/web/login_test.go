package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/web"
)

func TestLoginPage(t *testing.T) {
	t.Parallel()
	scenarios := []tests.ApiScenario{
		{
			Name:           "form with a labelled email and password and a sign-up link",
			Method:         http.MethodGet,
			URL:            "/api-keys/login?next=/api-keys/new",
			ExpectedStatus: 200,
			ExpectedContent: []string{
				"<title>Sign in · pbkeys</title>",
				`<label for="email">Email</label>`,
				`<label for="password">Password</label>`,
				`name="next" value="/api-keys/new"`,
				`href="/api-keys/signup?next=/api-keys/new"`,
			},
			TestAppFactory: pagestest.Factory(),
		},
		{
			Name:               "no sign-up link when the users collection has no public create",
			Method:             http.MethodGet,
			URL:                "/api-keys/login",
			ExpectedStatus:     200,
			ExpectedContent:    []string{"<h1>Sign in</h1>"},
			NotExpectedContent: []string{"/signup", "Create one"},
			TestAppFactory:     pagestest.Factory(func(c *core.Collection) { c.CreateRule = nil }),
		},
		{
			// superusers still sign in here, so the form stays
			Name:            "password sign-in turned off for users",
			Method:          http.MethodGet,
			URL:             "/api-keys/login",
			ExpectedStatus:  200,
			ExpectedContent: []string{`name="password"`},
			TestAppFactory:  pagestest.Factory(func(c *core.Collection) { c.PasswordAuth.Enabled = false }),
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	c := srv.Client(t)

	// Wrong password and unknown email: one generic message, email kept.
	for _, email := range []string{hookstest.AliceEmail, "nobody@example.com"} {
		res := c.Post(pagestest.Paths.Login, url.Values{"email": {email}, "password": {"wrong password"}})
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400", email, res.StatusCode)
		}
		if !strings.Contains(res.Body, "Incorrect email or password.") {
			t.Errorf("%s: no generic error:\n%s", email, res.Body)
		}
		if got := pagestest.InputValue(res.Body, "email"); got != email {
			t.Errorf("typed email not kept: %q", got)
		}
		if c.Cookie(web.SessionCookie) != "" {
			t.Fatal("a failed sign-in set a session cookie")
		}
	}

	res := c.Post(pagestest.Paths.Login, url.Values{"email": {""}, "password": {""}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "Enter your email and password.") {
		t.Errorf("empty form: %d\n%s", res.StatusCode, res.Body)
	}

	// Success: a session cookie, and the browser lands where it was going.
	res = c.Post(pagestest.Paths.Login, url.Values{"email": {hookstest.AliceEmail}, "password": {hookstest.Password}, "next": {"/api-keys/new"}})
	if res.StatusCode != http.StatusSeeOther || res.Location() != "/api-keys/new" {
		t.Fatalf("login: %d to %q", res.StatusCode, res.Location())
	}
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == web.SessionCookie {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure || session.Path != "/api-keys" {
		t.Errorf("cookie attributes: HttpOnly=%v SameSite=%v Secure=%v Path=%q", session.HttpOnly, session.SameSite, session.Secure, session.Path)
	}
	users, _ := srv.Env.App.FindCollectionByNameOrId("users")
	wantExpiry := time.Now().Add(users.AuthToken.DurationTime())
	if d := session.Expires.Sub(wantExpiry); d < -time.Minute || d > time.Minute {
		t.Errorf("cookie expires %v, want about %v (the collection's token lifetime)", session.Expires, wantExpiry)
	}
	if _, err := srv.Env.App.FindAuthRecordByToken(session.Value, core.TokenTypeAuth); err == nil {
		t.Fatal("the cookie is a PocketBase token") // TestSessionCookieIsNoToken says what it is
	}

	res = c.Get(pagestest.Paths.Keys)
	if res.StatusCode != 200 || !strings.Contains(res.Body, hookstest.AliceEmail) {
		t.Fatalf("list after login: %d", res.StatusCode)
	}
	// Signed in, /login goes straight on.
	if res := c.Get(pagestest.Paths.Login + "?next=/api-keys"); res.StatusCode != http.StatusSeeOther || res.Location() != pagestest.Paths.Keys {
		t.Errorf("signed-in /login: %d %q", res.StatusCode, res.Location())
	}
}

func TestLoginHonoursCollectionSettings(t *testing.T) {
	t.Parallel()

	t.Run("authRule", func(t *testing.T) {
		t.Parallel()
		srv := pagestest.Start(t, func(c *core.Collection) { c.AuthRule = types.Pointer("verified = true") })
		alice, _ := srv.Env.App.FindRecordById("users", hookstest.AliceID)
		alice.SetVerified(false)
		if err := srv.Env.App.Save(alice); err != nil {
			t.Fatal(err)
		}
		c := srv.Client(t)
		res := c.Post(pagestest.Paths.Login, url.Values{"email": {hookstest.AliceEmail}, "password": {hookstest.Password}})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "confirm your email address") {
			t.Fatalf("unverified: %d\n%s", res.StatusCode, res.Body)
		}
		if c.Cookie(web.SessionCookie) != "" {
			t.Fatal("session cookie for a user the authRule refuses")
		}
		c.Login(hookstest.BobEmail, hookstest.Password) // verified: fine
	})

	t.Run("password auth disabled", func(t *testing.T) {
		t.Parallel()
		srv := pagestest.Start(t, func(c *core.Collection) { c.PasswordAuth.Enabled = false })
		c := srv.Client(t)
		res := c.Post(pagestest.Paths.Login, url.Values{"email": {hookstest.AliceEmail}, "password": {hookstest.Password}})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "Incorrect email or password.") || c.Cookie(web.SessionCookie) != "" {
			t.Fatalf("status %d, cookie %q", res.StatusCode, c.Cookie(web.SessionCookie))
		}
	})

	t.Run("MFA", func(t *testing.T) {
		t.Parallel()
		srv := pagestest.Start(t, func(c *core.Collection) {
			c.MFA.Enabled = true
			c.OTP.Enabled = true
		})
		c := srv.Client(t)
		res := c.Post(pagestest.Paths.Login, url.Values{"email": {hookstest.AliceEmail}, "password": {hookstest.Password}})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "multi-factor") || c.Cookie(web.SessionCookie) != "" {
			t.Fatalf("status %d\n%s", res.StatusCode, res.Body)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	c := srv.Client(t)
	max := web.DefaultSignInMaxFailures
	for i := 0; i < max; i++ {
		res := c.Post(pagestest.Paths.Login, url.Values{"email": {hookstest.AliceEmail}, "password": {"guess"}})
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("attempt %d: status %d", i+1, res.StatusCode)
		}
	}
	// Even the right password is refused now, without checking it.
	res := c.Post(pagestest.Paths.Login, url.Values{"email": {hookstest.AliceEmail}, "password": {hookstest.Password}})
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", res.StatusCode)
	}
	if res.Header.Get("Retry-After") == "" || !strings.Contains(res.Body, "Try again in") {
		t.Errorf("no retry hint: Retry-After=%q\n%s", res.Header.Get("Retry-After"), res.Body)
	}
	if pagestest.InputValue(res.Body, "email") != hookstest.AliceEmail {
		t.Error("typed email not kept")
	}
	if c.Cookie(web.SessionCookie) != "" {
		t.Fatal("signed in while throttled")
	}
	// Another account from the same client is not locked out by Alice's.
	c.Login(hookstest.BobEmail, hookstest.Password)
}

// TestLoginThrottleConcurrent: parallel guesses cannot all pass the check
// before the first failure is counted.
func TestLoginThrottleConcurrent(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	max := web.DefaultSignInMaxFailures
	const attempts = 40
	statuses := make(chan int, attempts)
	var wg sync.WaitGroup
	for i := 0; i < attempts; i++ {
		c := srv.Client(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := c.Post(pagestest.Paths.Login, url.Values{"email": {hookstest.AliceEmail}, "password": {"guess"}})
			statuses <- res.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	checked := 0
	for code := range statuses {
		switch code {
		case http.StatusBadRequest:
			checked++ // the password was checked and wrong
		case http.StatusTooManyRequests:
		default:
			t.Errorf("status %d", code)
		}
	}
	if checked != max {
		t.Fatalf("%d of %d parallel guesses had their password checked, want exactly %d", checked, attempts, max)
	}
}

// TestLoginNext: after signing in, "next" only ever leads within the site
// (the full table of hostile values is in next_test.go).
func TestLoginNext(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	for next, want := range map[string]string{
		"/api-keys/new":         "/api-keys/new",
		"//evil.example":        "/api-keys",
		`/\evil.example`:        "/api-keys",
		"https://evil.example/": "/api-keys",
	} {
		c := srv.Client(t) // a fresh browser for each
		res := c.Post(pagestest.Paths.Login, url.Values{"email": {hookstest.AliceEmail}, "password": {hookstest.Password}, "next": {next}})
		if res.StatusCode != http.StatusSeeOther || res.Location() != want {
			t.Errorf("next=%q: %d to %q, want %q", next, res.StatusCode, res.Location(), want)
		}
	}
	// The sign-in form does not even carry a hostile next.
	c := srv.Client(t)
	res := c.Get(pagestest.Paths.Login + "?next=" + url.QueryEscape("//evil.example"))
	if got := pagestest.InputValue(res.Body, "next"); got != "/api-keys" {
		t.Errorf("login form kept next=%q", got)
	}
}
