// Package web serves the pages where users sign in and manage their API
// keys: /login, /signup, /logout and /api-keys. It is a thin adapter: every
// key operation goes through keystore.Store, the same code the REST API
// uses, and every page is a templ component from package templates.
package web

import (
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/static"
)

// Config carries the pages' knobs. Start from DefaultConfig.
type Config struct {
	// LoginMaxFailures is how many failed sign-ins one email address may
	// have within LoginWindow; further attempts are refused with 429 until
	// the oldest failure leaves the window.
	LoginMaxFailures int

	// LoginMaxFailuresPerIP is the same limit per client IP, higher so
	// that people behind one NAT do not lock each other out, but low
	// enough to slow down guessing across many accounts.
	LoginMaxFailuresPerIP int

	// LoginWindow is the sliding window of the two limits above.
	LoginWindow time.Duration

	// FormTTL is how long a "New API key" or "Roll" form stays valid: its one-time
	// nonce is forgotten after that and the form has to be sent again.
	FormTTL time.Duration
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		LoginMaxFailures:      5,
		LoginMaxFailuresPerIP: 30,
		LoginWindow:           5 * time.Minute,
		FormTTL:               2 * time.Hour,
	}
}

// Route paths.
const (
	PathLogin     = "/login"
	PathLogout    = "/logout"
	PathSignup    = "/signup"
	PathKeys      = "/api-keys"
	PathNewKey    = "/api-keys/new"
	PathRevokeAll = "/api-keys/revoke-all"
	PathStatic    = "/static/"
)

// RevokePath is the confirmation page (GET) and the action (POST) that
// revoke the key with id.
func RevokePath(id string) string {
	return PathKeys + "/" + id + "/revoke"
}

// RollPath is the Roll page (GET) and the action (POST) that replace the
// key with id.
func RollPath(id string) string {
	return PathKeys + "/" + id + "/roll"
}

// DisablePath and EnablePath pause and resume the key with id (POST).
func DisablePath(id string) string {
	return PathKeys + "/" + id + "/disable"
}

// EnablePath: see DisablePath.
func EnablePath(id string) string {
	return PathKeys + "/" + id + "/enable"
}

// pages holds what the handlers share. It lives as long as the app.
type pages struct {
	app      core.App
	store    *keystore.Store
	cfg      Config
	throttle *throttle
	nonces   *formNonces
	cop      *http.CrossOriginProtection
}

// Register binds the pages to app. store must be the one hooks.Register
// returned, so pages and REST share one key implementation.
func Register(app core.App, store *keystore.Store, cfg Config) error {
	p := &pages{
		app:      app,
		store:    store,
		cfg:      cfg,
		throttle: newThrottle(cfg.LoginWindow),
		nonces:   newFormNonces(cfg.FormTTL),
		cop:      http.NewCrossOriginProtection(),
	}

	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "pbkeysPages",
		Func: func(se *core.ServeEvent) error {
			p.routes(se)
			return se.Next()
		},
	})
	return nil
}

// MustRegister is Register that panics on error, for main.
func MustRegister(app core.App, store *keystore.Store, cfg Config) {
	if err := Register(app, store, cfg); err != nil {
		panic(err)
	}
}

func (p *pages) routes(se *core.ServeEvent) {
	se.Router.GET("/static/{path...}", apis.Static(static.FS, false)).BindFunc(cacheAssets)

	// "/" has nothing else on it in pbkeys: send people to their keys.
	se.Router.GET("/{$}", func(e *core.RequestEvent) error {
		return e.Redirect(http.StatusSeeOther, PathKeys)
	})

	// Every page: HTML errors, and no state change from another origin.
	site := se.Router.Group("")
	site.BindFunc(p.pageErrors, p.sameOrigin)

	site.GET(PathLogin, p.loginPage)
	site.POST(PathLogin, p.login)
	site.GET(PathSignup, p.signupPage)
	site.POST(PathSignup, p.signup)
	site.POST(PathLogout, p.logout)

	keys := site.Group(PathKeys)
	keys.BindFunc(p.requireUser, p.requireCSRFToken)
	keys.GET("", p.listKeys)
	keys.POST("", p.createKey)
	keys.GET("/new", p.newKeyPage)
	keys.GET("/revoke-all", p.revokeAllPage)
	keys.POST("/revoke-all", p.revokeAll)
	keys.GET("/{id}/revoke", p.revokePage)
	keys.POST("/{id}/revoke", p.revoke)
	keys.GET("/{id}/roll", p.rollPage)
	keys.POST("/{id}/roll", p.roll)
	keys.POST("/{id}/disable", p.setDisabled(true))
	keys.POST("/{id}/enable", p.setDisabled(false))
}

// cacheAssets lets browsers keep versioned asset URLs (see static.Version)
// for a year and revalidate the rest.
func cacheAssets(e *core.RequestEvent) error {
	if e.Request.URL.Query().Get("v") == static.Version {
		e.Response.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		e.Response.Header().Set("Cache-Control", "no-cache")
	}
	return e.Next()
}
