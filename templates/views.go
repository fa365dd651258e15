// Package templates holds the pages as templ components. Exported components
// are whole pages taking a view-model struct; handlers in internal/web build
// the view models, so no component ever sees a database record. templ
// escapes every value; nothing here uses templ.Raw.
package templates

import "pbkeys/static"

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
type NewKeyForm struct {
	Label string // as typed
	Error string // inline validation message for the label
	Nonce string // one-time token: a resubmitted form cannot issue a second key
	CSRF  string
}

// KeyRow is one key in the list.
type KeyRow struct {
	ID        string
	Label     string
	Masked    string // "<id>.••••••••"
	Created   Time
	LastUsed  Time // zero Time.ISO means never used
	RevokeURL string
	New       bool // just created: highlighted
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
	Label string
	Key   string
}

// APIKeysView is the list page.
type APIKeysView struct {
	Account Account
	Keys    []KeyRow
	Notice  *Notice
	NewKey  NewKeyForm
	Reveal  *Reveal // only in the response to a successful create
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
