// Package templates holds the pages as templ components. Exported components
// are whole pages taking a view-model struct; handlers in internal/web build
// the view models, so no component ever sees a database record. templ
// escapes every value; nothing here uses templ.Raw.
package templates

import (
	"context"
	"net/url"
	"strconv"

	"github.com/pbkeys/pbkeys/static"
)

// Site is the product name shown in the header and in every title.
const Site = "pbkeys"

// Paths are the pages' URLs. Every page lives under one prefix (default
// /api-keys); internal/web lays them out (its paths.go), registers its
// routes from them and hands them to the components through the context
// (WithPaths), so no component writes a URL of its own.
type Paths struct {
	Keys      string // the list: the prefix itself
	NewKey    string
	RevokeAll string
	Login     string
	Signup    string
	Logout    string
	Static    string // the assets' directory, ending in "/"

	// KeyAccess is the start of a key's "Permissions and addresses" page:
	// see Access.
	KeyAccess string
}

// Access is the page (GET) and the action (POST) that change what the key
// with id may reach and where from; with id "{id}" it is the route pattern.
func (p Paths) Access(id string) string { return p.KeyAccess + id }

// Revoke is the confirmation page (GET) and the action (POST) that revoke
// the key with id; with id "{id}" it is the route pattern.
func (p Paths) Revoke(id string) string { return p.Keys + "/revoke/" + id }

// Roll is the Roll page (GET) and the action (POST) for the key with id.
func (p Paths) Roll(id string) string { return p.Keys + "/roll/" + id }

// Disable and Enable pause and resume the key with id (POST).
func (p Paths) Disable(id string) string { return p.Keys + "/disable/" + id }

// Enable: see Disable.
func (p Paths) Enable(id string) string { return p.Keys + "/enable/" + id }

type pathsKey struct{}

// WithPaths makes p the paths components link to when rendered with ctx.
func WithPaths(ctx context.Context, p Paths) context.Context {
	return context.WithValue(ctx, pathsKey{}, p)
}

// paths returns the paths WithPaths put in ctx.
func paths(ctx context.Context) Paths {
	p, _ := ctx.Value(pathsKey{}).(Paths)
	return p
}

// Account is the signed-in user as the header shows them.
type Account struct {
	Email string
	CSRF  string // token for the Sign out form
	// Admin is a PocketBase superuser: they manage the keys of every
	// owner, and own none.
	Admin bool
}

// LayoutView is the frame around every page.
type LayoutView struct {
	Title   string   // the page's own part of <title>; " · pbkeys" follows
	Account *Account // nil on the sign-in pages
	Narrow  bool     // a single small form (sign in, sign up)
	Wide    bool     // the keys table
}

// Notice is a one-line message at the top of a page.
type Notice struct {
	Text  string
	Error bool // shown as an alert (role=alert) rather than a status
}

// LoginView is the sign-in page.
type LoginView struct {
	Email      string // as typed, kept after a failure
	Next       string // where to go after signing in (already checked)
	Error      string
	Notice     string
	SignupURL  string // empty when the users collection has no public sign-up
	Disabled   bool   // password sign-in is turned off for users
	RetryAfter int    // seconds, when throttled
}

// SignupView is the sign-up page.
type SignupView struct {
	Email        string
	Next         string
	LoginURL     string            // the sign-in page, returning to Next
	Error        string            // a form-level error
	Fields       map[string]string // field name → message
	PasswordHint string            // e.g. "At least 8 characters."
}

// NewKeyForm is the "New API key" form, in the dialog or on its own page.
// Every value is as the person typed or chose it, so a form with an error
// comes back as they left it.
type NewKeyForm struct {
	Label       string
	Error       string   // inline validation message for the label
	Expiry      []Option // the expiry choices, one selected
	ExpiryDate  string   // the custom date, YYYY-MM-DD
	MinDate     string   // earliest custom date (today, UTC)
	MaxDate     string   // latest custom date
	ExpiryError string
	Access      AccessForm // permissions and allowed addresses
	Rate        string     // requests per minute as typed; blank: no limit
	RateError   string
	LabelMax    int    // characters; 0: no maximum
	RateMax     int    // requests per minute; 0: no maximum
	Notice      string // a form-level error that belongs to no field
	Nonce       string // one-time token: a resubmitted form cannot issue a second key
	CSRF        string

	// For admins, who create keys for others: the owner's collection
	// (one of the owner collections, one selected) and email or id.
	Admin            bool
	OwnerCollections []Option
	Owner            string
	OwnerError       string
}

// AccessForm is the permission editor and the allowed addresses, on the
// New API key, Roll and "Permissions and addresses" forms: full access, or
// a level (none, read, write) per collection a key may be given, for the
// other collections and for the routes the app adds. Values are as the
// person chose or typed them.
type AccessForm struct {
	Custom bool      // "Only what I choose"; false: full access
	Rows   []PermRow // the collections, then the other collections, then the app's routes
	// Search offers a box that filters the rows (with JavaScript), for
	// forms with many collections.
	Search bool
	Error  string // a message about the permissions

	// Deferred: the script fills the form in before showing it (the list's
	// shared Roll dialog, from the Roll link). It is rendered with neither
	// choice made and the addresses disabled, so a form the script did not
	// fill in sends neither, and the roll keeps the old key's.
	Deferred bool

	Addresses      string // as typed: one address or CIDR range per line
	AddressesError string
	AddressesMax   int // how many a key may have
}

// PermRow is one row of the permission editor: a radio group named Field.
type PermRow struct {
	Field      string // the form field: "perm.<name>"
	ID         string // unique within the form, for element ids
	Legend     string // the collection's name, or what the row stands for
	Collection string // the collection's name; "" for the other collections and the routes
	Hint       string // optional: what read and write mean here
	Level      string // "none", "read" or "write": the level chosen
}

// levelChoices are a PermRow's choices, in order; the values are the
// levels' names as internal/permissions writes them.
var levelChoices = []Option{{Value: "none", Text: "None"}, {Value: "read", Text: "Read"}, {Value: "write", Text: "Write"}}

// Option is one choice of a select, a radio group or a set of checkboxes.
type Option struct {
	Value    string
	Text     string
	Hint     string // optional second line
	Selected bool
}

// KeyRow is one key in the list.
type KeyRow struct {
	ID        string
	Label     string
	Masked    string // "<id>.••••••••"
	Created   Time
	LastUsed  Time   // zero Time.ISO means never used
	State     string // "Active", "Expires in 3 days", "Expired", "Disabled"
	StateKind string // active, expiring, expired, disabled: the badge's style
	Expires   Time   // zero Time.ISO means never; Exact is shown on hover
	Scope     string // "Full access", "Write shipments; read orders · from 10.0.0.0/8"
	Rate      string // "600 requests/min"; empty when unlimited
	Disabled  bool
	RevokeURL string
	RollURL   string
	AccessURL string // the key's "Permissions and addresses" page
	// The key's permissions (as REST writes them: JSON, "null" for full
	// access) and allowed addresses (one a line), for the list's shared
	// Roll dialog to start from.
	Permissions string
	Addresses   string
	ReplacedBy  string // id of the key a roll issued in its place: no second roll
	ToggleURL   string // disables an enabled key, enables a disabled one
	New         bool   // just created: highlighted
	// ActivityURL is the key's Activity page: what was done to it, by whom.
	ActivityURL string
	// ExpiresSoon is said in the row itself ("Expires in 3 days") for a
	// key that expires within the week and was not rolled yet; empty
	// otherwise.
	ExpiresSoon string

	// Where the last use came from; empty when unknown.
	LastUsedIP    string
	LastUsedAgent string

	Usage UsageChart // requests per day over the usage window (APIKeysView.UsageDays)

	// For admins: who owns the key (email, or id without one) and the
	// owner's collection.
	Owner           string
	OwnerCollection string
}

// UsageChart is a key's requests per day as a small bar chart, drawn by
// the server as SVG (no script, no inline style) in a ChartWidth ×
// ChartHeight box.
type UsageChart struct {
	Text  string // "132 requests in the last 30 days": what the chart says, in words
	Total string // "132": shown beside the chart
	Bars  []Bar  // one per day, oldest first
}

// Bar is one day of a UsageChart.
type Bar struct {
	X, Y, Width, Height string // in the chart's box
	Title               string // "Nov 30: 12 requests", on hover
	Empty               bool   // no requests that day: a baseline mark
}

// The box a UsageChart is drawn in.
const (
	ChartWidth  = 90
	ChartHeight = 28
)

// ListFilter is the list's filter form, as sent: every field is kept
// as typed.
type ListFilter struct {
	Label  string
	State  string
	States []Option // "" (every state) first, one selected

	// Admins filter by owner: a collection (or all) and an email or id.
	Collection  string
	Collections []Option
	Owner       string
	OwnerError  string

	Active   bool   // some filter is set
	ClearURL string // the list without filters
}

// Pager moves through a list's pages.
type Pager struct {
	Page, Pages int
	Total       int    // keys matching the filter, on every page
	First, Last int    // positions (from 1) of the keys shown
	PrevURL     string // empty on the first page
	NextURL     string // empty on the last page
}

// Time is a moment shown relative ("3 minutes ago") with the exact time on
// hover.
type Time struct {
	ISO      string // RFC 3339, for <time datetime>
	Exact    string // "2025-01-02 15:04:05 UTC"
	Relative string
}

// Reveal is the one-time display of a new key's plaintext.
type Reveal struct {
	Label  string
	Key    string
	Rolled bool   // the key replaces a rolled one
	Note   string // what happened to the old key, after a roll
	Owner  string // for admins: whose key it is
	Return string // the list's URL, where the page goes once the key is shown
}

// RollForm asks how long the old key keeps working when a key is rolled.
type RollForm struct {
	Action string   // empty in the list's shared dialog (set by the script)
	Grace  []Option // one selected
	Error  string
	// Access is what the new key may reach and where from: the old key's,
	// unless changed (in the list's shared dialog the script fills it in
	// from the Roll link).
	Access AccessForm
	Nonce  string // one-time token: a resubmitted form cannot roll twice
	CSRF   string
}

// APIKeysView is the list page: one page of keys.
type APIKeysView struct {
	Account Account
	Keys    []KeyRow
	Notice  *Notice
	NewKey  NewKeyForm
	Roll    RollForm // the shared Roll dialog
	Reveal  *Reveal  // only in the response to a successful create or roll
	Filter  ListFilter
	Pager   Pager
	// Return is this page's URL (with its filter and page), where the
	// rows' forms come back to.
	Return string
	// RevokeAllURL asks to revoke all keys: the user's, or for admins
	// those of the owner the list is filtered to; empty: no such button.
	RevokeAllURL  string
	RevokeAllText string // "Revoke all", "Revoke all of bot@example.com"
	UsageDays     int    // the days the usage charts cover
}

// NewKeyView is the page version of the New API key dialog.
type NewKeyView struct {
	Account Account
	Form    NewKeyForm
	Notice  *Notice
}

// RevokeView asks to confirm revoking one key.
type RevokeView struct {
	Account Account
	Key     KeyRow
}

// RollView asks how to roll one key (the no-JavaScript path; with
// JavaScript the same form is in a dialog).
type RollView struct {
	Account Account
	Key     KeyRow
	Form    RollForm
	Notice  *Notice
}

// AccessView changes what one key may reach and where from.
type AccessView struct {
	Account Account
	Key     KeyRow
	Form    AccessForm
	Action  string // where the form posts
	CSRF    string
	Notice  *Notice
}

// RevokeAllView asks to confirm revoking every key of an owner.
type RevokeAllView struct {
	Account Account
	Count   int
	Owner   string // for admins: whose keys ("service_accounts/bot@example.com")
	// OwnerRef is the owner the admin's form posts (COLLECTION/ID).
	OwnerRef string
	Action   string // where the form posts
}

// ErrorView is a page for a request that cannot be served.
type ErrorView struct {
	Account *Account
	Status  int
	Title   string
	Message string
}

func asset(ctx context.Context, path string) string {
	return paths(ctx).Static + path + "?v=" + static.Version
}

// chartViewBox is the SVG box of a UsageChart.
func chartViewBox() string {
	return "0 0 " + strconv.Itoa(ChartWidth) + " " + strconv.Itoa(ChartHeight)
}

// newKeyURL is the New API key page: for admins looking at one owner's
// keys, for that owner.
func newKeyURL(ctx context.Context, v APIKeysView) string {
	u := paths(ctx).NewKey
	if v.Account.Admin && v.NewKey.Owner != "" {
		for _, o := range v.NewKey.OwnerCollections {
			if o.Selected {
				return u + "?" + url.Values{"collection": {o.Value}, "owner": {v.NewKey.Owner}}.Encode()
			}
		}
	}
	return u
}

// revealReturn is where the page goes once a key is revealed.
func revealReturn(ctx context.Context, r Reveal) string {
	if r.Return != "" {
		return r.Return
	}
	return paths(ctx).Keys
}

// addressesMax is how many addresses a key may have, in digits.
func addressesMax(a AccessForm) string {
	return strconv.Itoa(a.AddressesMax)
}

func revokeQuestion(label string) string {
	return "Revoke \u2018" + label + "\u2019?"
}

func rollQuestion(label string) string {
	return "Roll \u2018" + label + "\u2019?"
}

// ExpiryCustom is the expiry choice that uses the form's date field.
const ExpiryCustom = "custom"

func customExpiry(f NewKeyForm) bool {
	for _, o := range f.Expiry {
		if o.Selected {
			return o.Value == ExpiryCustom
		}
	}
	return false
}

// expiryPrefix and expiryTitle say what the exact time on hover means.
func expiryPrefix(k KeyRow) string {
	if k.StateKind == "expired" {
		return "Expired "
	}
	return "Expires "
}

func expiryTitle(k KeyRow) string {
	return expiryPrefix(k) + k.Expires.Exact
}
