package hooks

import (
	"database/sql"
	"errors"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// File tokens minted with a key stay bound to the key. PocketBase's file
// token is a short-lived JWT of the owner that knows nothing of how it was
// asked for, and a download with it sends no Authorization header: without
// the binding, a notes-only key could download any collection's protected
// files, and a revoked key's token would keep working for its lifetime.

// fileTokenKeyClaim names, in a file token minted with a key, that key.
const fileTokenKeyClaim = "pbkeysKey"

func bindFileHooks(app core.App, a *authenticator) {
	// The token a key gets is PocketBase's own file token (same claims,
	// secret and lifetime) plus the key's id, signed with it.
	app.OnFileTokenRequest().BindFunc(func(e *core.FileTokenRequestEvent) error {
		if g := grantOf(e.Auth); g != nil {
			token, err := keyFileToken(e.Record, g.keyID)
			if err != nil {
				return e.InternalServerError("Failed to generate file token.", err)
			}
			e.Token = token
		}
		return e.Next()
	})

	// A download with such a token is a request by that key: the key must
	// still be usable, from the download's address, and the file's
	// collection within its reach.
	app.OnFileDownloadRequest().BindFunc(func(e *core.FileDownloadRequestEvent) error {
		if !e.FileField.Protected {
			return e.Next() // public files need no token
		}
		keyID := fileTokenKey(e.App, e.Request.URL.Query().Get("token"))
		if keyID == "" {
			return e.Next() // a session's token, or none
		}
		record, owner, err := a.store.FindWithOwner(keyID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return invalidToken(e.RequestEvent, msgInvalidKey)
		case errors.Is(err, keystore.ErrOwnerNotAllowed):
			return invalidToken(e.RequestEvent, msgOwnerBlocked)
		case err != nil:
			return e.InternalServerError("", err)
		}
		// The download's own address, now: a token handed on to another
		// machine is refused there as the key itself would be.
		options := keystore.OptionsOf(record)
		if err := refuseAddress(e.RequestEvent, record.Id, options.AllowedIPs); err != nil {
			return err
		}
		if msg, err := keyRefusal(e.App, options, owner, e.Request.Method); err != nil {
			return e.InternalServerError("", err)
		} else if msg != "" {
			return invalidToken(e.RequestEvent, msg)
		}
		g := &grant{keyID: record.Id, options: options}
		if err := checkAccess(e.App, g, access{action: actionDownload, collection: e.Collection}); err != nil {
			return err
		}
		return e.Next()
	})
}

// keyFileToken is owner's file token, as PocketBase's NewFileToken makes
// it, naming keyID.
func keyFileToken(owner *core.Record, keyID string) (string, error) {
	c := owner.Collection()
	return security.NewJWT(jwt.MapClaims{
		core.TokenClaimType:         core.TokenTypeFile,
		core.TokenClaimId:           owner.Id,
		core.TokenClaimCollectionId: c.Id,
		fileTokenKeyClaim:           keyID,
	}, owner.TokenKey()+c.FileToken.Secret, c.FileToken.DurationTime())
}

// fileTokenKey returns the key a valid file token was minted with, or "".
func fileTokenKey(app core.App, token string) string {
	if token == "" {
		return ""
	}
	if _, err := app.FindAuthRecordByToken(token, core.TokenTypeFile); err != nil {
		return "" // not a valid file token: PocketBase treated the download as a guest's
	}
	claims, err := security.ParseUnverifiedJWT(token) // verified just above
	if err != nil {
		return ""
	}
	keyID, _ := claims[fileTokenKeyClaim].(string)
	return keyID
}
