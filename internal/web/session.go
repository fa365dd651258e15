package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/templates"
)

// SessionCookie holds the browser's session: a random secret that names
// one row of the page sessions table (pagesessions.go), where the account
// and the session's expiry are kept — not a PocketBase token, so a leaked
// cookie is no Bearer token for the REST API, and signing out ends it on
// the server. HttpOnly (scripts never see it), SameSite=Lax (not sent on
// cross-site POSTs), Secure when the request came over TLS, expiring with
// the session, and sent only to the pages' prefix.
const SessionCookie = "pbkeys_session"

// requestKeyUser is the request store key of the signed-in record.
const requestKeyUser = "pbkeysPageUser"

// userFrom returns the signed-in user of a page request, or nil.
func userFrom(e *core.RequestEvent) *core.Record {
	user, _ := e.Get(requestKeyUser).(*core.Record)
	return user
}

// sessionSecret is the secret in the request's session cookie, or "".
func sessionSecret(e *core.RequestEvent) string {
	cookie, err := e.Request.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return cookie.Value
}

// sessionUser validates the session on every request, reading the
// session and its account afresh: a session signed out (in any process),
// expired, of a deleted account, of an account with a new password
// (tokenKey) or token secret, of a collection that may no longer use the
// pages, or of an account that no longer passes its collection's authRule
// is no session. had reports whether a cookie was sent at all; err is a
// failure to read the database, which neither accepts nor ends the
// session.
func (p *pages) sessionUser(e *core.RequestEvent) (user *core.Record, had bool, err error) {
	secret := sessionSecret(e)
	if secret == "" {
		return nil, false, nil
	}
	record, err := sessionAccount(e.App, secret, time.Now())
	if errors.Is(err, errSessionEnded) {
		return nil, true, nil
	}
	if err != nil {
		return nil, true, err
	}
	if !(record.IsSuperuser() || p.store.IsOwnerCollection(record.Collection())) {
		return nil, true, nil
	}
	ok, err := keystore.CanAuthenticate(e.App, record, &core.RequestInfo{Method: e.Request.Method})
	if err != nil || !ok {
		return nil, true, nil
	}
	return record, true, nil
}

// requireUser lets signed-in users through; guests go to the sign-in page,
// which brings them back here afterwards.
func (p *pages) requireUser(e *core.RequestEvent) error {
	user, had, err := p.sessionUser(e)
	if err != nil {
		return e.InternalServerError("", err)
	}
	if user == nil {
		next := p.paths.Keys
		if e.Request.Method == http.MethodGet {
			next = e.Request.URL.Path
		}
		if had {
			if err := p.endSession(e); err != nil {
				// refused all the same; the row goes when it expires
				e.App.Logger().Warn("pages: could not delete an ended session", "error", err)
				p.clearSessionCookie(e)
			}
			p.setFlash(e, flash{Text: "Your session has ended. Please sign in again."})
		}
		return redirect(e, loginURL(p.paths, safeNext(p.paths, next)))
	}
	e.Set(requestKeyUser, user)
	return e.Next()
}

// startSession signs user in on this browser for the lifetime of the
// collection's auth tokens, as PocketBase's own sign-in would. A session
// this browser had before ends: one browser, one session.
func (p *pages) startSession(e *core.RequestEvent, user *core.Record) error {
	if old := sessionSecret(e); old != "" {
		if err := deleteSession(e.App, old); err != nil {
			return err
		}
	}
	now := time.Now()
	ttl := user.Collection().AuthToken.DurationTime()
	secret, err := createSession(e.App, user, now, now.Add(ttl))
	if err != nil {
		return err
	}
	e.SetCookie(&http.Cookie{
		Name:     SessionCookie,
		Value:    secret,
		Path:     p.paths.Keys,
		Expires:  now.Add(ttl),
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   isHTTPS(e),
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// endSession ends this browser's session: it deletes the session on the
// server, so the cookie's secret is refused everywhere from now on, and
// then clears the cookie. When the delete fails the cookie stays, so the
// person can try again.
func (p *pages) endSession(e *core.RequestEvent) error {
	if secret := sessionSecret(e); secret != "" {
		if err := deleteSession(e.App, secret); err != nil {
			return err
		}
	}
	p.clearSessionCookie(e)
	return nil
}

func (p *pages) clearSessionCookie(e *core.RequestEvent) {
	e.SetCookie(&http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     p.paths.Keys,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   isHTTPS(e),
		SameSite: http.SameSiteLaxMode,
	})
}

// isHTTPS reports whether the browser used TLS: directly, or through a
// proxy the operator trusts (PocketBase's trusted-proxy setting).
func isHTTPS(e *core.RequestEvent) bool {
	if e.IsTLS() {
		return true
	}
	return len(e.App.Settings().TrustedProxy.Headers) > 0 &&
		strings.EqualFold(e.Request.Header.Get("X-Forwarded-Proto"), "https")
}

// csrfToken is the anti-CSRF token of user's forms, a second line of
// defence behind the same-origin check. It is an HMAC under the user's
// collection's token secret (each collection has its own) of the user id
// and the user's tokenKey, so it needs no storage, survives restarts,
// cannot be computed by anyone without the server's secret, and changes
// with the password (the tokenKey) just as the session does.
func csrfToken(user *core.Record) string {
	mac := hmac.New(sha256.New, []byte(user.Collection().AuthToken.Secret))
	mac.Write([]byte("pbkeys-csrf\x00" + user.Id + "\x00" + user.TokenKey()))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// principal identifies the signed-in account across collections (two
// collections may hold records with the same id): what its form nonces
// and CSRF token are bound to.
func principal(user *core.Record) string {
	return user.Collection().Id + "/" + user.Id
}

// requireCSRFToken refuses a state-changing request of a signed-in user
// whose form does not carry the user's csrf token.
func (p *pages) requireCSRFToken(e *core.RequestEvent) error {
	if e.Request.Method == http.MethodGet || e.Request.Method == http.MethodHead {
		return e.Next()
	}
	user := userFrom(e)
	if user == nil {
		return e.ForbiddenError("", nil)
	}
	if err := readForm(e); err != nil {
		return err
	}
	if !hmac.Equal([]byte(e.Request.PostForm.Get("csrf")), []byte(csrfToken(user))) {
		return p.renderError(e, http.StatusForbidden,
			"This form has expired or did not come from this site. Go back, reload the page and try again.")
	}
	return e.Next()
}

// sameOrigin refuses state-changing requests that a browser marks as
// coming from another origin (Sec-Fetch-Site, or Origin vs Host), with
// Go's http.CrossOriginProtection. It covers the sign-in form too, where
// there is no session yet to bind a token to.
func (p *pages) sameOrigin(e *core.RequestEvent) error {
	if err := p.cop.Check(e.Request); err != nil {
		return p.renderError(e, http.StatusForbidden,
			"This form was sent from another site, so it was refused. Open this site directly and try again.")
	}
	return e.Next()
}

func accountView(user *core.Record) templates.Account {
	return templates.Account{Email: user.Email(), CSRF: csrfToken(user), Admin: user.IsSuperuser()}
}
