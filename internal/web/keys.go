package web

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/templates"
)

const (
	msgKeyNotFound = "This API key does not exist or has already been revoked."
	msgFormExpired = "This form has expired. Check what you entered and create the key again."
)

func (p *pages) listKeys(e *core.RequestEvent) error {
	user := userFrom(e)
	v, err := p.keysView(e, user, "")
	if err != nil {
		return err
	}
	if f := takeFlash(e); f != nil {
		v.Notice = &templates.Notice{Text: f.Text, Error: f.Error}
	}
	return render(e, http.StatusOK, templates.APIKeysPage(v))
}

// keysView builds the list page for user; newID marks a just-created key.
func (p *pages) keysView(e *core.RequestEvent, user *core.Record, newID string) (templates.APIKeysView, error) {
	records, err := p.store.ListByOwner(user.Id)
	if err != nil {
		return templates.APIKeysView{}, e.InternalServerError("", err)
	}
	now := time.Now()
	rows := make([]templates.KeyRow, len(records))
	for i, r := range records {
		rows[i] = keyRow(r, now)
		rows[i].New = r.Id == newID
	}
	account := accountView(user)
	form, err := p.newKeyForm(user, account.CSRF, keyForm{}, nil)
	if err != nil {
		return templates.APIKeysView{}, e.InternalServerError("", err)
	}
	return templates.APIKeysView{
		Account: account,
		Keys:    rows,
		NewKey:  form,
		Roll:    p.rollForm(user, account.CSRF, "", defaultGrace, ""),
	}, nil
}

func (p *pages) newKeyPage(e *core.RequestEvent) error {
	return p.renderNewKeyPage(e, userFrom(e), http.StatusOK, keyForm{}, nil, "")
}

// createKey issues a key and answers with the list and the reveal: the
// only response that ever contains the plaintext. It is not redirected
// (a redirect would need the key in a URL, a cookie or server-side
// storage); instead the form's one-time nonce makes a resubmission harmless.
func (p *pages) createKey(e *core.RequestEvent) error {
	user := userFrom(e)
	f := readKeyForm(e.Request.PostForm)
	nonce := e.Request.PostForm.Get("nonce")
	now := time.Now()

	state, usedLabel := p.nonces.begin(user.Id, nonce, now)
	switch state {
	case nonceUsed:
		text := "This form was already sent, so no second key was created."
		if usedLabel != "" {
			text = fmt.Sprintf("The key \u2018%s\u2019 was already created with this form, so no second key was created.", usedLabel)
		}
		setFlash(e, flash{Text: text + " A key is shown only once: if you did not copy it, revoke it and create a new one."})
		return redirect(e, PathKeys)
	case nonceUnknown:
		return p.renderNewKeyPage(e, user, http.StatusBadRequest, f, nil, msgFormExpired)
	}

	opts, errs := f.options(now)
	if errs != nil {
		p.nonces.release(user.Id, nonce, now)
		return p.renderNewKeyPage(e, user, http.StatusBadRequest, f, errs, "")
	}
	record, key, err := p.store.IssueWith(user.Id, opts, keystore.Origin{
		Via:       "API keys page",
		IP:        e.RealIP(),
		UserAgent: e.Request.UserAgent(),
	})
	if err != nil {
		p.nonces.release(user.Id, nonce, now)
		if errs, ok := storeErrors(err); ok {
			return p.renderNewKeyPage(e, user, http.StatusBadRequest, f, errs, "")
		}
		return e.InternalServerError("", err)
	}
	p.nonces.finish(user.Id, nonce, record.GetString(keystore.FieldLabel), now)

	v, err := p.keysView(e, user, record.Id)
	if err != nil {
		return err
	}
	v.Reveal = &templates.Reveal{Label: record.GetString(keystore.FieldLabel), Key: key.String()}
	e.Response.Header().Set("Pragma", "no-cache") // HTTP/1.0 caches; render sets no-store
	return render(e, http.StatusOK, templates.APIKeysPage(v))
}

func (p *pages) renderNewKeyPage(e *core.RequestEvent, user *core.Record, status int, f keyForm, errs fieldErrors, notice string) error {
	account := accountView(user)
	form, err := p.newKeyForm(user, account.CSRF, f, errs)
	if err != nil {
		return e.InternalServerError("", err)
	}
	v := templates.NewKeyView{Account: account, Form: form}
	if notice != "" {
		v.Notice = &templates.Notice{Text: notice, Error: true}
	}
	return render(e, status, templates.NewKeyPage(v))
}

func (p *pages) revokePage(e *core.RequestEvent) error {
	user := userFrom(e)
	record, err := p.store.FindOwned(user.Id, e.Request.PathValue("id"))
	if errors.Is(err, sql.ErrNoRows) {
		return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
	}
	if err != nil {
		return e.InternalServerError("", err)
	}
	return render(e, http.StatusOK, templates.RevokePage(templates.RevokeView{
		Account: accountView(user),
		Key:     keyRow(record, time.Now()),
	}))
}

// revoke deletes one of the user's keys. Someone else's key id is "not
// found", exactly like an id that does not exist.
func (p *pages) revoke(e *core.RequestEvent) error {
	user := userFrom(e)
	record, err := p.store.Revoke(user.Id, e.Request.PathValue("id"))
	if errors.Is(err, sql.ErrNoRows) {
		return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
	}
	if err != nil {
		return e.InternalServerError("", err)
	}
	setFlash(e, flash{Text: fmt.Sprintf("Revoked \u2018%s\u2019. Apps using it can no longer call the API.",
		record.GetString(keystore.FieldLabel))})
	return redirect(e, PathKeys)
}

func (p *pages) revokeAllPage(e *core.RequestEvent) error {
	user := userFrom(e)
	records, err := p.store.ListByOwner(user.Id)
	if err != nil {
		return e.InternalServerError("", err)
	}
	if len(records) == 0 {
		setFlash(e, flash{Text: "You have no API keys to revoke."})
		return redirect(e, PathKeys)
	}
	return render(e, http.StatusOK, templates.RevokeAllPage(templates.RevokeAllView{
		Account: accountView(user),
		Count:   len(records),
	}))
}

func (p *pages) revokeAll(e *core.RequestEvent) error {
	user := userFrom(e)
	n, err := p.store.RevokeAll(user.Id)
	if err != nil {
		return e.InternalServerError("", err)
	}
	text := "You have no API keys to revoke."
	switch {
	case n == 1:
		text = "Revoked your API key. Apps using it can no longer call the API."
	case n > 1:
		text = fmt.Sprintf("Revoked all %d API keys. Apps using them can no longer call the API.", n)
	}
	setFlash(e, flash{Text: text})
	return redirect(e, PathKeys)
}

// keyRow is the list's view of one key record.
func keyRow(r *core.Record, now time.Time) templates.KeyRow {
	policy := keystore.PolicyOf(r)
	state := policy.State(now)
	row := templates.KeyRow{
		ID:        r.Id,
		Label:     r.GetString(keystore.FieldLabel),
		Masked:    r.Id + ".••••••••",
		Created:   timeView(r.GetDateTime(keystore.FieldCreated).Time(), now),
		State:     state.Text,
		StateKind: string(state.Kind),
		Scope:     policy.Scope(),
		Disabled:  policy.Disabled,
		RevokeURL: RevokePath(r.Id),
		RollURL:   RollPath(r.Id),
		ToggleURL: DisablePath(r.Id),
	}
	if policy.Disabled {
		row.ToggleURL = EnablePath(r.Id)
	}
	if next := r.GetString(keystore.FieldReplacedBy); next != "" {
		row.ReplacedBy = next // rolled once already: roll the replacement
		row.RollURL = ""
	}
	if policy.RatePerMinute > 0 {
		row.Rate = policy.Rate()
	}
	if !policy.ExpiresAt.IsZero() {
		row.Expires = timeView(policy.ExpiresAt, now)
	}
	if used := r.GetDateTime(keystore.FieldLastUsed); !used.IsZero() {
		row.LastUsed = timeView(used.Time(), now)
	}
	return row
}

func timeView(t, now time.Time) templates.Time {
	return templates.Time{
		ISO:      t.UTC().Format(time.RFC3339),
		Exact:    t.UTC().Format("2006-01-02 15:04:05 UTC"),
		Relative: relativeTime(t, now),
	}
}

// relativeTime says how long ago t was, in the words a person would use.
func relativeTime(t, now time.Time) string {
	d := now.Sub(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d < 48*time.Hour:
		return "yesterday"
	case d < 30*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case t.Year() == now.Year():
		return "on " + t.UTC().Format("Jan 2")
	default:
		return "on " + strings.TrimSpace(t.UTC().Format("Jan 2, 2006"))
	}
}
