package hooks

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/events"
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
	msgChangeable    = "Only the label, the disabled flag, the permissions and the allowed addresses of an API key can be changed; roll the key to change anything else."
	msgUnsettable    = "An API key is created with its label, options and owner only."
)

// clientQueryParams are PocketBase's own query parameters of a record
// create or update (the response's expand and fields). PocketBase reads a
// form body together with the URL query, so with a multipart or urlencoded
// body they reach the submitted fields too; sent in the query, they are
// what they are everywhere: how the answer is shaped.
var clientQueryParams = []string{"expand", "fields"}

func bindRecordHooks(app core.App, store *keystore.Store) {
	// Issue over REST: the owner is the caller (superusers name one), the
	// secret is generated here and revealed once in this response only.
	app.OnRecordCreateRequest(keystore.Collection).BindFunc(func(e *core.RecordRequestEvent) error {
		body, err := submittedFields(e.RequestEvent)
		if err != nil {
			return e.BadRequestError("Failed to read the submitted data.", err)
		}
		if err := refuseFields(e.Collection, body, slices.Concat(keystore.OptionFields, keystore.OwnerFields), msgUnsettable); err != nil {
			return err
		}
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
		if errs := optionTypeErrors(body, e.Record); errs != nil {
			return e.BadRequestError("Failed to create record.", errs)
		}
		key, err := store.Prepare(e.Record, restOrigin(e))
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
		body, err := submittedFields(e.RequestEvent)
		if err != nil {
			return e.BadRequestError("Failed to read the submitted data.", err)
		}
		if err := refuseFields(e.Collection, body, keystore.ChangeableFields, msgChangeable); err != nil {
			return err
		}
		if errs := optionTypeErrors(body, e.Record); errs != nil {
			return e.BadRequestError("Failed to update record.", errs)
		}
		// And whatever else set a field on the way (a spelling PocketBase
		// reads that the body check did not foresee): only the changeable
		// fields may differ from the stored key.
		original := e.Record.Original()
		for _, f := range e.Collection.Fields {
			name := f.GetName()
			if slices.Contains(keystore.ChangeableFields, name) || f.Type() == core.FieldTypeAutodate {
				continue // autodate fields are set by PocketBase, never by the client
			}
			if e.Record.GetString(name) != original.GetString(name) {
				return e.BadRequestError(msgChangeable, nil)
			}
		}
		e.Record.SetRaw(keystore.OriginKey, []keystore.Origin{restOrigin(e)})
		return e.Next()
	})

	// Revoke over REST: only who, for the key's events.
	app.OnRecordDeleteRequest(keystore.Collection).BindFunc(func(e *core.RecordRequestEvent) error {
		e.Record.SetRaw(keystore.OriginKey, []keystore.Origin{restOrigin(e)})
		return e.Next()
	})
}

// restOrigin is who changes a key over REST — the dashboard and batch
// sub-requests included, which go through these record request hooks
// too — and from where, for the owner's mail and the key's events.
func restOrigin(e *core.RecordRequestEvent) keystore.Origin {
	return events.RequestOrigin(e.RequestEvent, e.Auth,
		e.Record.GetString(keystore.FieldOwner), e.Record.GetString(keystore.FieldOwnerCollection), "REST API")
}

// submittedFields returns the fields of a create or update as PocketBase
// reads them from the request — a JSON body, or a form (multipart with its
// @jsonPayload, or urlencoded) together with the URL query — before it
// resolves "+"/"-" modifiers or drops hidden fields, with the names of
// uploaded files. The values are as sent: RequestInfo's copy is already
// cast to the fields' types, where "abc" has become 0. PocketBase's body is
// re-readable. PocketBase's own query parameters (clientQueryParams) are
// left out when they come in the URL.
func submittedFields(e *core.RequestEvent) (map[string]any, error) {
	body := map[string]any{}
	if err := e.BindBody(&body); err != nil {
		return nil, err
	}
	query := e.Request.URL.Query()
	for _, name := range clientQueryParams {
		if query.Has(name) {
			delete(body, name)
		}
	}
	if form := e.Request.MultipartForm; form != nil {
		for name := range form.File {
			body[name] = form.File[name]
		}
	}
	return body, nil
}

// refuseFields answers 400 naming every submitted field not in allowed:
// names pbkeys does not know (a typo such as "read_onyl"), options fixed
// when the key was created, and fields the server manages (id, key_hash,
// replaced_by, last_used...). Ignoring them would turn a mistake into a
// key with more access than meant. message heads the answer.
func refuseFields(keys *core.Collection, body map[string]any, allowed []string, message string) error {
	errs := validation.Errors{}
	for name := range body {
		switch {
		case slices.Contains(allowed, name):
			continue
		case slices.Contains(keystore.OptionFields, name):
			errs[name] = validation.NewError("validation_fixed_after_create",
				fmt.Sprintf("%q is fixed when the key is created; roll the key to change it.", name))
		case name == core.FieldNameId || keys.Fields.GetByName(name) != nil:
			errs[name] = validation.NewError("validation_server_managed",
				fmt.Sprintf("%q is set by the server, not by clients.", name))
		default:
			errs[name] = validation.NewError("validation_unknown_field",
				fmt.Sprintf("%q is not a field of API keys.", name))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	names := make([]string, 0, len(errs))
	for name := range errs {
		names = append(names, strconv.Quote(name))
	}
	slices.Sort(names)
	return apis.NewBadRequestError(fmt.Sprintf("%s Refused: %s (allowed: %s).",
		message, strings.Join(names, ", "), strings.Join(allowed, ", ")), errs)
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

// optionTypeErrors reports lifecycle values in the submitted body that
// PocketBase would silently turn into their zero value — "expires":"tomorrow"
// would otherwise create a key that never expires, "rate_limit":"abc" one
// without a limit.
func optionTypeErrors(body map[string]any, record *core.Record) validation.Errors {
	errs := validation.Errors{}
	if v, ok := body[keystore.FieldExpires]; ok && v != nil && v != "" && record.GetDateTime(keystore.FieldExpires).IsZero() {
		errs[keystore.FieldExpires] = validation.NewError("validation_expires_format", `The expiry must be a date and time such as "2027-01-31 00:00:00.000Z".`)
	}
	if v, ok := body[keystore.FieldRateLimit]; ok && !isWholeNumber(v) {
		errs[keystore.FieldRateLimit] = validation.NewError("validation_rate_limit_format", "The rate limit must be a whole number of requests per minute (0 for no limit).")
	}
	for _, name := range []string{keystore.FieldDisabled} {
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
