// Package templates holds the pages as templ components. Exported components
// are whole pages taking a view-model struct; handlers in internal/web build
// the view models, so no component ever sees a database record. templ
// escapes every value; nothing here uses templ.Raw.
package templates

import "github.com/pbkeys/pbkeys/static"

// Site is the product name shown in the header and in every title.
const Site = "pbkeys"

// Account is the signed-in user as the header shows them.
type Account struct {
	Email string
	CSRF  string // token for the Sign out form
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
	ReadOnly    bool
	// Collections the key may be limited to; none checked means all.
	Collections      []Option
	CollectionsError string
	Rate             string // requests per minute as typed; blank: no limit
	RateError        string
	Notice           string // a form-level error that belongs to no field
	Nonce            string // one-time token: a resubmitted form cannot issue a second key
	CSRF             string
}

// Option is one choice of a select, a radio group or a set of checkboxes.
type Option struct {
	Value    string
	Text     string
	Hint     string // optional second line
	Selected bool
}

// KeyRow is one key in the list.
type KeyRow struct {
	ID         string
	Label      string
	Masked     string // "<id>.••••••••"
	Created    Time
	LastUsed   Time   // zero Time.ISO means never used
	State      string // "Active", "Expires in 3 days", "Expired", "Disabled"
	StateKind  string // active, expiring, expired, disabled: the badge's style
	Expires    Time   // zero Time.ISO means never; Exact is shown on hover
	Scope      string // "Full access", "Read-only · notes, tasks"
	Rate       string // "600 requests/min"; empty when unlimited
	Disabled   bool
	RevokeURL  string
	RollURL    string
	ReplacedBy string // id of the key a roll issued in its place: no second roll
	ToggleURL  string // disables an enabled key, enables a disabled one
	New        bool   // just created: highlighted
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
}

// RollForm asks how long the old key keeps working when a key is rolled.
type RollForm struct {
	Action string   // empty in the list's shared dialog (set by the script)
	Grace  []Option // one selected
	Error  string
	Nonce  string // one-time token: a resubmitted form cannot roll twice
	CSRF   string
}

// APIKeysView is the list page.
type APIKeysView struct {
	Account Account
	Keys    []KeyRow
	Notice  *Notice
	NewKey  NewKeyForm
	Roll    RollForm // the shared Roll dialog
	Reveal  *Reveal  // only in the response to a successful create or roll
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

// RevokeAllView asks to confirm revoking every key.
type RevokeAllView struct {
	Account Account
	Count   int
}

// ErrorView is a page for a request that cannot be served.
type ErrorView struct {
	Account *Account
	Status  int
	Title   string
	Message string
}

func asset(path string) string {
	return "/static/" + path + "?v=" + static.Version
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
