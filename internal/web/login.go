package web

import (
	"crypto/hmac"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/retryafter"
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

// signinCollections are the owner collections whose records sign in here
// with a password, in the configured order.
func (p *pages) signinCollections() []*core.Collection {
	var out []*core.Collection
	for _, c := range p.store.OwnerCollections() {
		if c.PasswordAuth.Enabled {
			out = append(out, c)
		}
	}
	return out
}

// signupCollection is the collection the sign-up page creates accounts in:
// the first owner collection, when it allows public sign-up (createRule
// "") and password sign-in; nil otherwise.
func (p *pages) signupCollection() *core.Collection {
	owners := p.store.OwnerCollections()
	if len(owners) == 0 {
		return nil
	}
	c := owners[0]
	if c.PasswordAuth.Enabled && c.CreateRule != nil && *c.CreateRule == "" {
		return c
	}
	return nil
}

// superusers is PocketBase's _superusers collection when its records may
// sign in here (with a password), nil otherwise. A superuser signed in to
// the pages manages the keys of every owner; superusers never own keys.
func (p *pages) superusers() *core.Collection {
	c, err := p.app.FindCachedCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil || !c.PasswordAuth.Enabled {
		return nil
	}
	return c
}

func (p *pages) loginView(next string) templates.LoginView {
	v := templates.LoginView{Next: next, Disabled: len(p.signinCollections()) == 0 && p.superusers() == nil}
	if p.signupCollection() != nil {
		v.SignupURL = p.paths.Signup
		if next != p.paths.Keys {
			v.SignupURL += strings.TrimPrefix(loginURL(p.paths, next), p.paths.Login)
		}
	}
	return v
}

func (p *pages) loginPage(e *core.RequestEvent) error {
	next := safeNext(p.paths, e.Request.URL.Query().Get("next"))
	if user, _, _ := p.sessionUser(e); user != nil {
		return redirect(e, next)
	}
	v := p.loginView(next)
	if f := p.takeFlash(e); f != nil {
		v.Notice = f.Text
	}
	return p.render(e, http.StatusOK, templates.LoginPage(v))
}

func (p *pages) login(e *core.RequestEvent) error {
	if err := readForm(e); err != nil {
		return err
	}
	email := strings.TrimSpace(e.Request.PostForm.Get("email"))
	password := e.Request.PostForm.Get("password")
	v := p.loginView(safeNext(p.paths, e.Request.PostForm.Get("next")))
	v.Email = email

	if v.Disabled {
		return p.render(e, http.StatusForbidden, templates.LoginPage(v))
	}
	if email == "" || password == "" || len(email) > 255 || len(password) > 255 {
		v.Error = msgMissingFields
		if email != "" && password != "" {
			v.Error = msgBadCredentials
		}
		return p.render(e, http.StatusBadRequest, templates.LoginPage(v))
	}

	// Throttle before looking at the password, per address and per client.
	now := time.Now()
	emailLimit := limit{key: "email:" + strings.ToLower(email), max: p.cfg.Tuning.SignInMaxFailures}
	ipLimit := limit{key: "ip:" + e.RealIP(), max: p.cfg.Tuning.SignInMaxFailuresPerIP}
	if wait := p.signIns.reserve(now, emailLimit, ipLimit); wait > 0 {
		secs := retryafter.Set(e.Response.Header(), wait)
		v.RetryAfter = secs
		v.Error = fmt.Sprintf("Too many failed sign-in attempts. Try again in %s.", humanize.Wait(secs))
		return p.render(e, http.StatusTooManyRequests, templates.LoginPage(v))
	}

	// The accounts this email may sign in as: a superuser's, then the one
	// of the first owner collection that has it; the first whose password
	// matches signs in.
	candidates, err := p.accountsFor(e.App, email)
	if err != nil {
		return e.InternalServerError("", err)
	}
	var user *core.Record
	for _, r := range candidates {
		if r.ValidatePassword(password) {
			user = r
			break
		}
	}
	if len(candidates) == 0 {
		dummyPasswordCheck(e.App, p.signinCollections(), p.superusers()) // answer as slowly as for a real account
	}
	if user == nil {
		// the attempt was counted as a failure when it was reserved
		v.Error = msgBadCredentials
		return p.render(e, http.StatusBadRequest, templates.LoginPage(v))
	}
	p.signIns.release(now, ipLimit)
	p.signIns.reset(emailLimit.key)

	// The collection's own rules, as PocketBase's auth-with-password
	// applies them (apis.RecordAuthResponse): the authRule (e.g.
	// "verified = true"), and MFA, which these pages cannot do.
	e.Set(core.RequestEventKeyInfoContext, core.RequestInfoContextPasswordAuth)
	info, err := e.RequestInfo()
	if err != nil {
		return e.InternalServerError("", err)
	}
	if ok, _ := keystore.CanAuthenticate(e.App, user, info); !ok {
		v.Error = msgNotAllowed
		return p.render(e, http.StatusForbidden, templates.LoginPage(v))
	}
	if user.Collection().MFA.Enabled {
		v.Error = msgMFA
		return p.render(e, http.StatusForbidden, templates.LoginPage(v))
	}

	if err := p.startSession(e, user); err != nil {
		return e.InternalServerError("", err)
	}
	return redirect(e, v.Next)
}

// accountsFor returns the accounts that may sign in here with email: the
// superuser with it, then the record of the first owner collection (with
// password sign-in) that has it. A superuser comes first: their view of
// the pages includes every owner's keys.
func (p *pages) accountsFor(app core.App, email string) ([]*core.Record, error) {
	var out []*core.Record
	collections := p.signinCollections()
	if su := p.superusers(); su != nil {
		collections = append([]*core.Collection{su}, collections...)
	}
	for _, c := range collections {
		r, err := app.FindAuthRecordByEmail(c, email)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		if !r.IsSuperuser() {
			break // the first owner collection with the email
		}
	}
	return out, nil
}

// dummyPasswordCheck costs what a real password check costs, so response
// time does not tell whether an email address has an account.
func dummyPasswordCheck(app core.App, owners []*core.Collection, superusers *core.Collection) {
	if superusers != nil {
		owners = append(owners, superusers)
	}
	for _, c := range owners {
		record := &core.Record{}
		if err := app.RecordQuery(c).Limit(1).One(record); err == nil {
			_ = record.ValidatePassword("")
			return
		}
	}
}

// logout ends this browser's session on the server, so its cookie is
// refused from then on wherever it is sent, even if it was copied. The
// account's other sessions (other browsers) and its PocketBase tokens are
// not touched.
func (p *pages) logout(e *core.RequestEvent) error {
	user, _, err := p.sessionUser(e)
	if err != nil {
		return e.InternalServerError("", err)
	}
	if user != nil {
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
	if err := p.endSession(e); err != nil {
		// the session may still work: never say "signed out" then
		if user != nil {
			e.Set(requestKeyUser, user)
		}
		return e.InternalServerError("", err)
	}
	p.setFlash(e, flash{Text: msgSignedOut})
	return redirect(e, p.paths.Login)
}
