package hooks

import (
	"database/sql"
	"errors"
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// RollPath is the REST route that rolls a key: POST with {"grace":"24h"}.
const RollPath = "/api/api-keys/{id}/roll"

// bindKeyRoutes adds the key actions that are not plain record CRUD.
func bindKeyRoutes(se *core.ServeEvent, store *keystore.Store) {
	se.Router.POST(RollPath, func(e *core.RequestEvent) error {
		// (A key is refused before it gets here: see checkAccess.)
		if e.Auth == nil || e.Auth.Collection().Name != keystore.OwnerCollection {
			// superusers manage keys in the dashboard or with `pbkeys apikeys roll`
			return e.ForbiddenError("Only the key's owner can roll it; operators use `pbkeys apikeys roll`.", nil)
		}
		var body struct {
			Grace string `json:"grace"`
		}
		if err := e.BindBody(&body); err != nil {
			return e.BadRequestError("The request body is not valid JSON.", err)
		}
		grace, ok := keystore.GracePeriods[body.Grace]
		if !ok {
			return e.BadRequestError(`Choose a grace period for the old key: "`+strings.Join(keystore.GraceNames, `", "`)+`".`, nil)
		}
		record, key, err := store.Roll(e.Auth.Id, e.Request.PathValue("id"), grace, keystore.Origin{
			Via: "REST API (roll)", IP: e.RealIP(), UserAgent: e.Request.UserAgent(),
		})
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
}
