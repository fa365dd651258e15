package hooks

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Messages of the api_keys record hooks.
const (
	msgOwnerIsCaller = "You can only create API keys for yourself."
	msgOwnerRequired = "Choose the user who will own the key (field \"user\")."
	msgLabelOnly     = "Only the label and the disabled flag of an API key can be changed; roll the key to change anything else."
)

// changeableFields are the only fields of a key that change after it is
// created; every other field is fixed (roll the key to change it).
var changeableFields = []string{keystore.FieldLabel, keystore.FieldDisabled}

// maxCollections bounds a key's collection allow-list.
const maxCollections = 50

// validateLifecycle checks the expiry and the collection allow-list.
// Errors are PocketBase validation errors, keyed by field.
func validateLifecycle(app core.App, record *core.Record) error {
	errs := validation.Errors{}
	if record.IsNew() {
		exp := record.GetDateTime(keystore.FieldExpires)
		switch {
		case exp.IsZero():
		case !exp.Time().After(time.Now()):
			errs[keystore.FieldExpires] = validation.NewError("validation_expires_in_past", "The expiry must be in the future.")
		case exp.Time().After(time.Now().Add(apikey.MaxLifetime)):
			errs[keystore.FieldExpires] = validation.NewError("validation_expires_too_far", "The expiry can be at most 10 years ahead.")
		}
	}
	var names []string
	if raw := record.GetString(keystore.FieldCollections); raw != "" && raw != "null" {
		if err := record.UnmarshalJSONField(keystore.FieldCollections, &names); err != nil {
			errs[keystore.FieldCollections] = validation.NewError("validation_collections_format", `Collections must be a list of collection names, e.g. ["notes","tasks"].`)
		}
	}
	if len(names) > maxCollections {
		errs[keystore.FieldCollections] = validation.NewError("validation_collections_too_many", fmt.Sprintf("A key can be limited to at most %d collections.", maxCollections))
	}
	seen := map[string]bool{}
	for _, name := range names {
		c, err := app.FindCachedCollectionByNameOrId(name)
		switch {
		case err != nil || c.Name != name:
			errs[keystore.FieldCollections] = validation.NewError("validation_collections_unknown", fmt.Sprintf("There is no collection named %q.", name))
		case c.System || c.Name == keystore.Collection:
			errs[keystore.FieldCollections] = validation.NewError("validation_collections_system", fmt.Sprintf("API keys cannot be scoped to the %q collection.", name))
		case seen[name]:
			errs[keystore.FieldCollections] = validation.NewError("validation_collections_duplicate", fmt.Sprintf("%q is listed twice.", name))
		}
		seen[name] = true
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func bindRecordHooks(app core.App, store *keystore.Store) {
	// Issue over REST: the owner is the caller (superusers name one), the
	// secret is generated here and revealed once in this response only.
	app.OnRecordCreateRequest(keystore.Collection).BindFunc(func(e *core.RecordRequestEvent) error {
		requested := e.Record.GetString(keystore.FieldUser)
		switch {
		case e.HasSuperuserAuth():
			if requested == "" {
				return e.BadRequestError(msgOwnerRequired, nil)
			}
		case e.Auth == nil || e.Auth.Collection().Name != keystore.OwnerCollection:
			return e.ForbiddenError(msgOwnerIsCaller, nil) // the createRule already refuses these
		case requested != "" && requested != e.Auth.Id:
			return e.ForbiddenError(msgOwnerIsCaller, nil)
		default:
			e.Record.Set(keystore.FieldUser, e.Auth.Id)
		}
		// Any client-sent key_hash (superusers can send hidden fields) is
		// overwritten here: only the hash of a secret we generated is stored.
		if errs := optionTypeErrors(e.RequestEvent, e.Record); errs != nil {
			return e.BadRequestError("Failed to create record.", errs)
		}
		key, err := store.Prepare(e.Record, keystore.Origin{Via: "REST API", IP: e.RealIP(), UserAgent: e.Request.UserAgent()})
		if err != nil {
			return e.InternalServerError("", err)
		}
		e.Record.WithCustomData(true)
		e.Record.Set(keystore.RevealField, key.String())
		return e.Next()
	})

	// The owner hears about a new key once it is committed: inside a
	// transaction (a batch, a roll) these run after the commit, and a
	// rollback reaches the error hook instead, so nobody is told about a
	// key that does not exist.
	app.OnRecordAfterCreateSuccess(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		store.Created(e.Record)
		return e.Next()
	})
	app.OnRecordAfterCreateError(keystore.Collection).BindFunc(func(e *core.RecordErrorEvent) error {
		store.Abandoned(e.Record)
		return e.Next()
	})

	// Keys are relabelled and paused/resumed, nothing else: the owner, the
	// hash, the usage, the expiry, the scopes, the roll's replacement and
	// any field added later are fixed at creation (roll a key to change
	// them), for everyone, superusers included.
	app.OnRecordUpdateRequest(keystore.Collection).BindFunc(func(e *core.RecordRequestEvent) error {
		if errs := optionTypeErrors(e.RequestEvent, e.Record); errs != nil {
			return e.BadRequestError("Failed to update record.", errs)
		}
		original := e.Record.Original()
		for _, f := range e.Collection.Fields {
			name := f.GetName()
			if slices.Contains(changeableFields, name) || f.Type() == core.FieldTypeAutodate {
				continue // autodate fields are set by PocketBase, never by the client
			}
			if e.Record.GetString(name) != original.GetString(name) {
				return e.BadRequestError(msgLabelOnly, nil)
			}
		}
		return e.Next()
	})

	// On every save (REST, pages, CLI), before PocketBase's validators:
	// trim the label, so "  " is empty and "CI " and "CI" are the same.
	// After them: the lifecycle fields make sense.
	app.OnRecordValidate(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		e.Record.Set(keystore.FieldLabel, strings.TrimSpace(e.Record.GetString(keystore.FieldLabel)))
		if err := e.Next(); err != nil {
			return err
		}
		return validateLifecycle(e.App, e.Record)
	})

	// The hash is hidden from everyone, superusers included: PocketBase
	// un-hides hidden fields for superusers inside the enrich chain, so it
	// is hidden again after e.Next(). It covers responses, expands and
	// realtime events.
	app.OnRecordEnrich(keystore.Collection).BindFunc(func(e *core.RecordEnrichEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		e.Record.Hide(keystore.FieldKeyHash)
		return nil
	})

	// Audit log: who got or lost a key. Never the secret or its hash.
	app.OnRecordAfterCreateSuccess(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		e.App.Logger().Info("API key created",
			"keyId", e.Record.Id,
			"ownerId", e.Record.GetString(keystore.FieldUser),
			"label", e.Record.GetString(keystore.FieldLabel),
		)
		return e.Next()
	})
	app.OnRecordAfterDeleteSuccess(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		e.App.Logger().Info("API key deleted",
			"keyId", e.Record.Id,
			"ownerId", e.Record.GetString(keystore.FieldUser),
			"label", e.Record.GetString(keystore.FieldLabel),
		)
		return e.Next()
	})
}

// optionTypeErrors reports lifecycle values in the request body that
// PocketBase would silently turn into their zero value — "expires":"tomorrow"
// would otherwise create a key that never expires, "rate_limit":"abc" one
// without a limit.
func optionTypeErrors(e *core.RequestEvent, record *core.Record) validation.Errors {
	// The body as sent: RequestInfo's copy is already cast to the fields'
	// types, where "abc" has become 0. PocketBase's body is re-readable.
	body := map[string]any{}
	if err := e.BindBody(&body); err != nil {
		return nil // PocketBase already refused an unreadable body
	}
	errs := validation.Errors{}
	if v, ok := body[keystore.FieldExpires]; ok && v != nil && v != "" && record.GetDateTime(keystore.FieldExpires).IsZero() {
		errs[keystore.FieldExpires] = validation.NewError("validation_expires_format", `The expiry must be a date and time such as "2027-01-31 00:00:00.000Z".`)
	}
	if v, ok := body[keystore.FieldRateLimit]; ok && !isWholeNumber(v) {
		errs[keystore.FieldRateLimit] = validation.NewError("validation_rate_limit_format", "The rate limit must be a whole number of requests per minute (0 for no limit).")
	}
	for _, name := range []string{keystore.FieldReadOnly, keystore.FieldDisabled} {
		if v, ok := body[name]; ok && !isBool(v) {
			errs[name] = validation.NewError("validation_bool_format", "Must be true or false.")
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// isWholeNumber accepts JSON numbers and form strings holding an integer.
func isWholeNumber(v any) bool {
	switch n := v.(type) {
	case nil:
		return true
	case float64:
		return n == math.Trunc(n)
	case string:
		if n == "" {
			return true
		}
		_, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		return err == nil
	}
	return false
}

// isBool accepts JSON booleans and the strings PocketBase reads as booleans
// from multipart forms ("true", "false", "1", "0"...).
func isBool(v any) bool {
	switch b := v.(type) {
	case nil, bool:
		return true
	case string:
		_, err := strconv.ParseBool(b)
		return b == "" || err == nil
	}
	return false
}
