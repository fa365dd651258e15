package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/forms"
	"github.com/pocketbase/pocketbase/mails"

	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/retryafter"
	"github.com/pbkeys/pbkeys/templates"
)

// The sign-up page exists only where the first owner collection allows
// public sign-up (createRule ""); elsewhere it is a 404 and the sign-in
// page has no link to it.

func (p *pages) signupPage(e *core.RequestEvent) error {
	users := p.signupCollection()
	if users == nil {
		return e.NotFoundError("", nil)
	}
	next := safeNext(p.paths, e.Request.URL.Query().Get("next"))
	if user, _, _ := p.sessionUser(e); user != nil {
		return redirect(e, next)
	}
	return p.render(e, http.StatusOK, templates.SignupPage(templates.SignupView{
		Next: next, LoginURL: loginURL(p.paths, next), PasswordHint: passwordHint(users),
	}))
}

// signupsPerIP bounds sign-up attempts per client address per window.
const signupsPerIP = 10

func (p *pages) signup(e *core.RequestEvent) error {
	users := p.signupCollection()
	if users == nil {
		return e.NotFoundError("", nil)
	}
	if err := readForm(e); err != nil {
		return err
	}
	form := e.Request.PostForm
	v := templates.SignupView{
		Email:        strings.TrimSpace(form.Get("email")),
		Next:         safeNext(p.paths, form.Get("next")),
		PasswordHint: passwordHint(users),
	}
	v.LoginURL = loginURL(p.paths, v.Next)

	// At most signupsPerIP sign-up attempts per client per throttle window:
	// enough for a household, not for an account-creation flood.
	now := time.Now()
	if wait := p.signIns.reserve(now, limit{key: "signup-ip:" + e.RealIP(), max: signupsPerIP}); wait > 0 {
		secs := retryafter.Set(e.Response.Header(), wait)
		v.Error = fmt.Sprintf("Too many sign-ups from your address. Try again in %s.", humanize.Wait(secs))
		return p.render(e, http.StatusTooManyRequests, templates.SignupPage(v))
	}

	// PocketBase's own validation: the same form the REST API uses for
	// records (email format and uniqueness, password length, confirmation).
	user := core.NewRecord(users)
	upsert := forms.NewRecordUpsert(e.App, user)
	upsert.SetContext(e.Request.Context())
	upsert.Load(map[string]any{
		core.FieldNameEmail:    v.Email,
		core.FieldNamePassword: form.Get("password"),
		"passwordConfirm":      form.Get("passwordConfirm"),
	})
	if err := upsert.Submit(); err != nil {
		var fieldErrs validation.Errors
		if !errors.As(err, &fieldErrs) {
			return e.InternalServerError("", err)
		}
		v.Fields = map[string]string{}
		for name, ferr := range fieldErrs {
			v.Fields[name] = signupMessage(name, ferr)
		}
		v.Error = "Please correct the highlighted fields."
		return p.render(e, http.StatusBadRequest, templates.SignupPage(v))
	}

	// Signed in at once if the collection lets the new account
	// authenticate; otherwise (e.g. "verified = true") it must confirm its
	// email address first.
	e.Set(core.RequestEventKeyInfoContext, core.RequestInfoContextPasswordAuth)
	info, err := e.RequestInfo()
	if err != nil {
		return e.InternalServerError("", err)
	}
	if ok, _ := keystore.CanAuthenticate(e.App, user, info); ok && !users.MFA.Enabled {
		if err := p.startSession(e, user); err != nil {
			return e.InternalServerError("", err)
		}
		return redirect(e, v.Next)
	}
	text := "Your account has been created. You can sign in now."
	if !user.Verified() {
		if err := mails.SendRecordVerification(e.App, user); err != nil {
			e.App.Logger().Warn("sign-up: could not send the verification email", "userId", user.Id, "error", err)
		}
		text = "Your account has been created. Confirm your email address with the link we sent you, then sign in."
	}
	p.setFlash(e, flash{Text: text})
	return redirect(e, v.LoginURL)
}

// signupMessage is a readable sentence for one field's validation error.
func signupMessage(field string, err error) string {
	var verr validation.Error
	if errors.As(err, &verr) {
		switch verr.Code() {
		case "validation_required":
			switch field {
			case core.FieldNameEmail:
				return "Enter your email address."
			case "passwordConfirm":
				return "Enter the password again."
			default:
				return "Choose a password."
			}
		case "validation_not_unique":
			return "An account with this email address already exists. Sign in instead."
		case "validation_is_email":
			return "Enter a valid email address, like name@example.com."
		case "validation_values_mismatch":
			return "The passwords do not match."
		}
		return verr.Error()
	}
	return err.Error()
}

// passwordHint states the collection's own minimum password length.
func passwordHint(users *core.Collection) string {
	if f, ok := users.Fields.GetByName(core.FieldNamePassword).(*core.PasswordField); ok && f.Min > 0 {
		return "At least " + strconv.Itoa(f.Min) + " characters."
	}
	return ""
}
