package web

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/templates"
)

// expiryChoices are the New API key form's expiry options. Their values
// are what humanize.ParseExpiry reads, except "custom", which takes the
// form's date field. "never" is the default, as before expiry existed.
var expiryChoices = []templates.Option{
	{Value: "7d", Text: "7 days"},
	{Value: "30d", Text: "30 days"},
	{Value: "90d", Text: "90 days"},
	{Value: "365d", Text: "1 year"},
	{Value: templates.ExpiryCustom, Text: "Custom date…"},
	{Value: "never", Text: "Never"},
}

const defaultExpiry = "never"

// keyForm is what a person filled in on the New API key form, as typed.
type keyForm struct {
	Label      string
	Expiry     string     // one of expiryChoices' values
	ExpiryDate string     // YYYY-MM-DD, used with "custom"
	Access     accessForm // permissions and allowed addresses
	Rate       string

	// Admins name the owner: an owner collection and an email or id.
	OwnerCollection string
	Owner           string
}

// fieldErrors are messages for the person, keyed by the api_keys field
// they belong to; "" is a message for the whole form.
type fieldErrors map[string]string

// keyFormFields are the fields of the New API key form; readKeyForm
// reads them.
var keyFormFields = formFields{
	all:    []string{"csrf", "nonce", "label", "expires", "expires_date", fieldAccess, fieldAddresses, "rate_limit"},
	admin:  []string{keystore.FieldOwnerCollection, keystore.FieldOwner},
	access: true,
}

func readKeyForm(form url.Values) keyForm {
	f := keyForm{
		Label:      form.Get("label"),
		Expiry:     form.Get("expires"),
		ExpiryDate: strings.TrimSpace(form.Get("expires_date")),
		Access:     readAccessForm(form, accessForm{}), // what is not sent: full access, any address
		Rate:       strings.TrimSpace(form.Get("rate_limit")),

		OwnerCollection: form.Get(keystore.FieldOwnerCollection),
		Owner:           strings.TrimSpace(form.Get(keystore.FieldOwner)),
	}
	if f.Expiry == "" {
		f.Expiry = defaultExpiry
	}
	return f
}

// options turns the form into key options, with the permission editor's
// rows for the offered collections. The keystore validates them again when
// saving (collections that exist, an expiry in the future, the rate's
// range): here only what the form itself can get wrong is checked.
func (f keyForm) options(now time.Time, offered []string) (keystore.Options, fieldErrors) {
	opts := keystore.Options{Label: f.Label}
	perms, ips, errs := f.Access.options(offered)
	if errs == nil {
		errs = fieldErrors{}
	}
	opts.Permissions, opts.AllowedIPs = perms, ips

	switch {
	case f.Expiry == templates.ExpiryCustom && f.ExpiryDate == "":
		errs[keystore.FieldExpires] = "Choose the last day the key works, or another expiry."
	case f.Expiry == templates.ExpiryCustom:
		at, err := humanize.ParseExpiry(f.ExpiryDate, now)
		if err != nil {
			errs[keystore.FieldExpires] = err.Error()
		}
		opts.ExpiresAt = at
	case slices.ContainsFunc(expiryChoices, func(o templates.Option) bool { return o.Value == f.Expiry }):
		at, err := humanize.ParseExpiry(f.Expiry, now)
		if err != nil { // cannot happen for the listed choices
			errs[keystore.FieldExpires] = err.Error()
		}
		opts.ExpiresAt = at
	default:
		errs[keystore.FieldExpires] = "Choose when the key expires."
	}

	if f.Rate != "" {
		n, err := strconv.Atoi(f.Rate)
		if err != nil || n < 0 {
			errs[keystore.FieldRateLimit] = "Enter a whole number of requests per minute, or leave it blank for no limit."
		}
		opts.RatePerMinute = n
	}
	if len(errs) > 0 {
		return opts, errs
	}
	return opts, nil
}

// storeErrors turns the keystore's validation errors into messages for
// the form; ok is false for any other error.
func (p *pages) storeErrors(err error) (fieldErrors, bool) {
	var verrs validation.Errors
	if !errors.As(err, &verrs) {
		return nil, false
	}
	errs := fieldErrors{}
	for field, ferr := range verrs {
		code := ""
		var verr validation.Error
		if errors.As(ferr, &verr) {
			code = verr.Code()
		}
		switch field {
		case keystore.FieldLabel:
			errs[field] = labelMessage(code, ferr, keystore.LabelMax(p.app))
		case keystore.FieldRateLimit:
			errs[field] = rateMessage(code, ferr, keystore.RateMax(p.app))
		case keystore.FieldExpires, keystore.FieldPermissions, keystore.FieldAllowedIPs:
			errs[field] = ferr.Error()
		default:
			errs[""] = fmt.Sprintf("The key could not be created (%s: %s).", field, ferr.Error())
		}
	}
	return errs, true
}

func labelMessage(code string, err error, max int) string {
	switch code {
	case "validation_required", "validation_min_text_constraint":
		return "Enter a label for the key."
	case "validation_max_text_constraint":
		return fmt.Sprintf("Use at most %d characters for the label.", max)
	case "validation_invalid_format":
		return "The label cannot contain control characters such as line breaks or tabs."
	}
	return "The label is not valid: " + err.Error()
}

func rateMessage(code string, err error, max int) string {
	switch code {
	case "validation_max_number_constraint":
		return fmt.Sprintf("Use at most %d requests per minute, or leave it blank for no limit.", max)
	case "validation_min_number_constraint", "validation_only_int_constraint", "validation_not_a_number":
		return "Enter a whole number of requests per minute, or leave it blank for no limit."
	}
	return "The rate limit is not valid: " + err.Error()
}

// keyCollections lists, by name, the collections the permission editor
// offers: keystore's ScopableCollections, the same definition its record
// rules check when the key is saved.
func (p *pages) keyCollections() ([]string, error) {
	scopable, err := keystore.ScopableCollections(p.app)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(scopable))
	for i, c := range scopable {
		names[i] = c.Name
	}
	return names, nil
}

// newKeyForm builds the form with values f and messages errs, with a
// permission row per offered collection, and issues it a fresh one-time
// nonce.
func (p *pages) newKeyForm(user *core.Record, csrf string, f keyForm, errs fieldErrors, offered []string) templates.NewKeyForm {
	now := time.Now().UTC()
	v := templates.NewKeyForm{
		Label:       f.Label,
		Error:       errs[keystore.FieldLabel],
		ExpiryDate:  f.ExpiryDate,
		MinDate:     now.Format(time.DateOnly),
		MaxDate:     now.Add(keystore.MaxLifetime - 24*time.Hour).Format(time.DateOnly),
		ExpiryError: errs[keystore.FieldExpires],
		Access:      accessView(f.Access, offered, errs),
		Rate:        f.Rate,
		RateError:   errs[keystore.FieldRateLimit],
		LabelMax:    keystore.LabelMax(p.app),
		RateMax:     keystore.RateMax(p.app),
		Notice:      errs[""],
		Nonce:       p.nonces.issue(principal(user), now),
		CSRF:        csrf,
		Admin:       user.IsSuperuser(),
		Owner:       f.Owner,
		OwnerError:  errs[keystore.FieldOwner],
	}
	if v.Admin {
		for _, c := range p.store.OwnerCollections() {
			v.OwnerCollections = append(v.OwnerCollections, templates.Option{
				Value: c.Name, Text: c.Name, Selected: c.Name == f.OwnerCollection,
			})
		}
	}
	expiry := f.Expiry
	if expiry == "" {
		expiry = defaultExpiry
	}
	for _, o := range expiryChoices {
		o.Selected = o.Value == expiry
		v.Expiry = append(v.Expiry, o)
	}
	return v
}
