// Package keylist pages through API keys in SQL, newest first, filtered by
// owner, label and state, for the pages' lists: one count and one page of
// rows, however many keys there are.
package keylist

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Query selects keys for a paged list, newest first.
type Query struct {
	// Owner limits the list to one owner's keys; nil lists every owner's
	// (for superusers), or, with Collection set, every owner's in it.
	Owner      *core.Record
	Collection *core.Collection

	// Label keeps keys whose label contains it, in any case ("" : all).
	Label string

	// State keeps keys in that state at the query's time ("": all).
	State State

	// Page is the page wanted, from 1; PerPage how many keys a page has.
	Page, PerPage int
}

// Result is one page of a Query's keys.
type Result struct {
	Keys    []*core.Record
	Total   int // keys matching the query, on every page
	Page    int // the page returned: the one asked for, within 1..Pages
	PerPage int
	Pages   int // at least 1
}

// DefaultPerPage is how many keys a page of a list holds.
const DefaultPerPage = 50

// Find returns the page of q's keys at now. The filter and the paging
// are done by the database (one count and one page of rows), so a list
// of thousands of keys costs what a page costs.
func Find(app core.App, q Query, now time.Time) (Result, error) {
	if q.PerPage <= 0 {
		q.PerPage = DefaultPerPage
	}
	where, err := q.where(now)
	if err != nil {
		return Result{}, err
	}
	total, err := app.CountRecords(keystore.Collection, where...)
	if err != nil {
		return Result{}, err
	}
	page := Result{Total: int(total), PerPage: q.PerPage, Pages: max(1, (int(total)+q.PerPage-1)/q.PerPage)}
	page.Page = min(max(q.Page, 1), page.Pages)

	query := app.RecordQuery(keystore.Collection).
		OrderBy(keystore.FieldCreated+" DESC", "id DESC").
		Limit(int64(q.PerPage)).
		Offset(int64((page.Page - 1) * q.PerPage))
	for _, w := range where {
		query.AndWhere(w)
	}
	if err := query.All(&page.Keys); err != nil {
		return Result{}, err
	}
	return page, nil
}

// where is the query's filter in SQL.
func (q Query) where(now time.Time) ([]dbx.Expression, error) {
	var where []dbx.Expression
	switch {
	case q.Owner != nil:
		where = append(where, dbx.HashExp{keystore.FieldOwner: q.Owner.Id, keystore.FieldOwnerCollection: q.Owner.Collection().Id})
	case q.Collection != nil:
		where = append(where, dbx.HashExp{keystore.FieldOwnerCollection: q.Collection.Id})
	}
	if label := strings.TrimSpace(q.Label); label != "" {
		// SQLite's LIKE ignores ASCII case; % and _ in the label are literal.
		escaped := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(label)
		where = append(where, dbx.NewExp("[["+keystore.FieldLabel+"]] LIKE {:label} ESCAPE '\\'", dbx.Params{"label": "%" + escaped + "%"}))
	}
	if q.State != "" {
		exp, err := stateExp(q.State, now)
		if err != nil {
			return nil, err
		}
		where = append(where, exp)
	}
	return where, nil
}

// stateExp is StateOf in SQL. Dates are stored as text in one layout,
// so they compare as strings.
func stateExp(state State, now time.Time) (dbx.Expression, error) {
	at := func(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }
	params := dbx.Params{"now": at(now), "soon": at(now.Add(ExpiringSoon))}
	const (
		enabled = "[[" + keystore.FieldDisabled + "]] = FALSE"
		never   = "([[" + keystore.FieldExpires + "]] = '' OR [[" + keystore.FieldExpires + "]] IS NULL)"
		expires = "[[" + keystore.FieldExpires + "]] != ''"
	)
	switch state {
	case StateDisabled:
		return dbx.NewExp("[[" + keystore.FieldDisabled + "]] = TRUE"), nil
	case StateActive:
		return dbx.NewExp(enabled+" AND ("+never+" OR [["+keystore.FieldExpires+"]] > {:soon})", params), nil
	case StateExpiring:
		return dbx.NewExp(enabled+" AND "+expires+" AND [["+keystore.FieldExpires+"]] > {:now} AND [["+keystore.FieldExpires+"]] <= {:soon}", params), nil
	case StateExpired:
		return dbx.NewExp(enabled+" AND "+expires+" AND [["+keystore.FieldExpires+"]] <= {:now}", params), nil
	}
	return nil, fmt.Errorf("keylist: unknown key state %q", state)
}

// State is where a key is in its life, as lists show and filter it.
type State string

// The states of a key. A disabled key is disabled whatever its expiry.
const (
	StateActive   State = "active"
	StateExpiring State = "expiring" // active, and expires within ExpiringSoon
	StateExpired  State = "expired"
	StateDisabled State = "disabled"
)

// States are the states in the order lists offer them.
var States = []State{StateActive, StateExpiring, StateExpired, StateDisabled}

// ExpiringSoon is how close to its expiry a key counts as expiring.
const ExpiringSoon = 7 * 24 * time.Hour

// StateOf returns the state at now of a key with options o.
func StateOf(o keystore.Options, now time.Time) State {
	switch {
	case o.Disabled:
		return StateDisabled
	case o.ExpiresAt.IsZero():
		return StateActive
	case o.Expired(now):
		return StateExpired
	case o.ExpiresAt.Sub(now) <= ExpiringSoon:
		return StateExpiring
	}
	return StateActive
}

// ParseState returns the state named s ("" for none).
func ParseState(s string) (State, bool) {
	if s == "" {
		return "", true
	}
	if i := slices.Index(States, State(s)); i >= 0 {
		return States[i], true
	}
	return "", false
}
