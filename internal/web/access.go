package web

import (
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
	"github.com/pbkeys/pbkeys/templates"
)

// The permission editor and the allowed addresses: what a key may reach
// and where from, on the New API key, Roll and "Permissions and addresses"
// forms. Its fields:
const (
	// fieldAccess is "full" (full access) or "custom" ("Only what I
	// choose": the perm rows).
	fieldAccess  = "access"
	accessFull   = "full"
	accessCustom = "custom"

	// permFieldPrefix + a name is a row's field, whose value is a level
	// ("none", "read", "write"): a name of a collection the form offers
	// (keystore.ScopableCollections), permissions.Others or
	// permissions.Routes. Collection names are letters, digits and "_", so
	// they never clash with "*" or "@routes".
	permFieldPrefix = "perm."

	// fieldAddresses holds the allowed addresses, one a line (or
	// separated by commas or spaces); empty: any address.
	fieldAddresses = keystore.FieldAllowedIPs
)

// searchFrom is how many collections a form must offer to have a search
// box for them (more than 8: fewer fit on a screen).
const searchFrom = 9

// The rows that are not collections, as the editor names them.
const (
	othersLegend = "Other collections, including ones created later"
	routesLegend = "Routes the app adds"
	routesHint   = "Read: GET, HEAD and OPTIONS requests. Write: any method."
)

// accessForm is the editor as a person left it: every value as sent.
type accessForm struct {
	Access    string            // fieldAccess's value; "" is full access
	Levels    map[string]string // row name (collection, Others, Routes) → level
	Addresses string
}

// accessFormOf is the editor showing opts' permissions and addresses:
// every offered collection at the level opts give it.
func accessFormOf(opts keystore.Options, offered []string) accessForm {
	f := accessForm{Access: accessFull, Levels: map[string]string{}}
	if p := opts.Permissions; !p.Full() {
		f.Access = accessCustom
		for _, name := range offered {
			f.Levels[name] = p.Of(name).String()
		}
		f.Levels[permissions.Others] = p[permissions.Others].String()
		f.Levels[permissions.Routes] = p.RoutesLevel().String()
	}
	f.Addresses = strings.Join(opts.AllowedIPs.Strings(), "\n")
	return f
}

// readAccessForm is base with what form sent instead: a field the form
// did not send keeps base's value (a roll starts from the old key's).
func readAccessForm(form url.Values, base accessForm) accessForm {
	f := accessForm{Access: base.Access, Levels: maps.Clone(base.Levels), Addresses: base.Addresses}
	if f.Levels == nil {
		f.Levels = map[string]string{}
	}
	if form.Has(fieldAccess) {
		f.Access = form.Get(fieldAccess)
	}
	for name, values := range form {
		if row, ok := strings.CutPrefix(name, permFieldPrefix); ok && len(values) > 0 {
			f.Levels[row] = values[0]
		}
	}
	if form.Has(fieldAddresses) {
		f.Addresses = form.Get(fieldAddresses)
	}
	return f
}

// isPermField reports whether name is a row of the editor that offers the
// collections offered.
func isPermField(name string, offered []string) bool {
	row, ok := strings.CutPrefix(name, permFieldPrefix)
	return ok && (row == permissions.Others || row == permissions.Routes || slices.Contains(offered, row))
}

// options returns the permissions and addresses f chose, among the
// offered collections, or messages keyed by the api_keys field they
// belong to. Beyond what the keystore checks when saving, it refuses
// "Only what I choose" with nothing chosen.
func (f accessForm) options(offered []string) (permissions.Set, addrlist.List, fieldErrors) {
	errs := fieldErrors{}
	var perms permissions.Set
	switch f.Access {
	case "", accessFull:
	case accessCustom:
		var msg string
		if perms, msg = f.permissions(offered); msg != "" {
			errs[keystore.FieldPermissions] = msg
		}
	default:
		errs[keystore.FieldPermissions] = "Choose “Full access” or “Only what I choose”."
	}
	ips, msg := parseAddresses(f.Addresses)
	if msg != "" {
		errs[keystore.FieldAllowedIPs] = msg
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return perms, ips, nil
}

// permissions is the set the rows make. Only what differs from the other
// collections' level names a collection: a collection at that level is
// reached as one of them, so the set says it once.
func (f accessForm) permissions(offered []string) (permissions.Set, string) {
	level := func(name, legend string) (permissions.Level, string) {
		v := f.Levels[name]
		if v == "" {
			return permissions.None, ""
		}
		l, ok := permissions.ParseLevel(v)
		if !ok {
			return permissions.None, fmt.Sprintf("Choose None, Read or Write for “%s”.", legend)
		}
		return l, ""
	}
	others, msg := level(permissions.Others, othersLegend)
	if msg != "" {
		return nil, msg
	}
	routes, msg := level(permissions.Routes, routesLegend)
	if msg != "" {
		return nil, msg
	}
	set := permissions.Set{}
	for _, name := range offered {
		l, msg := level(name, name)
		if msg != "" {
			return nil, msg
		}
		if l != others {
			set[name] = l
		}
	}
	if others > permissions.None {
		set[permissions.Others] = others
	}
	if routes > permissions.None {
		set[permissions.Routes] = routes
	}
	switch {
	case len(set) == 0: // every row at None
		return nil, "Choose Read or Write for at least one row, or choose “Full access”."
	case len(set) > permissions.MaxEntries:
		return nil, fmt.Sprintf("A key can name at most %d collections: give “%s” the level most of them need, and choose only the others.",
			permissions.MaxEntries, othersLegend)
	}
	return set, ""
}

// parseAddresses reads the allowed addresses as typed: one a line, or
// separated by commas or spaces; duplicates count once. Empty is any
// address (nil).
func parseAddresses(text string) (addrlist.List, string) {
	entries := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	var list addrlist.List
	var bad []string
	for _, entry := range entries {
		p, err := addrlist.ParseEntry(entry)
		switch {
		case err != nil:
			bad = append(bad, formatMessage(err, addrlist.ErrFormat))
		case !slices.Contains(list, p):
			list = append(list, p)
		}
	}
	switch {
	case len(bad) > 3:
		return nil, strings.Join(bad[:3], " ") + fmt.Sprintf(" And %d more.", len(bad)-3)
	case len(bad) > 0:
		return nil, strings.Join(bad, " ")
	case len(list) > addrlist.MaxEntries:
		return nil, fmt.Sprintf("Enter at most %d addresses or ranges (there are %d).", addrlist.MaxEntries, len(list))
	}
	return list, ""
}

// formatMessage is a format error as people read it: without the
// package's prefix, starting with a capital and ending with a stop.
func formatMessage(err, prefix error) string {
	msg := strings.TrimPrefix(err.Error(), prefix.Error()+": ")
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") {
		msg += "."
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}

// sameAccess reports whether a and b reach the same with the same
// addresses.
func sameAccess(a, b keystore.Options) bool {
	return a.Permissions.Full() == b.Permissions.Full() && maps.Equal(a.Permissions, b.Permissions) &&
		(a.AllowedIPs == nil) == (b.AllowedIPs == nil) && slices.Equal(a.AllowedIPs, b.AllowedIPs)
}

// accessView is the editor showing f with a row per offered collection,
// then the other collections and the app's routes, and messages errs.
func accessView(f accessForm, offered []string, errs fieldErrors) templates.AccessForm {
	v := templates.AccessForm{
		Custom:         f.Access == accessCustom,
		Search:         len(offered) >= searchFrom,
		Error:          errs[keystore.FieldPermissions],
		Addresses:      f.Addresses,
		AddressesError: errs[keystore.FieldAllowedIPs],
		AddressesMax:   addrlist.MaxEntries,
	}
	row := func(name, id, legend, collection, hint string) templates.PermRow {
		level := f.Levels[name]
		if _, ok := permissions.ParseLevel(level); !ok {
			level = permissions.None.String()
		}
		return templates.PermRow{
			Field: permFieldPrefix + name, ID: id, Legend: legend, Collection: collection, Hint: hint, Level: level,
		}
	}
	for _, name := range offered {
		v.Rows = append(v.Rows, row(name, "c-"+name, name, name, ""))
	}
	v.Rows = append(v.Rows,
		row(permissions.Others, "others", othersLegend, "", ""),
		row(permissions.Routes, "routes", routesLegend, "", routesHint))
	return v
}

// accessFields are the fields of the "Permissions and addresses" form.
var accessFields = formFields{all: []string{"csrf", fieldAccess, fieldAddresses}, access: true}

// accessPage shows what one of the user's keys (any key, for an admin)
// may reach and where from, to change it.
func (p *pages) accessPage(e *core.RequestEvent) error {
	return p.renderAccessPage(e, http.StatusOK, nil, nil)
}

// renderAccessPage renders the page with f (nil: the key as stored) and
// messages errs.
func (p *pages) renderAccessPage(e *core.RequestEvent, status int, f *accessForm, errs fieldErrors) error {
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
	if f == nil {
		form := accessFormOf(keystore.OptionsOf(record), offered)
		f = &form
	}
	account := accountView(user)
	v := templates.AccessView{
		Account: account,
		Key:     p.keyRow(record, time.Now()),
		Form:    accessView(*f, offered, errs),
		Action:  p.paths.Access(record.Id),
		CSRF:    account.CSRF,
	}
	if msg := errs[""]; msg != "" {
		v.Notice = &templates.Notice{Text: msg, Error: true}
	}
	return p.render(e, status, templates.AccessPage(v))
}

// changeAccess saves a key's permissions and addresses, through the
// keystore's record rules like every save. Someone else's key id is "not
// found", exactly like an id that does not exist.
func (p *pages) changeAccess(e *core.RequestEvent) error {
	user := userFrom(e)
	record, owner, err := p.keyFor(user, e.Request.PathValue("id"))
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
	opts := keystore.OptionsOf(record)
	f := readAccessForm(e.Request.PostForm, accessFormOf(opts, offered))
	perms, ips, errs := f.options(offered)
	if errs == nil {
		opts.Permissions, opts.AllowedIPs = perms, ips
		setAccess(record, opts)
		// who changed it, for the key's events
		record.SetRaw(keystore.OriginKey, []keystore.Origin{pageOrigin(e, user, owner, "API keys page (permissions)")})
		if err := p.app.Save(record); err != nil {
			var ok bool
			if errs, ok = p.storeErrors(err); !ok {
				return e.InternalServerError("", err)
			}
		}
	}
	if errs != nil {
		return p.renderAccessPage(e, http.StatusBadRequest, &f, errs)
	}
	p.setFlash(e, flash{Text: fmt.Sprintf("Saved what \u2018%s\u2019 may do: %s. It applies from the key\u2019s next request.",
		record.GetString(keystore.FieldLabel), lowerFirst(humanize.Scope(opts)))})
	return redirect(e, p.paths.Keys)
}

// setAccess writes opts' permissions and addresses on a key record, as the
// keystore stores them (null for full access and for any address).
func setAccess(record *core.Record, opts keystore.Options) {
	record.Set(keystore.FieldPermissions, opts.Permissions)
	record.Set(keystore.FieldAllowedIPs, opts.AllowedIPs.Strings())
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
