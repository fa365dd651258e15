package keystore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
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

func TestOptionsOfFailsClosed(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	key, err := env.Store.Find(hookstest.AliceKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if o := keystore.OptionsOf(key); o.Permissions != nil || o.AllowedIPs != nil {
		t.Fatalf("a key without permissions or addresses: %+v", o)
	}
	// What the record rules refuse, found in the database anyway (edited
	// by hand): it reaches nothing, from nowhere.
	key.Set(keystore.FieldPermissions, `{"notes":"admin"}`)
	key.Set(keystore.FieldAllowedIPs, `["not an address"]`)
	o := keystore.OptionsOf(key)
	if o.Permissions == nil || o.Permissions.Allows("notes", permissions.Read) || o.Permissions.RoutesLevel() != permissions.None {
		t.Errorf("unreadable permissions: %+v, want nothing", o.Permissions)
	}
	if o.AllowedIPs == nil || o.AllowedIPs.Allows("127.0.0.1") {
		t.Errorf("unreadable addresses: %+v, want none", o.AllowedIPs)
	}
}
