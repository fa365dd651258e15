package hooks

import (
	"math"
	"slices"
	"strconv"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// The api_keys collection's REST API: what differs from a plain record
// CRUD. The record rules that hold for every save (label, owner,
// lifecycle fields, the hidden hash, the owner's mail) are the keystore's.

// Messages of the api_keys record hooks.
const (
	msgOwnerIsCaller = "You can only create API keys for yourself."
	msgNotAnOwner    = "Your account cannot own API keys."
	msgOwnerRequired = "Choose the record that will own the key (field \"owner\", and \"owner_collection\" unless it is the first owner collection)."
	msgLabelOnly     = "Only the label and the disabled flag of an API key can be changed; roll the key to change anything else."
)

// changeableFields are the only fields of a key that change after it is
// created; every other field is fixed (roll the key to change it).
var changeableFields = []string{keystore.FieldLabel, keystore.FieldDisabled}

func bindRecordHooks(app core.App, store *keystore.Store) {
	// Issue over REST: the owner is the caller (superusers name one), the
	// secret is generated here and revealed once in this response only.
	app.OnRecordCreateRequest(keystore.Collection).BindFunc(func(e *core.RecordRequestEvent) error {
		owner, collection := e.Record.GetString(keystore.FieldOwner), e.Record.GetString(keystore.FieldOwnerCollection)
		switch {
		case e.HasSuperuserAuth():
			if owner == "" {
				return e.BadRequestError(msgOwnerRequired, nil)
			}
			// The collection by name or id (the first owner collection when
			// not named), stored by id; the keystore's rules check that it
			// may own keys and that the owner exists.
			if c := collectionNamed(e.App, store, collection); c != nil {
				e.Record.Set(keystore.FieldOwnerCollection, c.Id)
			}
		case e.Auth == nil || !store.IsOwnerCollection(e.Auth.Collection()):
			return e.ForbiddenError(msgNotAnOwner, nil)
		case owner != "" && owner != e.Auth.Id,
			collection != "" && collection != e.Auth.Collection().Id && collection != e.Auth.Collection().Name:
			return e.ForbiddenError(msgOwnerIsCaller, nil)
		default:
			e.Record.Set(keystore.FieldOwner, e.Auth.Id)
			e.Record.Set(keystore.FieldOwnerCollection, e.Auth.Collection().Id)
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
}

// collectionNamed returns the collection with the name or id, or the first
// owner collection for "", or nil.
func collectionNamed(app core.App, store *keystore.Store, nameOrID string) *core.Collection {
	if nameOrID == "" {
		if owners := store.OwnerCollections(); len(owners) > 0 {
			return owners[0]
		}
		return nil
	}
	c, _ := app.FindCachedCollectionByNameOrId(nameOrID)
	return c
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
