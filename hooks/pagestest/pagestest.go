// Package pagestest runs pbkeys — API and pages — on a real loopback HTTP
// server for page and browser tests: the hookstest fixture (pbkeys registered
// as in main, pages included), served in-process by hookstest's Env.Serve.
package pagestest

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/web"
)

// Paths are the pages' URLs in the fixture: under the default prefix.
var Paths = web.DefaultPaths()

// Factory is a tests.ApiScenario TestAppFactory: the fixture, whose
// pbkeys registration includes the pages with the production defaults
// (the throttle tests rely on them).
func Factory(configure ...func(*core.Collection)) func(testing.TB) *tests.TestApp {
	return func(t testing.TB) *tests.TestApp {
		env := hookstest.New(t)
		configureUsers(t, env.App, configure...)
		return env.App
	}
}

// Server is a running pbkeys.
type Server struct {
	*httptest.Server
	Env *hookstest.Env
}

// Start serves a fresh fixture app on 127.0.0.1 until t ends. configure
// may change the users collection (rules, MFA...) before serving.
func Start(t testing.TB, configure ...func(*core.Collection)) *Server {
	t.Helper()
	return StartWith(t, nil, configure...)
}

// StartWith is Start with pbkeys configured by cfg too (e.g.
// hookstest.ServiceAccounts); nil leaves the fixture's configuration.
func StartWith(t testing.TB, cfg func(*hooks.Config), configure ...func(*core.Collection)) *Server {
	t.Helper()
	var env *hookstest.Env
	if cfg != nil {
		env = hookstest.New(t, cfg)
	} else {
		env = hookstest.New(t)
	}
	t.Cleanup(env.App.Cleanup)
	configureUsers(t, env.App, configure...)
	srv := env.Serve(t) // the full router, OnServe triggered, on 127.0.0.1
	return &Server{Server: srv, Env: env}
}

// AnotherProcess serves a second pbkeys on s's data directory, as another
// process serving the same pb_data would (pbtest's Env.AnotherProcess),
// until t ends.
func (s *Server) AnotherProcess(t testing.TB) *Server {
	t.Helper()
	env := s.Env.AnotherProcess(t)
	return &Server{Server: env.Serve(t), Env: env}
}

func configureUsers(t testing.TB, app core.App, configure ...func(*core.Collection)) {
	if len(configure) == 0 {
		return
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range configure {
		f(users)
	}
	if err := app.Save(users); err != nil {
		t.Fatal(err)
	}
}

// Client is a browser-like HTTP client: it keeps cookies and does not
// follow redirects, so tests see each 303.
type Client struct {
	t    testing.TB
	base string
	HTTP *http.Client
}

// Client returns a new client without cookies.
func (s *Server) Client(t testing.TB) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{t: t, base: s.URL, HTTP: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Response is a finished response with its body read.
type Response struct {
	*http.Response
	Body string
}

// Location is the redirect target (path and query).
func (r *Response) Location() string { return r.Header.Get("Location") }

// Do sends req with the same-origin headers a browser sends for a form on
// this site, unless req already has Sec-Fetch-Site or Origin.
func (c *Client) Do(req *http.Request) *Response {
	c.t.Helper()
	if req.Method == http.MethodPost && req.Header.Get("Sec-Fetch-Site") == "" && req.Header.Get("Origin") == "" {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", c.base)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &Response{Response: res, Body: string(b)}
}

// Get fetches path.
func (c *Client) Get(path string) *Response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.Do(req)
}

// Post posts form to path as a browser on this site would; extra headers
// (e.g. a cross-site Sec-Fetch-Site) replace the defaults.
func (c *Client) Post(path string, form url.Values, headers ...string) *Response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.Do(req)
}

// Login signs in and fails the test unless it worked.
func (c *Client) Login(email, password string) {
	c.t.Helper()
	res := c.Post(Paths.Login, url.Values{"email": {email}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login as %s: status %d\n%s", email, res.StatusCode, res.Body)
	}
}

// Cookie returns the client's cookie name for the pages, or "".
func (c *Client) Cookie(name string) string {
	u, _ := url.Parse(c.base + Paths.Keys) // the pages' cookies are sent to their prefix only
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// SetCookie gives the client the cookie name=value for the pages, as if
// the server had set it (e.g. a session cookie copied from another client).
func (c *Client) SetCookie(name, value string) {
	u, _ := url.Parse(c.base + Paths.Keys)
	c.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: Paths.Keys}})
}

// APIGet calls the REST API with "Authorization: Bearer key" and returns
// the status.
func (s *Server) APIGet(t testing.TB, path, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// AliceNotePath is a REST path only Alice (or her keys) may read.
const AliceNotePath = "/api/collections/" + hookstest.NotesCollection + "/records/" + hookstest.AliceNoteID

// InputValue returns the value attribute of the first input named name in
// page, unescaped, or "".
func InputValue(page, name string) string {
	re := regexp.MustCompile(`<input[^>]*\bname="` + regexp.QuoteMeta(name) + `"[^>]*>`)
	tag := re.FindString(page)
	m := regexp.MustCompile(`\bvalue="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// RevealedKey returns the plaintext key shown in page, or "".
func RevealedKey(page string) string {
	m := regexp.MustCompile(`data-testid="revealed-key"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}
