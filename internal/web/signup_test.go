package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/web"
)

func TestSignup(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	c := srv.Client(t)

	page := c.Get(pagestest.Paths.Signup + "?next=/api-keys/new")
	if page.StatusCode != 200 || !strings.Contains(page.Body, "<title>Create account · pbkeys</title>") {
		t.Fatalf("signup page: %d", page.StatusCode)
	}

	// PocketBase's own validation, readable, email kept.
	for _, tc := range []struct {
		name           string
		form           url.Values
		field, message string
	}{
		{"bad email", url.Values{"email": {"not-an-email"}, "password": {"long enough pw"}, "passwordConfirm": {"long enough pw"}}, "email", "Enter a valid email address"},
		{"taken email", url.Values{"email": {hookstest.AliceEmail}, "password": {"long enough pw"}, "passwordConfirm": {"long enough pw"}}, "email", "already exists"},
		{"short password", url.Values{"email": {"carol@example.com"}, "password": {"short"}, "passwordConfirm": {"short"}}, "password", "at least 8"},
		{"mismatch", url.Values{"email": {"carol@example.com"}, "password": {"long enough pw"}, "passwordConfirm": {"different pw"}}, "passwordConfirm", "do not match"},
	} {
		res := c.Post(pagestest.Paths.Signup, tc.form)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, tc.message) {
			t.Errorf("%s: %d, want 400 with %q\n%s", tc.name, res.StatusCode, tc.message, res.Body)
		}
		if got := pagestest.InputValue(res.Body, "email"); got != tc.form.Get("email") {
			t.Errorf("%s: email not kept: %q", tc.name, got)
		}
	}

	res := c.Post(pagestest.Paths.Signup, url.Values{
		"email": {"carol@example.com"}, "password": {"long enough pw"}, "passwordConfirm": {"long enough pw"}, "next": {"/api-keys/new"},
	})
	if res.StatusCode != http.StatusSeeOther || res.Location() != "/api-keys/new" {
		t.Fatalf("signup: %d to %q\n%s", res.StatusCode, res.Location(), res.Body)
	}
	if page := c.Get(pagestest.Paths.Keys); !strings.Contains(page.Body, "carol@example.com") || !strings.Contains(page.Body, "No API keys yet") {
		t.Error("new account not signed in")
	}
}

func TestSignupNeedsVerification(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t, func(c *core.Collection) { c.AuthRule = types.Pointer("verified = true") })
	c := srv.Client(t)
	res := c.Post(pagestest.Paths.Signup, url.Values{"email": {"dave@example.com"}, "password": {"long enough pw"}, "passwordConfirm": {"long enough pw"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Location(), pagestest.Paths.Login) {
		t.Fatalf("signup: %d to %q", res.StatusCode, res.Location())
	}
	if c.Cookie(web.SessionCookie) != "" {
		t.Error("unverified account signed in")
	}
	if !strings.Contains(c.Get(res.Location()).Body, "Confirm your email address") {
		t.Error("no explanation on the sign-in page")
	}
	if srv.Env.App.TestMailer.TotalSend() == 0 {
		t.Error("no verification email sent")
	}
}

func TestSignupClosed(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t, func(c *core.Collection) { c.CreateRule = nil })
	c := srv.Client(t)
	if res := c.Get(pagestest.Paths.Signup); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /signup: %d", res.StatusCode)
	}
	res := c.Post(pagestest.Paths.Signup, url.Values{"email": {"eve@example.com"}, "password": {"long enough pw"}, "passwordConfirm": {"long enough pw"}})
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("POST /signup: %d", res.StatusCode)
	}
	if _, err := srv.Env.App.FindAuthRecordByEmail("users", "eve@example.com"); err == nil {
		t.Error("account created although sign-up is closed")
	}
}

func TestSignupThrottledPerClient(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	c := srv.Client(t)
	bad := url.Values{"email": {"not-an-email"}, "password": {"long enough pw"}, "passwordConfirm": {"long enough pw"}}
	for i := 0; i < 10; i++ {
		if res := c.Post(pagestest.Paths.Signup, bad); res.StatusCode != http.StatusBadRequest {
			t.Fatalf("attempt %d: %d", i+1, res.StatusCode)
		}
	}
	res := c.Post(pagestest.Paths.Signup, url.Values{"email": {"carol@example.com"}, "password": {"long enough pw"}, "passwordConfirm": {"long enough pw"}})
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(res.Body, "Too many sign-ups") {
		t.Fatalf("11th sign-up: %d, want 429 with Retry-After", res.StatusCode)
	}
	if _, err := srv.Env.App.FindAuthRecordByEmail("users", "carol@example.com"); err == nil {
		t.Fatal("an account was created while throttled")
	}
}
