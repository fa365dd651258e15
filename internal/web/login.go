package web

import (
	"crypto/hmac"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/templates"
)

// Messages of the sign-in page. A failed sign-in never says which of the
// email or the password was wrong.
const (
	msgBadCredentials = "Incorrect email or password."
	msgMissingFields  = "Enter your email and password."
	msgNotAllowed     = "This account cannot sign in yet. If you have just created it, confirm your email address first."
	msgMFA            = "This account needs multi-factor authentication, which these pages do not support. Ask an administrator for help."
	msgSignedOut      = "You have been signed out."
)

func (p *pages) users() (*core.Collection, error) {
	return p.app.FindCachedCollectionByNameOrId(keystore.OwnerCollection)
}

// signupOpen reports whether anyone may create an account: the users
// collection allows public creates (createRule "") and password sign-in.
func signupOpen(users *core.Collection) bool {
	return users.PasswordAuth.Enabled && users.CreateRule != nil && *users.CreateRule == ""
}

func (p *pages) loginView(users *core.Collection, next string) templates.LoginView {
	v := templates.LoginView{Next: next, Disabled: !users.PasswordAuth.Enabled}
	if signupOpen(users) {
		v.SignupURL = PathSignup
		if next != PathKeys {
			v.SignupURL += strings.TrimPrefix(loginURL(next), PathLogin)
		}
	}
	return v
}

func (p *pages) loginPage(e *core.RequestEvent) error {
	next := safeNext(e.Request.URL.Query().Get("next"))
	if user, _ := p.sessionUser(e); user != nil {
		return redirect(e, next)
	}
	users, err := p.users()
	if err != nil {
		return e.InternalServerError("", err)
	}
	v := p.loginView(users, next)
	if f := takeFlash(e); f != nil {
		v.Notice = f.Text
	}
	return render(e, http.StatusOK, templates.LoginPage(v))
}

func (p *pages) login(e *core.RequestEvent) error {
	if err := readForm(e); err != nil {
		return err
	}
	users, err := p.users()
	if err != nil {
		return e.InternalServerError("", err)
	}
	email := strings.TrimSpace(e.Request.PostForm.Get("email"))
	password := e.Request.PostForm.Get("password")
	v := p.loginView(users, safeNext(e.Request.PostForm.Get("next")))
	v.Email = email

	if !users.PasswordAuth.Enabled {
		return render(e, http.StatusForbidden, templates.LoginPage(v))
	}
	if email == "" || password == "" || len(email) > 255 || len(password) > 255 {
		v.Error = msgMissingFields
		if email != "" && password != "" {
			v.Error = msgBadCredentials
		}
		return render(e, http.StatusBadRequest, templates.LoginPage(v))
	}

	// Throttle before looking at the password, per address and per client.
	now := time.Now()
	emailLimit := limit{key: "email:" + strings.ToLower(email), max: p.cfg.LoginMaxFailures}
	ipLimit := limit{key: "ip:" + e.RealIP(), max: p.cfg.LoginMaxFailuresPerIP}
	if wait := p.throttle.reserve(now, emailLimit, ipLimit); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		e.Response.Header().Set("Retry-After", strconv.Itoa(secs))
		v.RetryAfter = secs
		v.Error = fmt.Sprintf("Too many failed sign-in attempts. Try again in %s.", humanSeconds(secs))
		return render(e, http.StatusTooManyRequests, templates.LoginPage(v))
	}

	user, err := e.App.FindAuthRecordByEmail(users, email)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return e.InternalServerError("", err)
	}
	if user == nil {
		dummyPasswordCheck(e.App, users) // answer as slowly as for a real account
	}
	if user == nil || !user.ValidatePassword(password) {
		// the attempt was counted as a failure when it was reserved
		v.Error = msgBadCredentials
		return render(e, http.StatusBadRequest, templates.LoginPage(v))
	}
	p.throttle.release(now, ipLimit)
	p.throttle.reset(emailLimit.key)

	// The collection's own rules, as PocketBase's auth-with-password
	// applies them (apis.RecordAuthResponse): the authRule (e.g.
	// "verified = true"), and MFA, which these pages cannot do.
	e.Set(core.RequestEventKeyInfoContext, core.RequestInfoContextPasswordAuth)
	info, err := e.RequestInfo()
	if err != nil {
		return e.InternalServerError("", err)
	}
	if ok, _ := e.App.CanAccessRecord(user, info, users.AuthRule); !ok {
		v.Error = msgNotAllowed
		return render(e, http.StatusForbidden, templates.LoginPage(v))
	}
	if users.MFA.Enabled {
		v.Error = msgMFA
		return render(e, http.StatusForbidden, templates.LoginPage(v))
	}

	if err := startSession(e, user); err != nil {
		return e.InternalServerError("", err)
	}
	return redirect(e, v.Next)
}

// dummyPasswordCheck costs what a real password check costs, so response
// time does not tell whether an email address has an account.
func dummyPasswordCheck(app core.App, users *core.Collection) {
	record := &core.Record{}
	if err := app.RecordQuery(users).Limit(1).One(record); err != nil {
		return
	}
	_ = record.ValidatePassword("")
}

func (p *pages) logout(e *core.RequestEvent) error {
	if user, _ := p.sessionUser(e); user != nil {
		// A signed-in browser must prove the form is ours; without a
		// valid session there is nothing to protect, just clean up.
		if err := readForm(e); err != nil {
			return err
		}
		if !hmac.Equal([]byte(e.Request.PostForm.Get("csrf")), []byte(csrfToken(user))) {
			e.Set(requestKeyUser, user)
			return p.renderError(e, http.StatusForbidden,
				"This form has expired or did not come from this site. Go back, reload the page and try again.")
		}
	}
	clearSession(e)
	setFlash(e, flash{Text: msgSignedOut})
	return redirect(e, PathLogin)
}

// humanSeconds says "45 s" or "4 min 10 s".
func humanSeconds(secs int) string {
	if secs < 120 {
		return strconv.Itoa(secs) + " s"
	}
	m, s := secs/60, secs%60
	if s == 0 {
		return strconv.Itoa(m) + " min"
	}
	return fmt.Sprintf("%d min %d s", m, s)
}
