// Package web serves the pages where people sign in and manage their API
// keys — and superusers every owner's — all under one prefix (default
// /api-keys: the list, new, revoke, roll, permissions, sign-in, sign-up,
// sign-out and the assets), so the rest of the URL space stays the app's. It is a thin
// adapter: every key operation goes through keystore.Store, the same code
// the REST API uses, and every page is a templ component from package
// templates.
package web

import (
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/static"
	"github.com/pbkeys/pbkeys/templates"
)

// Config configures the pages. The zero value is useful: every zero field
// means its default.
type Config struct {
	// PagesPath is the URL path under which every page and asset lives,
	// and the path of the pages' cookies. Zero: DefaultPagesPath.
	PagesPath string

	// RedirectRoot makes "/" redirect to the pages. Off: "/" is the app's.
	RedirectRoot bool

	// Tuning tunes the pages' limits.
	Tuning Tuning
}

// Tuning tunes the pages. The zero value is useful: every zero field means
// its default (below, in defaults). pbkeys' Config carries it as
// Tuning.Pages.
type Tuning struct {
	// SignInMaxFailures is how many failed sign-ins one email address may
	// have within SignInWindow; further attempts are refused with 429 until
	// the oldest failure leaves the window.
	SignInMaxFailures int

	// SignInMaxFailuresPerIP is the same limit per client IP, higher so
	// that people behind one NAT do not lock each other out, but low enough
	// to slow down guessing across many accounts.
	SignInMaxFailuresPerIP int

	// SignInWindow is the sliding window of the two limits above.
	SignInWindow time.Duration

	// FormTTL is how long a "New API key" or "Roll" form stays valid: its
	// one-time nonce is forgotten after that and the form has to be sent
	// again.
	FormTTL time.Duration
}

// defaults are the production values of Tuning.
var defaults = Tuning{
	SignInMaxFailures:      5,
	SignInMaxFailuresPerIP: 30,
	SignInWindow:           5 * time.Minute,
	FormTTL:                2 * time.Hour,
}

// withDefaults fills the zero fields.
func (cfg Config) withDefaults() Config {
	if cfg.PagesPath == "" {
		cfg.PagesPath = DefaultPagesPath
	}
	t := &cfg.Tuning
	if t.SignInMaxFailures == 0 {
		t.SignInMaxFailures = defaults.SignInMaxFailures
	}
	if t.SignInMaxFailuresPerIP == 0 {
		t.SignInMaxFailuresPerIP = defaults.SignInMaxFailuresPerIP
	}
	if t.SignInWindow == 0 {
		t.SignInWindow = defaults.SignInWindow
	}
	if t.FormTTL == 0 {
		t.FormTTL = defaults.FormTTL
	}
	return cfg
}

// pruneSessionsJob is the id of the daily cron job that deletes expired
// page sessions (PocketBase's dashboard lists it under Crons).
const pruneSessionsJob = "pbkeysPageSessions"

// pages holds what the handlers share. It lives as long as the app.
type pages struct {
	app     core.App
	store   *keystore.Store
	cfg     Config
	paths   templates.Paths
	signIns *signInLimits
	nonces  *formNonces
	cop     *http.CrossOriginProtection
}

// Register binds the pages to app under cfg.PagesPath. store is the key store
// the REST API uses, so pages and REST share one key implementation.
func Register(app core.App, store *keystore.Store, cfg Config) error {
	cfg = cfg.withDefaults()
	p := &pages{
		app:     app,
		store:   store,
		cfg:     cfg,
		paths:   newPaths(cfg.PagesPath),
		signIns: newSignInLimits(cfg.Tuning.SignInWindow),
		nonces:  newFormNonces(cfg.Tuning.FormTTL),
		cop:     http.NewCrossOriginProtection(),
	}

	// Expired page sessions are refused anyway; once a day they go.
	app.Cron().MustAdd(pruneSessionsJob, "23 3 * * *", func() {
		if _, err := pruneSessions(app, time.Now()); err != nil {
			app.Logger().Warn("pages: failed to delete expired sessions", "error", err)
		}
	})

	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "pbkeysPages",
		Func: func(se *core.ServeEvent) error {
			p.routes(se)
			return se.Next()
		},
	})
	return nil
}

func (p *pages) routes(se *core.ServeEvent) {
	paths := p.paths
	se.Router.GET(paths.Static+"{path...}", apis.Static(static.FS, false)).BindFunc(cacheAssets)

	// "/api-keys/" as people type it: the list lives at the prefix itself.
	se.Router.GET(paths.Keys+"/{$}", func(e *core.RequestEvent) error {
		return e.Redirect(http.StatusMovedPermanently, paths.Keys)
	})

	if p.cfg.RedirectRoot {
		se.Router.GET("/{$}", func(e *core.RequestEvent) error {
			return e.Redirect(http.StatusSeeOther, paths.Keys)
		})
	}

	// Every page: HTML errors, and no state change from another origin.
	site := se.Router.Group("")
	site.BindFunc(p.pageErrors, p.sameOrigin)
	site.GET(paths.Login, p.loginPage)
	site.POST(paths.Login, p.login)
	site.GET(paths.Signup, p.signupPage)
	site.POST(paths.Signup, p.signup)
	site.POST(paths.Logout, p.logout)

	// Signed in, with the account's CSRF token on every form; each form
	// is refused when it has a field it should not (onlyFields).
	keys := site.Group("")
	keys.BindFunc(p.requireUser, p.requireCSRFToken)
	keys.GET(paths.Keys, p.listKeys)
	keys.POST(paths.Keys, p.createKey).BindFunc(p.onlyFields(keyFormFields))
	keys.GET(paths.NewKey, p.newKeyPage)
	keys.GET(paths.RevokeAll, p.revokeAllPage)
	keys.POST(paths.RevokeAll, p.revokeAll).BindFunc(p.onlyFields(revokeAllFields))
	keys.GET(paths.Revoke("{id}"), p.revokePage)
	keys.POST(paths.Revoke("{id}"), p.revoke).BindFunc(p.onlyFields(revokeFields))
	keys.GET(paths.Roll("{id}"), p.rollPage)
	keys.POST(paths.Roll("{id}"), p.roll).BindFunc(p.onlyFields(rollFields))
	keys.GET(paths.Access("{id}"), p.accessPage)
	keys.POST(paths.Access("{id}"), p.changeAccess).BindFunc(p.onlyFields(accessFields))
	keys.POST(paths.Disable("{id}"), p.setDisabled(true)).BindFunc(p.onlyFields(toggleFields))
	keys.POST(paths.Enable("{id}"), p.setDisabled(false)).BindFunc(p.onlyFields(toggleFields))
	keys.GET(activityPath(paths, "{id}"), p.activity)
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
