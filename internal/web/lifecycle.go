package web

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/templates"
)

// graceChoices are the Roll form's grace periods, by the names
// keystore.GracePeriods knows.
var graceChoices = []templates.Option{
	{Value: "now", Text: "Now", Hint: "The old key stops working at once."},
	{Value: "1h", Text: "1 hour"},
	{Value: "24h", Text: "24 hours"},
	{Value: "7d", Text: "7 days"},
}

// defaultGrace is preselected: a day is enough to redeploy most apps
// with the new key without an outage, and short enough that a key rolled
// because it leaked does not stay usable for long.
const defaultGrace = "24h"

const msgRollFormExpired = "This form has expired. Choose the grace period and roll the key again."

// setDisabled pauses or resumes one of the user's keys. Someone else's key
// id is "not found", exactly like an id that does not exist.
func (p *pages) setDisabled(disabled bool) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		user := userFrom(e)
		record, err := p.store.SetDisabled(user.Id, e.Request.PathValue("id"), disabled)
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
			if keystore.PolicyOf(record).State(time.Now()).Kind == apikey.StateExpired {
				text = fmt.Sprintf("Enabled \u2018%s\u2019, but it has expired, so apps using it still get 401: roll it for a new key.", label)
			}
		}
		setFlash(e, flash{Text: text})
		return redirect(e, PathKeys)
	}
}

// rollForm builds the Roll form for the key at action ("" for the list's
// shared dialog) and issues it a fresh one-time nonce.
func (p *pages) rollForm(user *core.Record, csrf, action, grace, errMsg string) templates.RollForm {
	f := templates.RollForm{
		Action: action,
		Error:  errMsg,
		Nonce:  p.nonces.issue(user.Id, time.Now()),
		CSRF:   csrf,
	}
	for _, o := range graceChoices {
		o.Selected = o.Value == grace
		f.Grace = append(f.Grace, o)
	}
	return f
}

func (p *pages) rollPage(e *core.RequestEvent) error {
	return p.renderRollPage(e, http.StatusOK, defaultGrace, "", "")
}

func (p *pages) renderRollPage(e *core.RequestEvent, status int, grace, errMsg, notice string) error {
	user := userFrom(e)
	record, err := p.store.FindOwned(user.Id, e.Request.PathValue("id"))
	if errors.Is(err, sql.ErrNoRows) {
		return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
	}
	if err != nil {
		return e.InternalServerError("", err)
	}
	account := accountView(user)
	v := templates.RollView{
		Account: account,
		Key:     keyRow(record, time.Now()),
		Form:    p.rollForm(user, account.CSRF, RollPath(record.Id), grace, errMsg),
	}
	if notice != "" {
		v.Notice = &templates.Notice{Text: notice, Error: true}
	}
	return render(e, status, templates.RollPage(v))
}

// roll replaces one of the user's keys and reveals the new key, like
// createKey: answered directly (never redirected, so the plaintext is in
// no URL or cookie), with a one-time nonce so that a resubmitted form
// (reload, Back/Forward, double click) does not roll twice.
func (p *pages) roll(e *core.RequestEvent) error {
	user := userFrom(e)
	id := e.Request.PathValue("id")
	grace := e.Request.PostForm.Get("grace")
	nonce := e.Request.PostForm.Get("nonce")
	now := time.Now()

	state, usedLabel := p.nonces.begin(user.Id, nonce, now)
	switch state {
	case nonceUsed:
		text := "This form was already sent, so the key was not rolled again."
		if usedLabel != "" {
			text = fmt.Sprintf("\u2018%s\u2019 was already rolled with this form, so it was not rolled again.", usedLabel)
		}
		setFlash(e, flash{Text: text + " A key is shown only once: if you did not copy the new one, roll it again."})
		return redirect(e, PathKeys)
	case nonceUnknown:
		return p.renderRollPage(e, http.StatusBadRequest, grace, "", msgRollFormExpired)
	}

	period, ok := keystore.GracePeriods[grace]
	if !ok {
		p.nonces.release(user.Id, nonce, now)
		return p.renderRollPage(e, http.StatusBadRequest, defaultGrace, "Choose how long the old key keeps working.", "")
	}
	record, key, err := p.store.Roll(user.Id, id, period, keystore.Origin{
		Via:       "API keys page (roll)",
		IP:        e.RealIP(),
		UserAgent: e.Request.UserAgent(),
	})
	if err != nil {
		p.nonces.release(user.Id, nonce, now)
		if errors.Is(err, sql.ErrNoRows) {
			return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
		}
		if errors.Is(err, keystore.ErrAlreadyRolled) {
			return p.renderError(e, http.StatusConflict, err.Error())
		}
		return e.InternalServerError("", err)
	}
	label := record.GetString(keystore.FieldLabel)
	p.nonces.finish(user.Id, nonce, label, now)

	v, err := p.keysView(e, user, record.Id)
	if err != nil {
		return err
	}
	v.Reveal = &templates.Reveal{Label: label, Key: key.String(), Rolled: true, Note: oldKeyNote(v.Keys, id)}
	e.Response.Header().Set("Pragma", "no-cache") // HTTP/1.0 caches; render sets no-store
	return render(e, http.StatusOK, templates.APIKeysPage(v))
}

// oldKeyNote says what became of the rolled key, from its row in the list.
func oldKeyNote(rows []templates.KeyRow, oldID string) string {
	for _, r := range rows {
		if r.ID != oldID {
			continue
		}
		switch r.StateKind {
		case string(apikey.StateExpired):
			return fmt.Sprintf("The old key %s has stopped working.", r.Masked)
		case string(apikey.StateDisabled):
			return fmt.Sprintf("The old key %s stays disabled and expires %s.", r.Masked, r.Expires.Exact)
		}
		return fmt.Sprintf("The old key %s keeps working until %s (%s).", r.Masked, r.Expires.Exact,
			strings.ToLower(r.State[:1])+r.State[1:])
	}
	return ""
}
