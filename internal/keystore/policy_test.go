package keystore_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

func TestPolicyUsable(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		policy keystore.Policy
		want   error
	}{
		{"unrestricted", keystore.Policy{}, nil},
		{"expires later", keystore.Policy{ExpiresAt: now.Add(time.Second)}, nil},
		{"expires now", keystore.Policy{ExpiresAt: now}, keystore.ErrExpired},
		{"expired", keystore.Policy{ExpiresAt: now.Add(-time.Hour)}, keystore.ErrExpired},
		{"disabled", keystore.Policy{Disabled: true}, keystore.ErrDisabled},
		{"disabled and expired says disabled", keystore.Policy{Disabled: true, ExpiresAt: now.Add(-time.Hour)}, keystore.ErrDisabled},
	}
	for _, c := range cases {
		if got := c.policy.Usable(now); !errors.Is(got, c.want) {
			t.Errorf("%s: Usable = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPolicyNarrows(t *testing.T) {
	ro := keystore.Policy{ReadOnly: true, Collections: []string{"notes", "tasks"}}
	for method, want := range map[string]bool{
		http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true,
		http.MethodPost: false, http.MethodPatch: false, http.MethodPut: false, http.MethodDelete: false,
	} {
		if got := ro.AllowsMethod(method); got != want {
			t.Errorf("read-only AllowsMethod(%s) = %v", method, got)
		}
		if !(keystore.Policy{}).AllowsMethod(method) {
			t.Errorf("unrestricted key refuses %s", method)
		}
	}
	if !ro.AllowsCollection("tasks") || ro.AllowsCollection("users") {
		t.Error("allow-list not applied")
	}
	if !(keystore.Policy{}).AllowsCollection("users") {
		t.Error("an empty allow-list must allow every collection")
	}
}
