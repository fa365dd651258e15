// Package humanize is how pbkeys speaks to people, on the pages and in the
// CLI alike: a key's state, scope and rate limit, times and durations, and
// the expiry people type. The domain packages (apikey, keystore) keep to
// facts; the words are here, written once.
package humanize

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pbkeys/pbkeys/internal/keylist"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// StateKind classifies a key for people: keystore's states, which lists
// also filter on.
type StateKind = keylist.State

// The states a key can be in.
const (
	StateActive   = keylist.StateActive
	StateExpiring = keylist.StateExpiring // active, expires within ExpiringSoon
	StateExpired  = keylist.StateExpired
	StateDisabled = keylist.StateDisabled
)

// ExpiringSoon is how close to its expiry a key is highlighted.
const ExpiringSoon = keylist.ExpiringSoon

// State is a key's state and its short description ("Expires in 3 days").
type State struct {
	Kind StateKind
	Text string
}

// KeyState describes a key with policy p at now.
func KeyState(p keystore.Options, now time.Time) State {
	kind := keylist.StateOf(p, now)
	switch kind {
	case StateDisabled:
		return State{kind, "Disabled"}
	case StateExpired:
		return State{kind, "Expired"}
	}
	if p.ExpiresAt.IsZero() {
		return State{kind, "Active"}
	}
	return State{kind, "Expires in " + Duration(p.ExpiresAt.Sub(now))}
}

// StateName is what a list's state filter calls the state.
func StateName(s StateKind) string {
	switch s {
	case StateActive:
		return "Active"
	case StateExpiring:
		return "Expiring soon"
	case StateExpired:
		return "Expired"
	case StateDisabled:
		return "Disabled"
	}
	return string(s)
}

// Scope summarises what the key may reach and from where: "Full access",
// "Write shipments; read orders" or "Read orders · from 10.0.0.0/8".
func Scope(p keystore.Options) string {
	out := p.Permissions.Describe()
	out = strings.ToUpper(out[:1]) + out[1:]
	if p.AllowedIPs != nil {
		out += " · from " + strings.Join(p.AllowedIPs.Strings(), ", ")
	}
	return out
}

// Rate describes the request limit: "600 requests/min" or "No limit".
func Rate(p keystore.Options) string {
	if p.RatePerMinute <= 0 {
		return "No limit"
	}
	return strconv.Itoa(p.RatePerMinute) + " requests/min"
}

// Duration rounds d to the nearest amount of the largest unit people would
// say: "3 days", "5 hours", "1 minute" (never less).
func Duration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= 36*time.Hour:
		return plural(int((d+day/2)/day), "day")
	case d >= 90*time.Minute:
		return plural(int((d+time.Hour/2)/time.Hour), "hour")
	case d >= 90*time.Second:
		n := int((d + time.Minute/2) / time.Minute)
		if n >= 60 { // 59m30s and more: "1 hour", as a 1-hour grace reads
			return "1 hour"
		}
		return plural(n, "minute")
	default:
		return "1 minute"
	}
}

// Ago says how long ago t was at now: "just now", "3 minutes ago",
// "yesterday", "on Jan 2", "on Jan 2, 2025".
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 48*time.Hour:
		return "yesterday"
	case d < 30*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	case t.Year() == now.Year():
		return "on " + t.UTC().Format("Jan 2")
	default:
		return "on " + t.UTC().Format("Jan 2, 2006")
	}
}

// Wait says a short wait in whole seconds: "45 s", "4 min 10 s", "5 min".
func Wait(secs int) string {
	if secs < 120 {
		return strconv.Itoa(secs) + " s"
	}
	m, s := secs/60, secs%60
	if s == 0 {
		return strconv.Itoa(m) + " min"
	}
	return fmt.Sprintf("%d min %d s", m, s)
}

// Count writes n with thousands separators: "39,330".
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Plural is "1 key" or "3 keys".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func plural(n int, unit string) string {
	return Plural(n, unit, unit+"s")
}
