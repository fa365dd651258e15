package hooks

import (
	"fmt"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/internal/ratelimit"
	"github.com/pbkeys/pbkeys/internal/retryafter"
)

const (
	// rateLimitMiddlewareID identifies the per-key rate limit middleware.
	rateLimitMiddlewareID = "pbkeysAPIKeyRateLimit"

	// rateLimitMiddlewarePriority runs it right after the key auth, so
	// that every request a key makes counts, refused or not.
	rateLimitMiddlewarePriority = authMiddlewarePriority + 1
)

// requestKeyInBatch marks a key's batch request; sub-requests copy the
// event store, so the record hooks can tell a sub-request from a request.
const requestKeyInBatch = "pbkeysInBatch"

// rateLimits applies each key's own "N requests per minute".
type rateLimits struct {
	limiter *ratelimit.Limiter
	now     func() time.Time
}

func newRateLimits() *rateLimits {
	return &rateLimits{limiter: ratelimit.New(), now: time.Now}
}

func (l *rateLimits) middleware() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       rateLimitMiddlewareID,
		Priority: rateLimitMiddlewarePriority,
		Func: func(e *core.RequestEvent) error {
			g := grantOf(e.Auth)
			if g == nil {
				return e.Next()
			}
			// A batch counts once here and once more per sub-request (see
			// subRequest), so batching does not multiply the limit.
			if err := l.allow(e, g); err != nil {
				return err
			}
			if routePath(e.Request.Pattern) == routeBatch {
				e.Set(requestKeyInBatch, true)
			}
			return e.Next()
		},
	}
}

// subRequest counts a batch sub-request; other requests were counted by the
// middleware already.
func (l *rateLimits) subRequest(e *core.RequestEvent, g *grant) error {
	if inBatch, _ := e.Get(requestKeyInBatch).(bool); inBatch {
		return l.allow(e, g)
	}
	return nil
}

// allow answers 429 with Retry-After when the key is over its limit.
func (l *rateLimits) allow(e *core.RequestEvent, g *grant) error {
	wait := l.limiter.Allow(g.keyID, g.options.RatePerMinute, l.now())
	if wait <= 0 {
		return nil
	}
	seconds := retryafter.Set(e.Response.Header(), wait)
	return e.TooManyRequestsError(fmt.Sprintf(
		"This API key is limited to %d requests per minute; retry in %d s.", g.options.RatePerMinute, seconds), nil)
}
