package keystore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

func TestPolicyUsable(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		options keystore.Options
		want    error
	}{
		{"unrestricted", keystore.Options{}, nil},
		{"expires later", keystore.Options{ExpiresAt: now.Add(time.Second)}, nil},
		{"expires now", keystore.Options{ExpiresAt: now}, keystore.ErrExpired},
		{"expired", keystore.Options{ExpiresAt: now.Add(-time.Hour)}, keystore.ErrExpired},
		{"disabled", keystore.Options{Disabled: true}, keystore.ErrDisabled},
		{"disabled and expired says disabled", keystore.Options{Disabled: true, ExpiresAt: now.Add(-time.Hour)}, keystore.ErrDisabled},
	}
	for _, c := range cases {
		if got := c.options.Usable(now); !errors.Is(got, c.want) {
			t.Errorf("%s: Usable = %v, want %v", c.name, got, c.want)
		}
	}
}

// OptionsOf reads what was stored, and fails closed on what cannot be
// read: permissions reach nothing, addresses allow none.
func TestOptionsOfFailsClosed(t *testing.T) {
	keys := core.NewBaseCollection(keystore.Collection)
	keys.Fields.Add(&core.JSONField{Name: keystore.FieldPermissions}, &core.JSONField{Name: keystore.FieldAllowedIPs})
	for _, c := range []struct {
		name, perms, ips string
		anyAddress       bool
		fullAccess       bool
	}{
		{"nothing stored", "null", "null", true, true},
		{"readable", `{"notes":"read"}`, `["10.0.0.0/8"]`, false, false},
		{"unreadable", `{"notes":"admin"}`, `["10.0.0.1/8"]`, false, false},
	} {
		r := core.NewRecord(keys)
		r.Load(map[string]any{keystore.FieldPermissions: types.JSONRaw(c.perms), keystore.FieldAllowedIPs: types.JSONRaw(c.ips)})
		o := keystore.OptionsOf(r)
		if (o.AllowedIPs == nil) != c.anyAddress || (o.Permissions == nil) != c.fullAccess {
			t.Errorf("%s: %+v", c.name, o)
		}
		if c.name == "unreadable" && (o.AllowedIPs.Allows("10.0.0.1") || len(o.Permissions) != 0) {
			t.Errorf("%s: reaches %v from %v, want nothing from nowhere", c.name, o.Permissions, o.AllowedIPs)
		}
		if c.name == "readable" && (!o.AllowedIPs.Allows("10.1.2.3") || o.AllowedIPs.Allows("11.0.0.1")) {
			t.Errorf("%s: allowed_ips %v", c.name, o.AllowedIPs.Strings())
		}
	}
	if got := keystore.AllowedIPsOf([]byte(`[1]`)); got == nil || len(got) != 0 {
		t.Errorf("AllowedIPsOf an unreadable list = %#v, want empty non-nil", got)
	}
}
