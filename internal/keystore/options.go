package keystore

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// Options are what a key's owner chose for it: its label, what it is
// limited to, and whether it is paused. The zero value (besides the label)
// is an unrestricted key: never expires, enabled, full access from any
// address, no rate limit. Options only narrow what the owner may do; the
// owner's API rules still apply on top.
type Options struct {
	Label         string
	ExpiresAt     time.Time       // zero: never
	Disabled      bool            //
	Permissions   permissions.Set // nil: full access
	AllowedIPs    addrlist.List   // nil: any address
	RatePerMinute int             // 0: unlimited
}

// OptionsOf reads a key's options from its record. Stored permissions or
// addresses that cannot be read (the record rules refuse them, so only a
// hand-edited database has them) reach nothing: fail closed.
func OptionsOf(record *core.Record) Options {
	perms, ips := ParseReach(jsonField(record, FieldPermissions), jsonField(record, FieldAllowedIPs))
	return Options{
		Label:         record.GetString(FieldLabel),
		ExpiresAt:     record.GetDateTime(FieldExpires).Time(),
		Disabled:      record.GetBool(FieldDisabled),
		Permissions:   perms,
		AllowedIPs:    ips,
		RatePerMinute: record.GetInt(FieldRateLimit),
	}
}

// ParseReach reads stored permissions and allowed addresses; what cannot
// be read reaches nothing, from nowhere.
func ParseReach(storedPermissions, storedAllowedIPs []byte) (permissions.Set, addrlist.List) {
	perms, err := permissions.Parse(storedPermissions)
	if err != nil {
		perms = permissions.Set{}
	}
	ips, err := addrlist.Parse(storedAllowedIPs)
	if err != nil {
		ips = addrlist.List{}
	}
	return perms, ips
}

// jsonField returns a JSON field's stored text; a value set in Go and not
// yet saved is marshalled.
func jsonField(record *core.Record, name string) []byte {
	if v, ok := record.GetRaw(name).(interface{ String() string }); ok { // types.JSONRaw, as stored
		return []byte(v.String())
	}
	b, _ := json.Marshal(record.GetRaw(name)) // nil: null
	return b
}

// set writes the options onto an api_keys record.
func (o Options) set(record *core.Record) {
	record.Set(FieldLabel, o.Label)
	if o.ExpiresAt.IsZero() {
		record.Set(FieldExpires, "")
	} else {
		record.Set(FieldExpires, o.ExpiresAt)
	}
	record.Set(FieldDisabled, o.Disabled)
	record.Set(FieldPermissions, o.Permissions) // nil: null
	if o.AllowedIPs == nil {
		record.Set(FieldAllowedIPs, nil) // null: any address
	} else {
		record.Set(FieldAllowedIPs, o.AllowedIPs.Strings())
	}
	record.Set(FieldRateLimit, o.RatePerMinute)
}

// Errors returned by Options.Usable.
var (
	// ErrExpired is returned for a key used at or after its expiry time.
	ErrExpired = errors.New("keystore: key expired")
	// ErrDisabled is returned for a key its owner has paused.
	ErrDisabled = errors.New("keystore: key disabled")
)

// Usable reports whether a key with these options may authenticate at now.
func (o Options) Usable(now time.Time) error {
	if o.Disabled {
		return ErrDisabled
	}
	if o.Expired(now) {
		return ErrExpired
	}
	return nil
}

// Expired reports whether the key has an expiry and it has passed at now.
func (o Options) Expired(now time.Time) bool {
	return !o.ExpiresAt.IsZero() && !now.Before(o.ExpiresAt)
}
