package hooks

import (
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
)

// The REST routes beyond the api_keys collection's CRUD.
const (
	// rollPath rolls a key: POST with {"grace":"24h"}.
	rollPath = "/api/api-keys/{id}/roll"

	// usagePath answers a key's requests per day (UTC) over the last
	// usage.Window days, oldest first, every day listed (0 for a
	// day without requests): GET → [{"day":"2026-11-30","requests":12}, ...].
	usagePath = "/api/api-keys/{id}/usage"

	// eventsPath answers what was done to a key, newest first (at most
	// events.MaxList, kept events.Retention): GET →
	// {"items":[{"id","key","label","action","actor":{"kind","id"},"ip",
	// "userAgent","detail","created"}, ...]}. A revoked key's events stay
	// readable by its owner.
	eventsPath = "/api/api-keys/{id}/events"
)

// bindKeyRoutes adds the key actions that are not plain record CRUD.
func bindKeyRoutes(se *core.ServeEvent, store *keystore.Store) {
	se.Router.POST(rollPath, func(e *core.RequestEvent) error {
		// (A key is refused before it gets here: see checkAccess.)
		if e.Auth == nil || !store.IsOwnerCollection(e.Auth.Collection()) {
			// superusers manage keys in the dashboard or with `pbkeys apikeys roll`
			return e.ForbiddenError("Only the key's owner can roll it; operators use `pbkeys apikeys roll`.", nil)
		}
		var body struct {
			Grace string `json:"grace"`
		}
		if err := e.BindBody(&body); err != nil {
			return e.BadRequestError("The request body is not valid JSON.", err)
		}
		grace, ok := keystore.GraceNamed(body.Grace)
		if !ok {
			return e.BadRequestError(`Choose a grace period for the old key: "`+strings.Join(keystore.GraceNames(), `", "`)+`".`, nil)
		}
		record, key, err := store.Roll(e.Auth, e.Request.PathValue("id"), grace,
			events.RequestOrigin(e, e.Auth, e.Auth.Id, e.Auth.Collection().Id, "REST API (roll)"))
		if errors.Is(err, sql.ErrNoRows) {
			return e.NotFoundError("", nil)
		}
		if errors.Is(err, keystore.ErrAlreadyRolled) {
			return apis.NewApiError(http.StatusConflict, err.Error(), nil)
		}
		if err != nil {
			return e.BadRequestError("Failed to roll the key.", err)
		}
		record.WithCustomData(true)
		record.Set(keystore.RevealField, key.String())
		return e.JSON(http.StatusOK, record)
	}).Bind(apis.RequireAuth())

	se.Router.GET(usagePath, func(e *core.RequestEvent) error {
		// (A key is refused before it gets here: see checkAccess.) The
		// key's owner sees its usage; a superuser sees any key's.
		id := e.Request.PathValue("id")
		var err error
		switch {
		case e.HasSuperuserAuth():
			_, err = store.Find(id)
		case e.Auth != nil && store.IsOwnerCollection(e.Auth.Collection()):
			_, err = store.FindOwned(e.Auth, id)
		default:
			return e.ForbiddenError(msgNotAnOwner, nil)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return e.NotFoundError("", nil)
		}
		if err != nil {
			return e.InternalServerError("", err)
		}
		daily, err := usage.Daily(e.App, []string{id}, time.Now())
		if err != nil {
			return e.InternalServerError("", err)
		}
		return e.JSON(http.StatusOK, daily[id])
	}).Bind(apis.RequireAuth())

	se.Router.GET(eventsPath, func(e *core.RequestEvent) error {
		// (A key is refused before it gets here: see checkAccess.) The
		// key's owner sees its events, after it was revoked too; a
		// superuser sees any key's.
		id := e.Request.PathValue("id")
		var owner *core.Record // nil: every owner's
		switch {
		case e.HasSuperuserAuth():
		case e.Auth != nil && store.IsOwnerCollection(e.Auth.Collection()):
			owner = e.Auth
		default:
			return e.ForbiddenError(msgNotAnOwner, nil)
		}
		list, err := events.List(e.App, id, owner)
		if err != nil {
			return e.InternalServerError("", err)
		}
		if len(list) == 0 {
			// no events: a key of the caller's from before events were kept, or none
			if owner != nil {
				_, err = store.FindOwned(owner, id)
			} else {
				_, err = store.Find(id)
			}
			if errors.Is(err, sql.ErrNoRows) {
				return e.NotFoundError("", nil)
			}
			if err != nil {
				return e.InternalServerError("", err)
			}
		}
		return e.JSON(http.StatusOK, events.Page{Items: list})
	}).Bind(apis.RequireAuth())
}
