package hooks

import (
	"database/sql"
	"errors"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

const (
	// AuthMiddlewareID identifies the API-key auth middleware.
	AuthMiddlewareID = "pbkeysAPIKeyAuth"

	// AuthMiddlewarePriority runs the middleware after PocketBase's panic
	// recoverer and activity logger but before its token loader (which
	// skips when e.Auth is set), the superuser IP whitelist and the rate
	// limiter — so those see the key's owner as the request's auth.
	AuthMiddlewarePriority = apis.DefaultLoadAuthTokenMiddlewarePriority - 1

	// RequestKeyAPIKey is the request event store key holding the api_keys
	// record that authenticated the request. Batch sub-requests copy the
	// store, so record hooks see it there too.
	RequestKeyAPIKey = "pbkeysAPIKey"
)

// APIKeyFrom returns the api_keys record that authenticated e, or nil when
// the request was not authenticated by an API key.
func APIKeyFrom(e interface{ Get(string) any }) *core.Record {
	rec, _ := e.Get(RequestKeyAPIKey).(*core.Record)
	return rec
}

// authenticator turns "Authorization: [Bearer ]<id>.<secret>" into e.Auth.
type authenticator struct {
	lookup   *keystore.Lookup
	verifier *apikey.Verifier
	usage    *apikey.UsageRecorder
}

func (a *authenticator) middleware() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       AuthMiddlewareID,
		Priority: AuthMiddlewarePriority,
		Func:     a.authenticate,
	}
}

// Messages of the 401s; none of them echoes the presented value.
const (
	msgMalformedKey = "The API key is malformed."
	msgInvalidKey   = "The API key is invalid or has been revoked."
	msgOwnerBlocked = "The API key's owner is not allowed to authenticate."
	msgExpiredKey   = "The API key has expired."
	msgDisabledKey  = "The API key is disabled."
)

func (a *authenticator) authenticate(e *core.RequestEvent) error {
	key, found, err := apikey.FromAuthorization(e.Request.Header.Get("Authorization"))
	if !found {
		return e.Next() // no key: a JWT, a guest, or PocketBase's own error
	}
	if err != nil {
		return invalidToken(e, msgMalformedKey)
	}

	// Read the key row and its owner on every request (one indexed join):
	// revocation, expiry and owner changes are never cached.
	record, owner, err := a.lookup.Find(key.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return invalidToken(e, msgInvalidKey)
	}
	if err != nil {
		return e.InternalServerError("", err)
	}

	err = a.verifier.Verify(e.Request.Context(), key, record.GetString(keystore.FieldKeyHash), throttleClient(e.RealIP()))
	if err != nil {
		return verifyError(e, key.ID, err)
	}

	if msg, err := keyRefusal(e.App, record, owner, e.Request.Method); err != nil {
		return e.InternalServerError("", err)
	} else if msg != "" {
		return invalidToken(e, msg)
	}

	attachGrant(owner, &grant{keyID: record.Id, policy: keystore.PolicyOf(record)})
	e.Auth = owner
	e.Set(RequestKeyAPIKey, record)
	a.usage.Touch(record.Id)

	return e.Next()
}

// keyRefusal returns why a key whose secret is right may not authenticate
// now, as the 401 message, or "" when it may. It is asked only after the
// secret verified, so that only the key's holder learns that a key is
// paused or expired.
func keyRefusal(app core.App, record, owner *core.Record, method string) (string, error) {
	if err := keystore.PolicyOf(record).Usable(time.Now()); err != nil {
		return unusableMessage(err), nil
	}
	// The owner must still pass the users collection's authRule (e.g. an
	// app's "verified = true" or "banned = false"), checked per request
	// because a key, unlike a JWT, has no expiry to bound a stale decision.
	ok, err := app.CanAccessRecord(owner, &core.RequestInfo{Method: method}, owner.Collection().AuthRule)
	if err != nil {
		return "", err
	}
	if !ok {
		return msgOwnerBlocked, nil
	}
	return "", nil
}

func unusableMessage(err error) string {
	if errors.Is(err, apikey.ErrExpired) {
		return msgExpiredKey
	}
	return msgDisabledKey
}

// invalidToken answers 401 in PocketBase's JSON error shape with the
// RFC 6750 challenge. Headers set before returning survive the error handler.
func invalidToken(e *core.RequestEvent, message string) error {
	e.Response.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	return e.UnauthorizedError(message, nil)
}
