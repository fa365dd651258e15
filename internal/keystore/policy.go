package keystore

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/pocketbase/pocketbase/core"
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

// PolicyOf returns what the key with this record may do.
func PolicyOf(record *core.Record) Policy {
	o := OptionsOf(record)
	return Policy{
		ExpiresAt:     o.ExpiresAt,
		Disabled:      record.GetBool(FieldDisabled),
		ReadOnly:      o.ReadOnly,
		Collections:   o.Collections,
		RatePerMinute: o.RatePerMinute,
	}
}

// Errors returned by Policy.Usable.
var (
	// ErrExpired is returned for a key used at or after its expiry time.
	ErrExpired = errors.New("keystore: key expired")
	// ErrDisabled is returned for a key its owner has paused.
	ErrDisabled = errors.New("keystore: key disabled")
)

// Usable reports whether a key with this policy may authenticate at now.
func (p Policy) Usable(now time.Time) error {
	if p.Disabled {
		return ErrDisabled
	}
	if p.Expired(now) {
		return ErrExpired
	}
	return nil
}

// Expired reports whether the key has an expiry and it has passed at now.
func (p Policy) Expired(now time.Time) bool {
	return !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt)
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
