package keystore_test

import (
	"errors"
	"testing"
	"time"

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

func TestPolicyNarrows(t *testing.T) {
	ro := keystore.Options{Permissions: permissions.Set{"notes": permissions.Read, "tasks": permissions.Read, permissions.Routes: permissions.Read}}
	if ro.Permissions.RoutesLevel() != permissions.Read || (keystore.Options{}).Permissions.RoutesLevel() != permissions.Write {
		t.Error("routes level not applied")
	}
	if !ro.Permissions.Allows("tasks", permissions.Read) || ro.Permissions.Allows("tasks", permissions.Write) || ro.Permissions.Allows("users", permissions.Read) {
		t.Error("permissions not applied")
	}
	if !(keystore.Options{}).Permissions.Allows("users", permissions.Write) {
		t.Error("no permissions must allow every collection")
	}
}
