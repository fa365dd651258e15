package hooks

import (
	"database/sql"
	"errors"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
	"github.com/pbkeys/pbkeys/internal/verifier"
)

const (
	// authMiddlewareID identifies the API-key auth middleware.
	authMiddlewareID = "pbkeysAPIKeyAuth"

	// authMiddlewarePriority runs the middleware after PocketBase's panic
	// recoverer and activity logger but before its token loader (which
	// skips when e.Auth is set), the superuser IP whitelist and the rate
	// limiter — so those see the key's owner as the request's auth.
	authMiddlewarePriority = apis.DefaultLoadAuthTokenMiddlewarePriority - 1

	// requestKeyAPIKey is the request event store key holding the api_keys
	// record that authenticated the request: e.get("pbkeysAPIKey") in a JS
	// hook. Batch sub-requests copy the store, so record hooks see it there
	// too.
	requestKeyAPIKey = "pbkeysAPIKey"
)

// keyLogMeta is what a request log says of the key presented: its id,
// under "meta" (the secret never).
type keyLogMeta struct {
	KeyID string `json:"apiKeyId"`
}

// APIKeyFrom returns the api_keys record that authenticated e, or nil when
// the request was not authenticated by an API key.
func APIKeyFrom(e interface{ Get(string) any }) *core.Record {
	rec, _ := e.Get(requestKeyAPIKey).(*core.Record)
	return rec
}

// authenticator turns "Authorization: [Bearer ]<id>.<secret>" into e.Auth:
// parse (apikey.FromAuthorization: format and checksum, no I/O) → the key
// row, its owner and the secret (keystore's FindVerified) → refuseAddress
// (the key's allow-list) → keyRefusal → e.Auth.
type authenticator struct {
	store    *keystore.Store
	verifier *verifier.Verifier
	usage    *usage.Recorder
}

func (a *authenticator) middleware() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       authMiddlewareID,
		Priority: authMiddlewarePriority,
		Func:     a.authenticate,
	}
}

// Messages of the 401s; none of them echoes the presented value.
const (
	msgMalformedKey = "The API key is malformed."
	msgMistypedKey  = "The API key is mistyped or incomplete: its checksum does not match."
	msgKeyIDOnly    = "The API key is incomplete: it is only a key id. Send the whole key, the id, a dot and the secret."
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
	if errors.Is(err, apikey.ErrChecksum) {
		return invalidToken(e, msgMistypedKey) // offline: no database read, no argon2id
	}
	if errors.Is(err, apikey.ErrIncomplete) {
		// a key cut down to its id is never a guest; the log names the id
		e.Set(apis.RequestEventKeyLogMeta, &keyLogMeta{KeyID: key.ID})
		return invalidToken(e, msgKeyIDOnly)
	}
	if err != nil {
		return invalidToken(e, msgMalformedKey)
	}
	// The dashboard's request logs name the key (never the secret), for
	// every attempt: the ones that fail are the interesting ones.
	e.Set(apis.RequestEventKeyLogMeta, &keyLogMeta{KeyID: key.ID})

	// 1 and 2. Read the key row and its owner, on every request
	// (revocation, expiry and owner changes are never cached), and verify
	// the secret against the stored hash (verifier.Verifier: the cache of
	// recent successes, else argon2id within the memory budget and the
	// failure throttle). Leaked-key reports check keys the same way.
	record, owner, err := a.store.FindVerified(e.Request.Context(), a.verifier, key, throttleClient(e.RealIP()))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return invalidToken(e, msgInvalidKey)
	case errors.Is(err, keystore.ErrOwnerNotAllowed):
		return invalidToken(e, msgOwnerBlocked)
	case err != nil:
		return verifyError(e, key.ID, err)
	}

	// 3. Only now, so that an unverified guess learns nothing from it: is
	// the request from an address the key's list allows? First of the
	// refusals of a right secret, so that a secret used from elsewhere
	// (copied off a CI runner, say) learns nothing more of the key: not
	// whether it is paused or expired, nor anything of its owner.
	options := keystore.OptionsOf(record)
	if err := refuseAddress(e, record.Id, options.AllowedIPs); err != nil {
		return err
	}

	// 4. Is the key paused or expired, may its owner still authenticate?
	if msg, err := keyRefusal(e.App, options, owner, e.Request.Method); err != nil {
		return e.InternalServerError("", err)
	} else if msg != "" {
		return invalidToken(e, msg)
	}

	// 5. The request runs as the owner, carrying the key's grant for the
	// policy (policy.go) and the key record for hooks (APIKeyFrom).
	attachGrant(owner, &grant{keyID: record.Id, options: options})
	e.Auth = owner
	e.Set(requestKeyAPIKey, record)
	// Usage is recorded only here, for requests the key authenticated: a
	// refusal above (wrong secret, wrong address, paused, expired) is not
	// the key's use, and a last_used_ip of a refused address would point
	// the owner at a use that never happened.
	a.usage.Touch(record.Id, e.RealIP(), e.Request.UserAgent())

	return e.Next()
}

// msgAddressRefused answers a right secret sent from an address the key's
// allow-list does not include. It names neither the allowed ranges nor the
// key's owner: whoever sent it may have found the secret somewhere.
const msgAddressRefused = "This API key cannot be used from this address."

// refuseAddress answers 403 when ip, the request's address as PocketBase
// reads it (e.RealIP(): the trusted proxy header set in the dashboard's
// settings, else the connection's address), is not in allowed, the key's
// list; nil when it is, or when the key has no list. The refusal is logged
// as other refusals are (a warning) with the key id and the address: for
// the owner, a secret used from elsewhere may be a leak.
func refuseAddress(e *core.RequestEvent, keyID string, allowed addrlist.List) error {
	ip := e.RealIP()
	if allowed.Allows(ip) {
		return nil
	}
	e.App.Logger().Warn("API key refused: used from an address its allow-list does not include", "keyId", keyID, "ip", ip)
	return e.ForbiddenError(msgAddressRefused, nil)
}

// keyRefusal returns why a key whose secret is right may not authenticate
// now, as the 401 message, or "" when it may. It is asked only after the
// secret verified, so that only the key's holder learns that a key is
// paused or expired.
func keyRefusal(app core.App, options keystore.Options, owner *core.Record, method string) (string, error) {
	if err := options.Usable(time.Now()); err != nil {
		return unusableMessage(err), nil
	}
	ok, err := keystore.CanAuthenticate(app, owner, &core.RequestInfo{Method: method})
	if err != nil {
		return "", err
	}
	if !ok {
		return msgOwnerBlocked, nil
	}
	return "", nil
}

func unusableMessage(err error) string {
	if errors.Is(err, keystore.ErrExpired) {
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
