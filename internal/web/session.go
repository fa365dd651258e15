package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/templates"
)

// SessionCookie holds the browser's session: a PocketBase auth token for a
// users record, exactly what the JS SDK would keep, so PocketBase decides
// its validity. HttpOnly (scripts never see it), SameSite=Lax (not sent on
// cross-site POSTs), Secure when the request came over TLS, expiring with
// the token.
const SessionCookie = "pbkeys_session"

// requestKeyUser is the request store key of the signed-in users record.
const requestKeyUser = "pbkeysPageUser"

// userFrom returns the signed-in user of a page request, or nil.
func userFrom(e *core.RequestEvent) *core.Record {
	user, _ := e.Get(requestKeyUser).(*core.Record)
	return user
}

// sessionUser validates the session cookie on every request: a token made
// invalid by a password change (new tokenKey), a deleted user, an expired
// token or a user who no longer passes the collection's authRule ends the
// session. had reports whether a cookie was sent at all.
func (p *pages) sessionUser(e *core.RequestEvent) (user *core.Record, had bool) {
	cookie, err := e.Request.Cookie(SessionCookie)
	if err != nil || cookie.Value == "" {
		return nil, false
	}
	record, err := e.App.FindAuthRecordByToken(cookie.Value, core.TokenTypeAuth)
	if err != nil || record.Collection().Name != keystore.OwnerCollection {
		return nil, true
	}
	ok, err := e.App.CanAccessRecord(record, &core.RequestInfo{Method: e.Request.Method}, record.Collection().AuthRule)
	if err != nil || !ok {
		return nil, true
	}
	return record, true
}

// requireUser lets signed-in users through; guests go to the sign-in page,
// which brings them back here afterwards.
func (p *pages) requireUser(e *core.RequestEvent) error {
	user, had := p.sessionUser(e)
	if user == nil {
		next := PathKeys
		if e.Request.Method == http.MethodGet {
			next = e.Request.URL.Path
		}
		if had {
			clearSession(e)
			setFlash(e, flash{Text: "Your session has ended. Please sign in again."})
		}
		return redirect(e, loginURL(safeNext(next)))
	}
	e.Set(requestKeyUser, user)
	return e.Next()
}

// startSession signs user in on this browser.
func startSession(e *core.RequestEvent, user *core.Record) error {
	token, err := user.NewAuthToken()
	if err != nil {
		return err
	}
	ttl := user.Collection().AuthToken.DurationTime()
	e.SetCookie(&http.Cookie{
		Name:     SessionCookie,
		Value:    token,
		Path:     "/",
		Expires:  time.Now().Add(ttl),
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   isHTTPS(e),
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func clearSession(e *core.RequestEvent) {
	e.SetCookie(&http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
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
// defence behind the same-origin check. It is an HMAC under the users
// collection's token secret of the user id and the user's tokenKey, so it
// needs no storage, survives restarts, cannot be computed by anyone
// without the server's secret, and changes with the password (the
// tokenKey) just as the session does.
func csrfToken(user *core.Record) string {
	mac := hmac.New(sha256.New, []byte(user.Collection().AuthToken.Secret))
	mac.Write([]byte("pbkeys-csrf\x00" + user.Id + "\x00" + user.TokenKey()))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
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
	return templates.Account{Email: user.Email(), CSRF: csrfToken(user)}
}
