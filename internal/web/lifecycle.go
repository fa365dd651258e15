package web

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
	"github.com/pbkeys/pbkeys/templates"
)

// graceOption is the Roll form's choice for g: "Now" (with a hint) or
// how long, in words.
func graceOption(g keystore.Grace) templates.Option {
	if g.Period == 0 {
		return templates.Option{Value: g.Name, Text: "Now", Hint: "The old key stops working at once."}
	}
	return templates.Option{Value: g.Name, Text: humanize.Duration(g.Period)}
}

const msgRollFormExpired = "This form has expired. Choose the grace period and roll the key again."

// toggleFields are the fields of a row's Disable or Enable form.
var toggleFields = formFields{all: []string{"csrf", "return"}}

// setDisabled pauses or resumes one of the user's keys (any key, for an
// admin). Someone else's key id is "not found", exactly like an id that
// does not exist.
func (p *pages) setDisabled(disabled bool) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		user := userFrom(e)
		id := e.Request.PathValue("id")
		_, owner, err := p.keyFor(user, id)
		var record *core.Record
		if err == nil {
			record, err = p.store.SetDisabled(owner, id, disabled, pageOrigin(e, user, owner, "API keys page"))
		}
		if errors.Is(err, sql.ErrNoRows) {
			return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
		}
		if err != nil {
			return e.InternalServerError("", err)
		}
		label := record.GetString(keystore.FieldLabel)
		text := fmt.Sprintf("Disabled \u2018%s\u2019. Apps using it get 401 until you enable it again.", label)
		if !disabled {
			text = fmt.Sprintf("Enabled \u2018%s\u2019. Apps using it can call the API again.", label)
			if keystore.OptionsOf(record).Expired(time.Now()) {
				text = fmt.Sprintf("Enabled \u2018%s\u2019, but it has expired, so apps using it still get 401: roll it for a new key.", label)
			}
		}
		p.setFlash(e, flash{Text: text})
		return redirect(e, p.returnTo(e))
	}
}

// rollForm builds the Roll form for the key at action ("" for the list's
// shared dialog) with the permission editor access, and issues it a fresh
// one-time nonce.
func (p *pages) rollForm(user *core.Record, csrf, action, grace, errMsg string, access templates.AccessForm) templates.RollForm {
	f := templates.RollForm{
		Action: action,
		Error:  errMsg,
		Access: access,
		Nonce:  p.nonces.issue(principal(user), time.Now()),
		CSRF:   csrf,
	}
	for _, g := range keystore.Graces {
		o := graceOption(g)
		o.Selected = o.Value == grace
		f.Grace = append(f.Grace, o)
	}
	return f
}

func (p *pages) rollPage(e *core.RequestEvent) error {
	return p.renderRollPage(e, http.StatusOK, keystore.DefaultGrace, "", "", nil, nil)
}

// renderRollPage renders the Roll page with the permission editor showing
// access (nil: the old key's permissions and addresses) and messages
// errs.
func (p *pages) renderRollPage(e *core.RequestEvent, status int, grace, errMsg, notice string, access *accessForm, errs fieldErrors) error {
	user := userFrom(e)
	record, _, err := p.keyFor(user, e.Request.PathValue("id"))
	if errors.Is(err, sql.ErrNoRows) {
		return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
	}
	if err != nil {
		return e.InternalServerError("", err)
	}
	offered, err := p.keyCollections()
	if err != nil {
		return e.InternalServerError("", err)
	}
	if access == nil {
		f := accessFormOf(keystore.OptionsOf(record), offered)
		access = &f
	}
	if notice == "" {
		notice = errs[""]
	}
	account := accountView(user)
	v := templates.RollView{
		Account: account,
		Key:     p.keyRow(record, time.Now()),
		Form:    p.rollForm(user, account.CSRF, p.paths.Roll(record.Id), grace, errMsg, accessView(*access, offered, errs)),
	}
	if notice != "" {
		v.Notice = &templates.Notice{Text: notice, Error: true}
	}
	return p.render(e, status, templates.RollPage(v))
}

// rollFields are the fields of the Roll form.
var rollFields = formFields{all: []string{"csrf", "nonce", "grace", fieldAccess, fieldAddresses}, access: true}

// roll replaces one of the user's keys (any key, for an admin: the new key
// has the same owner) and reveals the new key, like createKey: answered
// directly (never redirected, so the plaintext is in no URL or cookie),
// with a one-time nonce so that a resubmitted form (reload, Back/Forward,
// double click) does not roll twice. The new key has the permissions and
// addresses the form chose; what the form did not send is the old key's.
func (p *pages) roll(e *core.RequestEvent) error {
	user := userFrom(e)
	id := e.Request.PathValue("id")
	grace := e.Request.PostForm.Get("grace")
	nonce := e.Request.PostForm.Get("nonce")
	now := time.Now()

	old, owner, err := p.keyFor(user, id)
	if errors.Is(err, sql.ErrNoRows) {
		return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
	}
	if err != nil {
		return e.InternalServerError("", err)
	}
	offered, err := p.keyCollections()
	if err != nil {
		return e.InternalServerError("", err)
	}
	kept := keystore.OptionsOf(old)
	access := readAccessForm(e.Request.PostForm, accessFormOf(kept, offered))

	state, usedLabel := p.nonces.begin(principal(user), nonce, now)
	switch state {
	case nonceUsed:
		text := "This form was already sent, so the key was not rolled again."
		if usedLabel != "" {
			text = fmt.Sprintf("\u2018%s\u2019 was already rolled with this form, so it was not rolled again.", usedLabel)
		}
		p.setFlash(e, flash{Text: text + " A key is shown only once: if you did not copy the new one, roll it again."})
		return redirect(e, p.paths.Keys)
	case nonceUnknown:
		return p.renderRollPage(e, http.StatusBadRequest, grace, "", msgRollFormExpired, &access, nil)
	}

	period, ok := keystore.GraceNamed(grace)
	perms, ips, errs := access.options(offered)
	if !ok || errs != nil {
		p.nonces.release(principal(user), nonce, now)
		msg := ""
		if !ok {
			grace, msg = keystore.DefaultGrace, "Choose how long the old key keeps working."
		}
		return p.renderRollPage(e, http.StatusBadRequest, grace, msg, "", &access, errs)
	}
	via := "API keys page (roll)"
	if user.IsSuperuser() {
		via = "API keys page (roll, by an administrator)"
	}
	record, key, err := p.store.Roll(owner, id, period, pageOrigin(e, user, owner, via))
	if err == nil {
		err = p.changeRolled(old, record, kept, perms, ips, pageOrigin(e, user, owner, via))
	}
	if err != nil {
		p.nonces.release(principal(user), nonce, now)
		if errors.Is(err, sql.ErrNoRows) {
			return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
		}
		if errors.Is(err, keystore.ErrAlreadyRolled) {
			return p.renderError(e, http.StatusConflict, err.Error())
		}
		if errs, ok := p.storeErrors(err); ok {
			return p.renderRollPage(e, http.StatusBadRequest, grace, "", "", &access, errs)
		}
		return e.InternalServerError("", err)
	}
	label := record.GetString(keystore.FieldLabel)
	p.nonces.finish(principal(user), nonce, label, now)

	v, err := p.revealView(e, user, owner, record.Id)
	if err != nil {
		return err
	}
	v.Reveal.Label, v.Reveal.Key, v.Reveal.Rolled = label, key.String(), true
	if old, err := p.store.Find(id); err == nil {
		v.Reveal.Note = oldKeyNote(p.keyRow(old, time.Now()))
	}
	e.Response.Header().Set("Pragma", "no-cache") // HTTP/1.0 caches; render sets no-store
	return p.render(e, http.StatusOK, templates.APIKeysPage(v))
}

// changeRolled gives the key a roll just issued (created, with the old
// key's options kept) the permissions and addresses the Roll form chose,
// when they differ. The keystore rolls with the old key's options, so this
// is a second save; if it fails, the roll is undone (the new key revoked,
// the old one given back its expiry), as if it had not happened, and the
// error is returned. Nobody has seen the new key yet.
func (p *pages) changeRolled(old, created *core.Record, kept keystore.Options, perms permissions.Set, ips addrlist.List, origin keystore.Origin) error {
	chosen := kept
	chosen.Permissions, chosen.AllowedIPs = perms, ips
	if sameAccess(chosen, kept) {
		return nil
	}
	setAccess(created, chosen)
	created.SetRaw(keystore.OriginKey, []keystore.Origin{origin})
	err := p.app.Save(created)
	if err == nil {
		return nil
	}
	if uerr := p.store.UndoRoll(old.Id, created.Id, old.GetDateTime(keystore.FieldExpires)); uerr != nil {
		// not a form error: the roll stands, with the old key's access
		return fmt.Errorf("web: key %s rolled to %s, its access not changed (%v), and the roll not undone: %w",
			old.Id, created.Id, err, uerr)
	}
	return err
}

// oldKeyNote says what became of the rolled key, from its row.
func oldKeyNote(r templates.KeyRow) string {
	switch r.StateKind {
	case string(humanize.StateExpired):
		return fmt.Sprintf("The old key %s has stopped working.", r.Masked)
	case string(humanize.StateDisabled):
		return fmt.Sprintf("The old key %s stays disabled and expires %s.", r.Masked, r.Expires.Exact)
	}
	return fmt.Sprintf("The old key %s keeps working until %s (%s).", r.Masked, r.Expires.Exact,
		strings.ToLower(r.State[:1])+r.State[1:])
}
