package web

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
	"github.com/pbkeys/pbkeys/templates"
)

const (
	msgKeyNotFound = "This API key does not exist or has already been revoked."
	msgFormExpired = "This form has expired. Check what you entered and create the key again."
)

func (p *pages) listKeys(e *core.RequestEvent) error {
	user := userFrom(e)
	v, err := p.keysView(e, user, readFilter(e.Request.URL.Query()), "")
	if err != nil {
		return err
	}
	if f := p.takeFlash(e); f != nil {
		v.Notice = &templates.Notice{Text: f.Text, Error: f.Error}
	}
	return p.render(e, http.StatusOK, templates.APIKeysPage(v))
}

// keysView builds the list page for user with filter f; newID marks a
// just-created key.
func (p *pages) keysView(e *core.RequestEvent, user *core.Record, f listFilter, newID string) (templates.APIKeysView, error) {
	now := time.Now()
	page, err := p.readKeysPage(user, f, now)
	if err != nil {
		return templates.APIKeysView{}, e.InternalServerError("", err)
	}
	rows := make([]templates.KeyRow, len(page.Keys))
	for i, r := range page.Keys {
		rows[i] = p.keyRow(r, now)
		rows[i].New = r.Id == newID
		rows[i].Usage = usageChart(page.usage[r.Id])
		if user.IsSuperuser() {
			ref := r.GetString(keystore.FieldOwnerCollection) + "/" + r.GetString(keystore.FieldOwner)
			rows[i].Owner, rows[i].OwnerCollection = r.GetString(keystore.FieldOwner), r.GetString(keystore.FieldOwnerCollection)
			if owner := page.owners[ref]; owner != nil {
				rows[i].Owner, rows[i].OwnerCollection = ownerName(owner), owner.Collection().Name
			}
		}
	}
	account := accountView(user)
	keyForm := keyForm{}
	if page.owner != nil {
		keyForm.OwnerCollection, keyForm.Owner = page.owner.Collection().Name, ownerName(page.owner)
	}
	offered, err := p.keyCollections()
	if err != nil {
		return templates.APIKeysView{}, e.InternalServerError("", err)
	}
	// The shared Roll dialog's editor is filled in from the Roll link.
	rollAccess := accessView(accessForm{}, offered, nil)
	rollAccess.Deferred = true
	v := templates.APIKeysView{
		Account:   account,
		Keys:      rows,
		NewKey:    p.newKeyForm(user, account.CSRF, keyForm, nil, offered),
		Roll:      p.rollForm(user, account.CSRF, "", keystore.DefaultGrace, "", rollAccess),
		Filter:    p.filterView(user, f, page.ownerError),
		Pager:     p.pagerView(page.Result, f),
		Return:    f.url(p.paths.Keys, page.Page),
		UsageDays: usage.Window,
	}
	switch {
	case !user.IsSuperuser() && (page.Total > 0 || f.active()):
		// all of the user's keys, whatever the filter shows
		v.RevokeAllURL, v.RevokeAllText = p.paths.RevokeAll, "Revoke all"
	case page.owner != nil && page.Total > 0:
		v.RevokeAllURL = p.paths.RevokeAll + "?" + url.Values{paramOwner: {ownerRef(page.owner)}}.Encode()
		v.RevokeAllText = "Revoke all of " + ownerName(page.owner)
	}
	return v, nil
}

// ownerRef names owner unambiguously in a URL: COLLECTION/ID.
func ownerRef(owner *core.Record) string {
	return owner.Collection().Name + "/" + owner.Id
}

func (p *pages) newKeyPage(e *core.RequestEvent) error {
	f := keyForm{}
	if user := userFrom(e); user.IsSuperuser() {
		// from an owner's filtered list: for that owner
		q := e.Request.URL.Query()
		f.OwnerCollection, f.Owner = q.Get(paramCollection), q.Get(paramOwner)
	}
	return p.renderNewKeyPage(e, userFrom(e), http.StatusOK, f, nil, "")
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

	state, usedLabel := p.nonces.begin(principal(user), nonce, now)
	switch state {
	case nonceUsed:
		text := "This form was already sent, so no second key was created."
		if usedLabel != "" {
			text = fmt.Sprintf("The key \u2018%s\u2019 was already created with this form, so no second key was created.", usedLabel)
		}
		p.setFlash(e, flash{Text: text + " A key is shown only once: if you did not copy it, revoke it and create a new one."})
		return redirect(e, p.paths.Keys)
	case nonceUnknown:
		return p.renderNewKeyPage(e, user, http.StatusBadRequest, f, nil, msgFormExpired)
	}

	offered, err := p.keyCollections()
	if err != nil {
		p.nonces.release(principal(user), nonce, now)
		return e.InternalServerError("", err)
	}
	opts, errs := f.options(now, offered)
	owner, via := user, "API keys page"
	if user.IsSuperuser() {
		// an admin names the owner; superusers never own keys
		var msg string
		owner, msg = p.formOwner(f)
		if msg != "" {
			if errs == nil {
				errs = fieldErrors{}
			}
			errs[keystore.FieldOwner] = msg
		}
		via = "API keys page, by an administrator"
	}
	if errs != nil {
		p.nonces.release(principal(user), nonce, now)
		return p.renderNewKeyPage(e, user, http.StatusBadRequest, f, errs, "")
	}
	record, key, err := p.store.Issue(owner, opts, pageOrigin(e, user, owner, via))
	if err != nil {
		p.nonces.release(principal(user), nonce, now)
		if errs, ok := p.storeErrors(err); ok {
			return p.renderNewKeyPage(e, user, http.StatusBadRequest, f, errs, "")
		}
		return e.InternalServerError("", err)
	}
	p.nonces.finish(principal(user), nonce, record.GetString(keystore.FieldLabel), now)

	v, err := p.revealView(e, user, owner, record.Id)
	if err != nil {
		return err
	}
	v.Reveal.Label, v.Reveal.Key = record.GetString(keystore.FieldLabel), key.String()
	e.Response.Header().Set("Pragma", "no-cache") // HTTP/1.0 caches; render sets no-store
	return p.render(e, http.StatusOK, templates.APIKeysPage(v))
}

// revealView is the list that a new key is revealed over: the first page,
// where the new key (newID) is, with the key's owner's keys only for an
// admin.
func (p *pages) revealView(e *core.RequestEvent, user, owner *core.Record, newID string) (templates.APIKeysView, error) {
	f := listFilter{}
	reveal := &templates.Reveal{}
	if user.IsSuperuser() {
		f.Owner = ownerRef(owner)
		reveal.Owner = owner.Collection().Name + "/" + ownerName(owner)
	}
	v, err := p.keysView(e, user, f, newID)
	if err != nil {
		return v, err
	}
	reveal.Return = f.url(p.paths.Keys, 1)
	v.Reveal = reveal
	return v, nil
}

// formOwner is the owner an admin named on the New API key form, or why
// there is none.
func (p *pages) formOwner(f keyForm) (*core.Record, string) {
	if strings.TrimSpace(f.Owner) == "" {
		return nil, "Enter the email or record id of the key’s owner."
	}
	owner, _, msg, err := p.ownerFilter(listFilter{Collection: f.OwnerCollection, Owner: strings.TrimSpace(f.Owner)})
	switch {
	case err != nil:
		return nil, "The owner could not be looked up. Try again."
	case msg != "":
		return nil, msg
	case owner == nil:
		return nil, "Enter the email or record id of the key’s owner."
	}
	return owner, ""
}

func (p *pages) renderNewKeyPage(e *core.RequestEvent, user *core.Record, status int, f keyForm, errs fieldErrors, notice string) error {
	account := accountView(user)
	offered, err := p.keyCollections()
	if err != nil {
		return e.InternalServerError("", err)
	}
	v := templates.NewKeyView{Account: account, Form: p.newKeyForm(user, account.CSRF, f, errs, offered)}
	if notice != "" {
		v.Notice = &templates.Notice{Text: notice, Error: true}
	}
	return p.render(e, status, templates.NewKeyPage(v))
}

func (p *pages) revokePage(e *core.RequestEvent) error {
	user := userFrom(e)
	record, _, err := p.keyFor(user, e.Request.PathValue("id"))
	if errors.Is(err, sql.ErrNoRows) {
		return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
	}
	if err != nil {
		return e.InternalServerError("", err)
	}
	return p.render(e, http.StatusOK, templates.RevokePage(templates.RevokeView{
		Account: accountView(user),
		Key:     p.keyRow(record, time.Now()),
	}))
}

// revokeFields are the fields of the Revoke forms: the list's dialog
// (which comes back to the page it was on) and the Revoke page.
var revokeFields = formFields{all: []string{"csrf", "return"}}

// revoke deletes one of the user's keys (any key, for an admin). Someone
// else's key id is "not found", exactly like an id that does not exist.
func (p *pages) revoke(e *core.RequestEvent) error {
	user := userFrom(e)
	_, owner, err := p.keyFor(user, e.Request.PathValue("id"))
	var record *core.Record
	if err == nil {
		record, err = p.store.Revoke(owner, e.Request.PathValue("id"), pageOrigin(e, user, owner, "API keys page"))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
	}
	if err != nil {
		return e.InternalServerError("", err)
	}
	p.setFlash(e, flash{Text: fmt.Sprintf("Revoked \u2018%s\u2019. Apps using it can no longer call the API.",
		record.GetString(keystore.FieldLabel))})
	return redirect(e, p.returnTo(e))
}

// revokeAllOwner is whose keys "Revoke all" revokes: the user's own, or,
// for an admin, the owner the form names (COLLECTION/ID); nil with a
// status when there is none.
func (p *pages) revokeAllOwner(e *core.RequestEvent, user *core.Record) (*core.Record, error) {
	if !user.IsSuperuser() {
		return user, nil
	}
	ref := e.Request.URL.Query().Get(paramOwner)
	if e.Request.Method == http.MethodPost {
		ref = e.Request.PostForm.Get(paramOwner)
	}
	if ref == "" {
		return nil, p.renderError(e, http.StatusBadRequest, "Choose whose keys to revoke: filter the list by owner first.")
	}
	owner, err := p.store.FindOwnerRef(ref)
	if err != nil {
		return nil, p.renderError(e, http.StatusNotFound, "There is no such owner.")
	}
	return owner, nil
}

func (p *pages) revokeAllPage(e *core.RequestEvent) error {
	user := userFrom(e)
	owner, err := p.revokeAllOwner(e, user)
	if owner == nil {
		return err
	}
	n, err := p.store.CountOwned(owner)
	if err != nil {
		return e.InternalServerError("", err)
	}
	v := templates.RevokeAllView{Account: accountView(user), Count: n, Action: p.paths.RevokeAll}
	if user.IsSuperuser() {
		// the form posts the owner (revokeAllOwner reads a POST's form)
		v.Owner, v.OwnerRef = owner.Collection().Name+"/"+ownerName(owner), ownerRef(owner)
	}
	if n == 0 {
		text := "You have no API keys to revoke."
		if v.Owner != "" {
			text = v.Owner + " has no API keys to revoke."
		}
		p.setFlash(e, flash{Text: text})
		return redirect(e, p.paths.Keys)
	}
	return p.render(e, http.StatusOK, templates.RevokeAllPage(v))
}

// revokeAllFields are the fields of the Revoke all form; an admin's names
// the owner.
var revokeAllFields = formFields{all: []string{"csrf"}, admin: []string{paramOwner}}

func (p *pages) revokeAll(e *core.RequestEvent) error {
	user := userFrom(e)
	owner, err := p.revokeAllOwner(e, user)
	if owner == nil {
		return err
	}
	n, err := p.store.RevokeAll(owner, pageOrigin(e, user, owner, "API keys page"))
	if err != nil {
		return e.InternalServerError("", err)
	}
	var text string
	back := p.paths.Keys
	if user.IsSuperuser() {
		name := owner.Collection().Name + "/" + ownerName(owner)
		back = listFilter{Owner: ownerRef(owner)}.url(p.paths.Keys, 1)
		switch {
		case n == 0:
			text = name + " has no API keys to revoke."
		case n == 1:
			text = "Revoked the API key of " + name + ". Apps using it can no longer call the API."
		default:
			text = fmt.Sprintf("Revoked all %d API keys of %s. Apps using them can no longer call the API.", n, name)
		}
	} else {
		switch {
		case n == 0:
			text = "You have no API keys to revoke."
		case n == 1:
			text = "Revoked your API key. Apps using it can no longer call the API."
		default:
			text = fmt.Sprintf("Revoked all %d API keys. Apps using them can no longer call the API.", n)
		}
	}
	p.setFlash(e, flash{Text: text})
	return redirect(e, back)
}

// keyFor returns the key with id that user may manage, and its owner: one
// of the user's own keys, or any key for an admin. Any other id is
// sql.ErrNoRows, exactly like an id that does not exist.
func (p *pages) keyFor(user *core.Record, id string) (key, owner *core.Record, err error) {
	if !user.IsSuperuser() {
		key, err = p.store.FindOwned(user, id)
		return key, user, err
	}
	if key, err = p.store.Find(id); err != nil {
		return nil, nil, err
	}
	if owner, err = p.store.Owner(key); err != nil {
		return nil, nil, err
	}
	return key, owner, nil
}

// returnTo is the list page a row's form came from (its "return" field),
// or the list.
func (p *pages) returnTo(e *core.RequestEvent) string {
	to := safeNext(p.paths, e.Request.PostForm.Get("return"))
	if to != p.paths.Keys && !strings.HasPrefix(to, p.paths.Keys+"?") {
		return p.paths.Keys
	}
	return to
}

// keyRow is the list's view of one key record.
func (p *pages) keyRow(r *core.Record, now time.Time) templates.KeyRow {
	policy := keystore.OptionsOf(r)
	state := humanize.KeyState(policy, now)
	perms, _ := policy.Permissions.MarshalJSON() // cannot fail
	row := templates.KeyRow{
		ID:        r.Id,
		Label:     r.GetString(keystore.FieldLabel),
		Masked:    r.Id + ".••••••••",
		Created:   timeView(r.GetDateTime(keystore.FieldCreated).Time(), now),
		State:     state.Text,
		StateKind: string(state.Kind),
		Scope:     humanize.Scope(policy),
		Disabled:  policy.Disabled,
		RevokeURL: p.paths.Revoke(r.Id),
		RollURL:   p.paths.Roll(r.Id),
		AccessURL: p.paths.Access(r.Id),
		ToggleURL: p.paths.Disable(r.Id),

		Permissions: string(perms),
		Addresses:   strings.Join(policy.AllowedIPs.Strings(), "\n"),
		ActivityURL: activityPath(p.paths, r.Id),
	}
	if policy.Disabled {
		row.ToggleURL = p.paths.Enable(r.Id)
	}
	if next := r.GetString(keystore.FieldReplacedBy); next != "" {
		row.ReplacedBy = next // rolled once already: roll the replacement
		row.RollURL = ""
	} else if state.Kind == humanize.StateExpiring {
		row.ExpiresSoon = state.Text // said in the row, not only by the badge's colour
	}
	if policy.RatePerMinute > 0 {
		row.Rate = humanize.Rate(policy)
	}
	if !policy.ExpiresAt.IsZero() {
		row.Expires = timeView(policy.ExpiresAt, now)
	}
	if used := r.GetDateTime(keystore.FieldLastUsed); !used.IsZero() {
		row.LastUsed = timeView(used.Time(), now)
		row.LastUsedIP = r.GetString(keystore.FieldLastUsedIP)
		row.LastUsedAgent = r.GetString(keystore.FieldLastUsedUserAgent)
	}
	return row
}

// pageOrigin is who acts through the pages (user: the owner, or a
// superuser) on a key of owner, and from where: for the owner's mail and
// the key's events.
func pageOrigin(e *core.RequestEvent, user, owner *core.Record, via string) keystore.Origin {
	return events.RequestOrigin(e, user, owner.Id, owner.Collection().Id, via)
}

func timeView(t, now time.Time) templates.Time {
	return templates.Time{
		ISO:      t.UTC().Format(time.RFC3339),
		Exact:    t.UTC().Format("2006-01-02 15:04:05 UTC"),
		Relative: humanize.Ago(t, now),
	}
}
