package hooks

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"pbkeys/internal/keystore"
)

// Messages of the api_keys record hooks.
const (
	msgOwnerIsCaller = "You can only create API keys for yourself."
	msgOwnerRequired = "Choose the user who will own the key (field \"user\")."
	msgLabelOnly     = "Only the label of an API key can be changed."
)

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
		key, err := store.Prepare(e.Record)
		if err != nil {
			return e.InternalServerError("", err)
		}
		e.Record.WithCustomData(true)
		e.Record.Set(keystore.RevealField, key.String())
		return e.Next()
	})

	// Keys are relabelled, nothing else: the owner, the hash and the usage
	// are not editable by anyone, superusers included.
	app.OnRecordUpdateRequest(keystore.Collection).BindFunc(func(e *core.RecordRequestEvent) error {
		original := e.Record.Original()
		for _, name := range []string{keystore.FieldUser, keystore.FieldKeyHash, keystore.FieldLastUsed} {
			if e.Record.GetString(name) != original.GetString(name) {
				return e.BadRequestError(msgLabelOnly, nil)
			}
		}
		return e.Next()
	})

	// Trim labels on every save (REST, pages, CLI) before validation, so
	// "  " is empty and "CI " and "CI" are the same label.
	app.OnRecordValidate(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		e.Record.Set(keystore.FieldLabel, strings.TrimSpace(e.Record.GetString(keystore.FieldLabel)))
		return e.Next()
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
