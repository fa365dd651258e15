package keystore

import (
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/permissions"
	"github.com/pbkeys/pbkeys/internal/writetx"
)

// The api_keys record rules. They are bound to the app by Register, so they
// hold for every save of a key, whoever makes it: the REST API, the pages,
// the CLI, a migration or the dashboard.

// MaxLifetime is the furthest ahead an expiry may be: ten years. A key
// meant to live longer than that is a key that never expires, and saying
// "never" is clearer than a date nobody will remember.
const MaxLifetime = 3650 * 24 * time.Hour

// LabelMax is the longest label the api_keys schema accepts, in characters
// (its label field's Max, migration 1764000000), for the forms and their
// messages; 0 when the schema sets none.
func LabelMax(app core.App) int {
	if f, ok := keysField(app, FieldLabel).(*core.TextField); ok {
		return f.Max
	}
	return 0
}

// RateMax is the highest rate limit the api_keys schema accepts, in
// requests per minute (its rate_limit field's Max, migration 1764100000);
// 0 when the schema sets none.
func RateMax(app core.App) int {
	if f, ok := keysField(app, FieldRateLimit).(*core.NumberField); ok && f.Max != nil {
		return int(*f.Max)
	}
	return 0
}

func keysField(app core.App, name string) core.Field {
	c, err := app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil
	}
	return c.Fields.GetByName(name)
}

func (s *Store) bindRules() {
	app := s.app

	// Before PocketBase's validators: trim the label, so "  " is empty and
	// "CI " and "CI" are the same. After them: the owner and the lifecycle
	// fields make sense.
	app.OnRecordValidate(Collection).BindFunc(func(e *core.RecordEvent) error {
		e.Record.Set(FieldLabel, strings.TrimSpace(e.Record.GetString(FieldLabel)))
		if err := e.Next(); err != nil {
			return err
		}
		errs := s.validateOwner(e.App, e.Record)
		for field, err := range validateLifecycle(e.App, e.Record) {
			errs[field] = err
		}
		if len(errs) > 0 {
			return errs
		}
		return nil
	})

	// The hash is hidden from everyone, superusers included: PocketBase
	// un-hides hidden fields for superusers inside the enrich chain, so it
	// is hidden again after e.Next(). It covers responses, expands and
	// realtime events.
	app.OnRecordEnrich(Collection).BindFunc(func(e *core.RecordEnrichEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		e.Record.Hide(FieldKeyHash)
		return nil
	})

	// The owner hears about a new key once it is committed: inside a
	// transaction (a batch, a roll) these run after the commit, and a
	// rollback reaches the error hook instead, so nobody is told about a
	// key that does not exist. The audit log names who got or lost a key,
	// never the secret or its hash.
	app.OnRecordAfterCreateSuccess(Collection).BindFunc(func(e *core.RecordEvent) error {
		e.App.Logger().Info("API key created", logAttrs(e.Record)...)
		// a key prepared by Prepare: its owner is told, with the origin
		// given there (fixtures and migrations tell no one)
		if origin, ok := s.origins.LoadAndDelete(e.Record.Id); ok {
			s.cfg.Notify.KeyCreated(e.Record, origin.(Origin))
		}
		return e.Next()
	})
	app.OnRecordAfterCreateError(Collection).BindFunc(func(e *core.RecordErrorEvent) error {
		s.origins.Delete(e.Record.Id)
		return e.Next()
	})
	app.OnRecordAfterDeleteSuccess(Collection).BindFunc(func(e *core.RecordEvent) error {
		e.App.Logger().Info("API key deleted", logAttrs(e.Record)...)
		return e.Next()
	})

	// A key goes with its owner, in the owner's delete transaction, as
	// PocketBase does for its own records that refer to an auth record
	// (recordRefHooks in core): when the owner record is deleted, and when
	// its whole collection is.
	app.OnRecordDeleteExecute().Bind(&hook.Handler[*core.RecordEvent]{
		Func: func(e *core.RecordEvent) error {
			if !e.Record.Collection().IsAuth() {
				return e.Next()
			}
			return deleteWith(e.App, &e.App, e.Next, dbx.HashExp{
				FieldOwner: e.Record.Id, FieldOwnerCollection: e.Record.Collection().Id,
			})
		},
		Priority: 99,
	})
	app.OnCollectionDeleteExecute().Bind(&hook.Handler[*core.CollectionEvent]{
		Func: func(e *core.CollectionEvent) error {
			if !e.Collection.IsAuth() {
				return e.Next()
			}
			return deleteWith(e.App, &e.App, e.Next, dbx.HashExp{FieldOwnerCollection: e.Collection.Id})
		},
		Priority: 99,
	})
}

// deleteWith runs next (the delete of an owner or owner collection) and
// deletes the keys matching where, in one transaction, with the event's
// app (*eventApp) switched to the transaction meanwhile.
func deleteWith(app core.App, eventApp *core.App, next func() error, where dbx.Expression) error {
	original := *eventApp
	defer func() { *eventApp = original }()
	return writetx.Run(app, func(tx core.App) error {
		*eventApp = tx
		if err := next(); err != nil {
			return err
		}
		_, err := deleteKeys(tx, where)
		return err
	})
}

func logAttrs(r *core.Record) []any {
	return []any{
		"keyId", r.Id,
		"ownerId", r.GetString(FieldOwner),
		"ownerCollection", r.GetString(FieldOwnerCollection),
		"label", r.GetString(FieldLabel),
	}
}

// validateOwner checks that a key belongs to an existing record of an owner
// collection.
func (s *Store) validateOwner(app core.App, record *core.Record) validation.Errors {
	errs := validation.Errors{}
	c, err := app.FindCachedCollectionByNameOrId(record.GetString(FieldOwnerCollection))
	if err != nil || c.Id != record.GetString(FieldOwnerCollection) || !s.IsOwnerCollection(c) {
		errs[FieldOwnerCollection] = validation.NewError("validation_owner_collection",
			"The owner must be a record of "+ownerCollectionsText(s.OwnerCollections())+".")
		return errs
	}
	if _, err := app.FindRecordById(c, record.GetString(FieldOwner)); err != nil {
		errs[FieldOwner] = validation.NewError("validation_owner_missing",
			fmt.Sprintf("There is no %s record with the id %q.", c.Name, record.GetString(FieldOwner)))
	}
	return errs
}

// ownerCollectionsText names the collections whose records may own keys:
// only those that exist and are auth collections.
func ownerCollectionsText(owners []*core.Collection) string {
	names := make([]string, len(owners))
	for i, c := range owners {
		names[i] = c.Name
	}
	switch len(names) {
	case 0:
		return "an owner collection (none exists: create the auth collection configured in PBKEYS_OWNER_COLLECTIONS)"
	case 1:
		return "the " + names[0] + " collection"
	}
	return "one of the collections " + strings.Join(names, ", ")
}

// validateLifecycle checks the expiry, the permissions and the addresses.
// Errors are PocketBase validation errors, keyed by field.
func validateLifecycle(app core.App, record *core.Record) validation.Errors {
	errs := validation.Errors{}
	if record.IsNew() {
		exp := record.GetDateTime(FieldExpires)
		switch {
		case exp.IsZero():
		case !exp.Time().After(time.Now()):
			errs[FieldExpires] = validation.NewError("validation_expires_in_past", "The expiry must be in the future.")
		case exp.Time().After(time.Now().Add(MaxLifetime)):
			errs[FieldExpires] = validation.NewError("validation_expires_too_far", "The expiry can be at most 10 years ahead.")
		}
	}
	if msg := validatePermissions(app, jsonField(record, FieldPermissions)); msg != "" {
		errs[FieldPermissions] = validation.NewError("validation_permissions", msg)
	}
	if _, err := addrlist.Parse(jsonField(record, FieldAllowedIPs)); err != nil {
		errs[FieldAllowedIPs] = validation.NewError("validation_allowed_ips", userMessage(err))
	}
	return errs
}

// validatePermissions returns what is wrong with a key's stored
// permissions, or "": the format (internal/permissions), and each name a
// collection the key may be given (IsScopable), spelt as PocketBase names
// it.
func validatePermissions(app core.App, raw []byte) string {
	perms, err := permissions.Parse(raw)
	if err != nil {
		return userMessage(err)
	}
	for _, name := range perms.Collections() {
		c, err := app.FindCachedCollectionByNameOrId(name)
		switch {
		case err != nil || c.Name != name:
			return fmt.Sprintf("There is no collection named %q.", name)
		case !IsScopable(c):
			return fmt.Sprintf("API keys cannot be given permissions on the %q collection.", name)
		}
	}
	return ""
}

// userMessage is a format error as a sentence.
func userMessage(err error) string {
	msg := strings.ToUpper(err.Error()[:1]) + err.Error()[1:]
	if !strings.HasSuffix(msg, "?") { // a hint's question keeps its mark
		msg += "."
	}
	return msg
}
