package hooks

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/verifier"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

func TestVerifyErrorStatuses(t *testing.T) {
	for _, c := range []struct {
		name       string
		err        error
		status     int
		retryAfter string
	}{
		{"wrong secret", verifier.ErrMismatch, 401, ""},
		{"throttled", &verifier.RetryError{Err: verifier.ErrThrottled, After: 41500 * time.Millisecond}, 429, "42"},
		{"busy", &verifier.RetryError{Err: verifier.ErrBusy, After: time.Second}, 503, "1"},
		{"busy, under a second", &verifier.RetryError{Err: verifier.ErrBusy, After: time.Millisecond}, 503, "1"},
		{"database error", errors.New("disk I/O error"), 500, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e := &core.RequestEvent{}
			e.Response = rec
			e.Request = httptest.NewRequest(http.MethodGet, "/", nil)
			err := verifyError(e, "k1alice00000001", c.err)
			var apiErr *router.ApiError
			if !errors.As(err, &apiErr) || apiErr.Status != c.status {
				t.Fatalf("got %v, want status %d", err, c.status)
			}
			if got := rec.Header().Get("Retry-After"); got != c.retryAfter {
				t.Fatalf("Retry-After = %q, want %q", got, c.retryAfter)
			}
		})
	}
}

func TestThrottleClient(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.1":                   "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":        "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":        "2001:db8:1:2::/64",
		"::ffff:192.0.2.1":            "::ffff:192.0.2.1",
		"not an ip":                   "not an ip",
		"2001:0db8:0001:0002:0:0:0:1": "2001:db8:1:2::/64",
	} {
		if got := throttleClient(ip); got != want {
			t.Errorf("throttleClient(%q) = %q, want %q", ip, got, want)
		}
	}
}
