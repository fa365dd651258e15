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
	ro := keystore.Options{ReadOnly: true, Collections: []string{"notes", "tasks"}}
	for method, want := range map[string]bool{
		http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true,
		http.MethodPost: false, http.MethodPatch: false, http.MethodPut: false, http.MethodDelete: false,
	} {
		if got := ro.AllowsMethod(method); got != want {
			t.Errorf("read-only AllowsMethod(%s) = %v", method, got)
		}
		if !(keystore.Options{}).AllowsMethod(method) {
			t.Errorf("unrestricted key refuses %s", method)
		}
	}
	if !ro.AllowsCollection("tasks") || ro.AllowsCollection("users") {
		t.Error("allow-list not applied")
	}
	if !(keystore.Options{}).AllowsCollection("users") {
		t.Error("an empty allow-list must allow every collection")
	}
}
