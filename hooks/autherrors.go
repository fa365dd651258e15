package hooks

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/retryafter"
	"github.com/pbkeys/pbkeys/internal/verifier"
)

// Messages of the refusals that come before any argon2id work.
const (
	msgThrottled = "Too many failed attempts with this API key or from this address. Try again later."
	msgBusy      = "The server is busy verifying API keys. Try again shortly."
)

// verifyError answers a failed verification of keyID's secret: 401 for a
// wrong secret (or an unusable stored hash, which is logged), 429 when the
// throttle refused to try, 503 when no argon2id memory was free in time,
// 500 for anything else (a database error). 429 and 503 carry Retry-After
// (whole seconds) and PocketBase's JSON error shape.
func verifyError(e *core.RequestEvent, keyID string, err error) error {
	var retry *verifier.RetryError
	switch {
	case errors.Is(err, verifier.ErrMismatch):
		return invalidToken(e, msgInvalidKey)
	case errors.As(err, &retry) && errors.Is(err, verifier.ErrThrottled):
		retryafter.Set(e.Response.Header(), retry.After)
		return e.TooManyRequestsError(msgThrottled, nil)
	case errors.As(err, &retry):
		retryafter.Set(e.Response.Header(), retry.After)
		return apis.NewApiError(http.StatusServiceUnavailable, msgBusy, nil)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// the client went away (or a timeout fired) while waiting
		retryafter.Set(e.Response.Header(), time.Second)
		return apis.NewApiError(http.StatusServiceUnavailable, msgBusy, nil)
	case errors.Is(err, verifier.ErrUnusableHash):
		e.App.Logger().Error("API key: unusable stored hash", "keyId", keyID, "error", err)
		return invalidToken(e, msgInvalidKey)
	default:
		return e.InternalServerError("", err)
	}
}

// throttleClient names the client for the per-client failure throttle: its
// IP address, or for IPv6 its /64, because one host usually holds a whole
// /64 and could otherwise step through addresses to dodge the limit.
func throttleClient(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		return ip
	}
	prefix, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return prefix.String()
}
