package web

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keylist"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
	"github.com/pbkeys/pbkeys/templates"
)

// The key list: one page of keys (keylist.DefaultPerPage), filtered by
// label and state — and, for admins, by owner — in the database, so a
// person with thousands of keys gets a page as fast as with ten. Each row
// shows where the key was last used from and its requests over the last
// usage.Window days as a small chart.

// listFilter is what the list's query string asks for.
type listFilter struct {
	Label      string // substring of the label
	State      string // a keylist.State, or "" for all
	Collection string // admins: an owner collection's name, or "" for all
	Owner      string // admins: an owner's email or id (or COLLECTION/EMAIL_OR_ID)
	Page       int
}

// Query parameters of the list.
const (
	paramLabel      = "q"
	paramState      = "state"
	paramCollection = "collection"
	paramOwner      = "owner"
	paramPage       = "page"
)

// maxFilterLength bounds what a filter field keeps: longer than any label.
const maxFilterLength = 200

func readFilter(q url.Values) listFilter {
	cut := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) > maxFilterLength {
			s = s[:maxFilterLength]
		}
		return s
	}
	f := listFilter{
		Label:      cut(q.Get(paramLabel)),
		State:      q.Get(paramState),
		Collection: cut(q.Get(paramCollection)),
		Owner:      cut(q.Get(paramOwner)),
	}
	if _, ok := keylist.ParseState(f.State); !ok {
		f.State = ""
	}
	f.Page, _ = strconv.Atoi(q.Get(paramPage))
	return f
}

// active reports whether any filter is set.
func (f listFilter) active() bool {
	return f.Label != "" || f.State != "" || f.Collection != "" || f.Owner != ""
}

// url is the list at base with this filter, on page (1 is left out).
func (f listFilter) url(base string, page int) string {
	q := url.Values{}
	for name, v := range map[string]string{paramLabel: f.Label, paramState: f.State, paramCollection: f.Collection, paramOwner: f.Owner} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if page > 1 {
		q.Set(paramPage, strconv.Itoa(page))
	}
	if len(q) == 0 {
		return base
	}
	return base + "?" + q.Encode()
}

// ownerFilter is the owner an admin's filter names: nil when it names
// none, or with a message for the person when it names no record.
func (p *pages) ownerFilter(f listFilter) (owner *core.Record, collection *core.Collection, msg string, err error) {
	if f.Collection != "" {
		c, cerr := p.store.Collection(f.Collection)
		if cerr != nil || !p.store.IsOwnerCollection(c) {
			return nil, nil, fmt.Sprintf("%q is not a collection whose records own keys.", f.Collection), nil
		}
		collection = c
	}
	if f.Owner == "" {
		return nil, collection, "", nil
	}
	if collection != nil {
		owner, err = p.store.FindOwnerIn(collection, f.Owner)
	} else {
		owner, err = p.store.FindOwnerRef(f.Owner)
	}
	var notOwners *keystore.NotOwnerCollectionError
	switch {
	case errors.As(err, &notOwners):
		return nil, collection, fmt.Sprintf("%q is not a collection whose records own keys.", notOwners.Name), nil
	case errors.Is(err, sql.ErrNoRows):
		return nil, collection, noOwnerMessage(p.store, f.Owner, collection), nil
	case err != nil:
		return nil, nil, "", err
	}
	return owner, collection, "", nil
}

// noOwnerMessage says that no record is named emailOrID (in collection, or
// in any owner collection).
func noOwnerMessage(store *keystore.Store, emailOrID string, collection *core.Collection) string {
	where := "any collection whose records own keys"
	if collection != nil {
		where = "the " + collection.Name + " collection"
	} else if name, rest, ok := strings.Cut(emailOrID, "/"); ok {
		where, emailOrID = "the "+name+" collection", rest
	}
	what := "id"
	if strings.Contains(emailOrID, "@") {
		what = "email"
	}
	return fmt.Sprintf("There is no record with the %s \u201c%s\u201d in %s.", what, emailOrID, where)
}

// keysPage reads the page of keys f asks user for, with the owners (for
// admins) and usage of the keys on it.
type keysPage struct {
	keylist.Result
	owner      *core.Record            // admins: the owner filtered on
	ownerError string                  // admins: why the owner filter found nobody
	owners     map[string]*core.Record // admins: the keys' owners, by collection id + "/" + id
	usage      map[string][]usage.Day
}

func (p *pages) readKeysPage(user *core.Record, f listFilter, now time.Time) (keysPage, error) {
	q := keylist.Query{Owner: user, Label: f.Label, Page: f.Page}
	q.State, _ = keylist.ParseState(f.State)
	var out keysPage
	if user.IsSuperuser() {
		owner, collection, msg, err := p.ownerFilter(f)
		if err != nil {
			return keysPage{}, err
		}
		if msg != "" {
			out.ownerError = msg
			out.Result = keylist.Result{Page: 1, Pages: 1, PerPage: keylist.DefaultPerPage}
			return out, nil
		}
		q.Owner, q.Collection, out.owner = owner, collection, owner
	}
	page, err := keylist.Find(p.app, q, now)
	if err != nil {
		return keysPage{}, err
	}
	out.Result = page
	ids := make([]string, len(page.Keys))
	for i, r := range page.Keys {
		ids[i] = r.Id
	}
	if out.usage, err = usage.Daily(p.app, ids, now); err != nil {
		return keysPage{}, err
	}
	if user.IsSuperuser() {
		if out.owners, err = p.ownersOf(page.Keys); err != nil {
			return keysPage{}, err
		}
	}
	return out, nil
}

// ownersOf reads the owners of keys: one query per owner collection.
func (p *pages) ownersOf(keys []*core.Record) (map[string]*core.Record, error) {
	byCollection := map[string][]string{}
	for _, k := range keys {
		c := k.GetString(keystore.FieldOwnerCollection)
		byCollection[c] = append(byCollection[c], k.GetString(keystore.FieldOwner))
	}
	out := map[string]*core.Record{}
	for c, ids := range byCollection {
		records, err := p.app.FindRecordsByIds(c, ids)
		if err != nil {
			continue // a collection that is gone: its keys show the owner's id
		}
		for _, r := range records {
			out[c+"/"+r.Id] = r
		}
	}
	return out, nil
}

// filterView is the filter form for f.
func (p *pages) filterView(user *core.Record, f listFilter, ownerError string) templates.ListFilter {
	v := templates.ListFilter{
		Label:      f.Label,
		State:      f.State,
		Owner:      f.Owner,
		Collection: f.Collection,
		OwnerError: ownerError,
		Active:     f.active(),
		ClearURL:   p.paths.Keys,
	}
	v.States = append(v.States, templates.Option{Value: "", Text: "Any state", Selected: f.State == ""})
	for _, s := range keylist.States {
		v.States = append(v.States, templates.Option{Value: string(s), Text: humanize.StateName(s), Selected: f.State == string(s)})
	}
	if user.IsSuperuser() {
		v.Collections = append(v.Collections, templates.Option{Value: "", Text: "All owners", Selected: f.Collection == ""})
		for _, c := range p.store.OwnerCollections() {
			v.Collections = append(v.Collections, templates.Option{Value: c.Name, Text: c.Name, Selected: f.Collection == c.Name})
		}
	}
	return v
}

// pagerView moves through the pages of page, keeping f.
func (p *pages) pagerView(page keylist.Result, f listFilter) templates.Pager {
	v := templates.Pager{Page: page.Page, Pages: page.Pages, Total: page.Total}
	if page.Total > 0 {
		v.First = (page.Page-1)*page.PerPage + 1
		v.Last = v.First + len(page.Keys) - 1
	}
	if page.Page > 1 {
		v.PrevURL = f.url(p.paths.Keys, page.Page-1)
	}
	if page.Page < page.Pages {
		v.NextURL = f.url(p.paths.Keys, page.Page+1)
	}
	return v
}

// usageChart draws a key's daily requests as bars scaled to its busiest
// day; a day without requests is a baseline mark, so every day has a slot.
func usageChart(days []usage.Day) templates.UsageChart {
	total := usage.Total(days)
	c := templates.UsageChart{
		Text:  fmt.Sprintf("%s in the last %d days", requests(total), len(days)),
		Total: humanize.Count(total),
	}
	var peak int64
	for _, d := range days {
		peak = max(peak, d.Requests)
	}
	if len(days) == 0 {
		return c
	}
	slot := float64(templates.ChartWidth) / float64(len(days))
	width := slot * 2 / 3
	for i, d := range days {
		b := templates.Bar{
			X:     svgNumber(float64(i) * slot),
			Width: svgNumber(width),
			Title: dayTitle(d),
		}
		h := 1.0 // the baseline of a day without requests
		if d.Requests > 0 {
			h = max(2, float64(templates.ChartHeight)*float64(d.Requests)/float64(peak))
		} else {
			b.Empty = true
		}
		b.Height = svgNumber(h)
		b.Y = svgNumber(float64(templates.ChartHeight) - h)
		c.Bars = append(c.Bars, b)
	}
	return c
}

func svgNumber(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }

// dayTitle is "Nov 30: 12 requests".
func dayTitle(d usage.Day) string {
	day := d.Day
	if t, err := time.Parse(time.DateOnly, d.Day); err == nil {
		day = t.Format("Jan 2")
	}
	return day + ": " + requests(d.Requests)
}

// requests is "1 request", "1,234 requests".
func requests(n int64) string {
	if n == 1 {
		return "1 request"
	}
	return humanize.Count(n) + " requests"
}

// ownerName is how the pages name an owner: its email, or its id.
func ownerName(owner *core.Record) string {
	if email := owner.Email(); email != "" {
		return email
	}
	return owner.Id
}
