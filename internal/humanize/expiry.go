package humanize

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// maxLifetime is the furthest ahead a key's expiry may be.
const maxLifetime = keystore.MaxLifetime

// ExpiryHelp describes the forms ParseExpiry accepts, for help texts and
// error messages.
const ExpiryHelp = `"never", a number of days like "90d", a number of hours like "12h", ` +
	`a date like "2027-01-31" (the key works through that day, UTC), ` +
	`or an RFC 3339 time like "2027-01-31T18:00:00Z"`

// dateLayout is a calendar date as <input type="date"> and people write it.
const dateLayout = "2006-01-02"

// ParseExpiry turns what a person typed as a key's expiry into the time the
// key stops working, relative to now. It accepts:
//
//   - "" or "never": the zero time, a key that never expires;
//   - "<N>d": N days from now (1 to 3650);
//   - "<N>h": N hours from now (1 to 87600);
//   - "YYYY-MM-DD": the key works through that whole day in UTC and
//     expires at the midnight (UTC) that ends it, so "2027-01-31" means
//     2027-02-01T00:00:00Z and today's date means "until midnight UTC";
//   - an RFC 3339 time: exactly that instant.
//
// Letters are case-insensitive and surrounding spaces are ignored. The
// result is in UTC, after now and at most maxLifetime ahead. Its errors are
// sentences meant to be shown to the person as they are.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "never") {
		return time.Time{}, nil
	}
	now = now.UTC()

	if n, unit, ok := splitCount(s); ok {
		var (
			step time.Duration
			name string
		)
		switch unit {
		case 'd':
			step, name = 24*time.Hour, "day"
		case 'h':
			step, name = time.Hour, "hour"
		}
		limit := int64(maxLifetime / step)
		if n < 1 || n > limit {
			return time.Time{}, fmt.Errorf("The expiry %q is out of range: use 1 to %d %ss, or \"never\".", s, limit, name)
		}
		return now.Add(time.Duration(n) * step), nil
	}

	var (
		at   time.Time
		what string
	)
	if day, err := time.Parse(dateLayout, s); err == nil {
		at, what = day.AddDate(0, 0, 1), "The date "+s
	} else if t, err := time.Parse(time.RFC3339, strings.ToUpper(s)); err == nil {
		at, what = t.UTC(), "The time "+s
	} else if looksLikeDate(s) {
		return time.Time{}, fmt.Errorf("The date %q does not exist: write it as YYYY-MM-DD, like 2027-01-31.", s)
	} else {
		return time.Time{}, errors.New(invalidExpiryMessage(s))
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("%s is in the past: choose a later one, or \"never\".", what)
	}
	if at.Sub(now) > maxLifetime {
		return time.Time{}, fmt.Errorf("%s is more than 10 years away: choose an earlier one, or \"never\".", what)
	}
	return at, nil
}

// splitCount splits "90d" or "12H" into 90 and 'd' (or 12 and 'h'). ok is
// false when s is not digits followed by one of those units; "-5d" and
// "+5d" are digits-and-unit shaped and come back as a count out of range.
func splitCount(s string) (n int64, unit byte, ok bool) {
	if len(s) < 2 {
		return 0, 0, false
	}
	unit = s[len(s)-1] | 0x20 // ASCII lower case
	if unit != 'd' && unit != 'h' {
		return 0, 0, false
	}
	digits := s[:len(s)-1]
	if strings.Trim(digits, "+-0123456789") != "" {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return -1, unit, true // absurdly many: reported as out of range
		}
		return 0, 0, false
	}
	return n, unit, true
}

// looksLikeDate reports whether s has the shape of a YYYY-MM-DD date,
// whatever its numbers.
func looksLikeDate(s string) bool {
	if len(s) != len(dateLayout) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (i == 4 || i == 7) != (s[i] == '-') || (s[i] != '-' && (s[i] < '0' || s[i] > '9')) {
			return false
		}
	}
	return true
}

// invalidExpiryMessage explains an expiry that has no recognised shape,
// with a hint for the likeliest slip.
func invalidExpiryMessage(s string) string {
	hint := ""
	if _, err := strconv.Atoi(s); err == nil {
		hint = fmt.Sprintf(" For %s days write %sd.", s, s)
	}
	return fmt.Sprintf("The expiry %q is not understood: use %s.%s", s, ExpiryHelp, hint)
}
