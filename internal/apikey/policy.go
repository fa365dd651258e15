package apikey

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Policy is what a key's owner chose to limit it to. The zero value is an
// unrestricted key: never expires, read-write, every collection, no rate
// limit, enabled. Policies only narrow what the owner may do; the owner's
// API rules still apply on top.
type Policy struct {
	ExpiresAt     time.Time // zero: never
	Disabled      bool
	ReadOnly      bool
	Collections   []string // allow-list of collection names; empty: all
	RatePerMinute int      // 0: unlimited
}

// Errors returned by Policy.Usable.
var (
	// ErrExpired is returned for a key used at or after its expiry time.
	ErrExpired = errors.New("apikey: key expired")
	// ErrDisabled is returned for a key its owner has paused.
	ErrDisabled = errors.New("apikey: key disabled")
)

// Usable reports whether a key with this policy may authenticate at now.
func (p Policy) Usable(now time.Time) error {
	if p.Disabled {
		return ErrDisabled
	}
	if !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt) {
		return ErrExpired
	}
	return nil
}

// AllowsMethod reports whether a request with this HTTP method is allowed:
// read-only keys are limited to safe methods.
func (p Policy) AllowsMethod(method string) bool {
	if !p.ReadOnly {
		return true
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// AllowsCollection reports whether the key may touch the named collection.
func (p Policy) AllowsCollection(name string) bool {
	return len(p.Collections) == 0 || slices.Contains(p.Collections, name)
}

// Restricted reports whether the key is narrower than its owner in any way
// that requests must be checked against.
func (p Policy) Restricted() bool {
	return p.ReadOnly || len(p.Collections) > 0
}

// StateKind classifies a key for people: pages and the CLI show it.
type StateKind string

// The states a key can be in.
const (
	StateActive   StateKind = "active"
	StateExpiring StateKind = "expiring" // active, expires within ExpiringSoon
	StateExpired  StateKind = "expired"
	StateDisabled StateKind = "disabled"
)

// ExpiringSoon is how close to its expiry a key is highlighted.
const ExpiringSoon = 7 * 24 * time.Hour

// State is a key's state and its short description ("Expires in 3 days").
type State struct {
	Kind StateKind
	Text string
}

// State describes the key at now.
func (p Policy) State(now time.Time) State {
	switch {
	case p.Disabled:
		return State{StateDisabled, "Disabled"}
	case p.ExpiresAt.IsZero():
		return State{StateActive, "Active"}
	case !now.Before(p.ExpiresAt):
		return State{StateExpired, "Expired"}
	}
	left := p.ExpiresAt.Sub(now)
	kind := StateActive
	if left <= ExpiringSoon {
		kind = StateExpiring
	}
	return State{kind, "Expires in " + humanDuration(left)}
}

// humanDuration rounds d to the nearest amount of the largest unit people
// would say: "3 days", "5 hours", "1 minute".
func humanDuration(d time.Duration) string {
	plural := func(n time.Duration, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(int(n)) + " " + unit + "s"
	}
	const day = 24 * time.Hour
	switch {
	case d >= 36*time.Hour:
		return plural((d+day/2)/day, "day")
	case d >= 90*time.Minute:
		return plural((d+time.Hour/2)/time.Hour, "hour")
	case d >= 90*time.Second:
		n := (d + time.Minute/2) / time.Minute
		if n >= 60 { // 59m30s and more: "1 hour", as a 1-hour grace reads
			return "1 hour"
		}
		return plural(n, "minute")
	default:
		return "1 minute"
	}
}

// Scope summarises what the key may reach: "Full access", "Read-only",
// "notes, tasks" or "Read-only · notes, tasks".
func (p Policy) Scope() string {
	var parts []string
	if p.ReadOnly {
		parts = append(parts, "Read-only")
	}
	if len(p.Collections) > 0 {
		parts = append(parts, strings.Join(p.Collections, ", "))
	}
	if len(parts) == 0 {
		return "Full access"
	}
	return strings.Join(parts, " · ")
}

// Rate describes the request limit: "600 requests/min" or "No limit".
func (p Policy) Rate() string {
	if p.RatePerMinute <= 0 {
		return "No limit"
	}
	return strconv.Itoa(p.RatePerMinute) + " requests/min"
}
