// Package retryafter writes the Retry-After header the one way pbkeys does,
// for API errors and pages alike: whole seconds, rounded up, at least 1.
package retryafter

import (
	"net/http"
	"strconv"
	"time"
)

// Seconds is d in whole seconds, rounded up, at least 1.
func Seconds(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}

// Set sets Retry-After to d and returns the seconds it wrote.
func Set(h http.Header, d time.Duration) int {
	secs := Seconds(d)
	h.Set("Retry-After", strconv.Itoa(secs))
	return secs
}
