package retryafter_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/retryafter"
)

func TestRetryAfterRoundsUpToWholeSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{
		0:                      1,
		time.Millisecond:       1,
		time.Second:            1,
		time.Second + 1:        2,
		59*time.Second + 999e6: 60,
		-5 * time.Second:       1,
	} {
		h := http.Header{}
		if got := retryafter.Set(h, d); got != want || h.Get("Retry-After") != strconv.Itoa(want) {
			t.Errorf("Set(%s) = %d (%q), want %d", d, got, h.Get("Retry-After"), want)
		}
	}
}
