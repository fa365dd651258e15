package apikey_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

func TestPolicyUsable(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		policy apikey.Policy
		want   error
	}{
		{"unrestricted", apikey.Policy{}, nil},
		{"expires later", apikey.Policy{ExpiresAt: now.Add(time.Second)}, nil},
		{"expires now", apikey.Policy{ExpiresAt: now}, apikey.ErrExpired},
		{"expired", apikey.Policy{ExpiresAt: now.Add(-time.Hour)}, apikey.ErrExpired},
		{"disabled", apikey.Policy{Disabled: true}, apikey.ErrDisabled},
		{"disabled and expired says disabled", apikey.Policy{Disabled: true, ExpiresAt: now.Add(-time.Hour)}, apikey.ErrDisabled},
	}
	for _, c := range cases {
		if got := c.policy.Usable(now); !errors.Is(got, c.want) {
			t.Errorf("%s: Usable = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPolicyNarrows(t *testing.T) {
	ro := apikey.Policy{ReadOnly: true, Collections: []string{"notes", "tasks"}}
	for method, want := range map[string]bool{
		http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true,
		http.MethodPost: false, http.MethodPatch: false, http.MethodPut: false, http.MethodDelete: false,
	} {
		if got := ro.AllowsMethod(method); got != want {
			t.Errorf("read-only AllowsMethod(%s) = %v", method, got)
		}
		if !(apikey.Policy{}).AllowsMethod(method) {
			t.Errorf("unrestricted key refuses %s", method)
		}
	}
	if !ro.AllowsCollection("tasks") || ro.AllowsCollection("users") {
		t.Error("allow-list not applied")
	}
	if !(apikey.Policy{}).AllowsCollection("users") {
		t.Error("an empty allow-list must allow every collection")
	}
}

func TestPolicyDescriptions(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	states := []struct {
		policy apikey.Policy
		kind   apikey.StateKind
		text   string
	}{
		{apikey.Policy{}, apikey.StateActive, "Active"},
		{apikey.Policy{Disabled: true}, apikey.StateDisabled, "Disabled"},
		{apikey.Policy{ExpiresAt: now.Add(-time.Second)}, apikey.StateExpired, "Expired"},
		{apikey.Policy{ExpiresAt: now.Add(90 * 24 * time.Hour)}, apikey.StateActive, "Expires in 90 days"},
		{apikey.Policy{ExpiresAt: now.Add(3*24*time.Hour - time.Second)}, apikey.StateExpiring, "Expires in 3 days"},
		{apikey.Policy{ExpiresAt: now.Add(7 * 24 * time.Hour)}, apikey.StateExpiring, "Expires in 7 days"},
		{apikey.Policy{ExpiresAt: now.Add(5 * time.Hour)}, apikey.StateExpiring, "Expires in 5 hours"},
		{apikey.Policy{ExpiresAt: now.Add(30 * time.Minute)}, apikey.StateExpiring, "Expires in 30 minutes"},
		{apikey.Policy{ExpiresAt: now.Add(time.Hour - time.Second)}, apikey.StateExpiring, "Expires in 1 hour"},
		{apikey.Policy{ExpiresAt: now.Add(59 * time.Minute)}, apikey.StateExpiring, "Expires in 59 minutes"},
		{apikey.Policy{ExpiresAt: now.Add(10 * time.Second)}, apikey.StateExpiring, "Expires in 1 minute"},
	}
	for _, s := range states {
		if got := s.policy.State(now); got.Kind != s.kind || got.Text != s.text {
			t.Errorf("State = %+v, want %s %q", got, s.kind, s.text)
		}
	}
	scopes := map[string]apikey.Policy{
		"Full access":              {},
		"Read-only":                {ReadOnly: true},
		"notes, tasks":             {Collections: []string{"notes", "tasks"}},
		"Read-only · notes, tasks": {ReadOnly: true, Collections: []string{"notes", "tasks"}},
	}
	for want, p := range scopes {
		if got := p.Scope(); got != want {
			t.Errorf("Scope = %q, want %q", got, want)
		}
	}
	if got := (apikey.Policy{RatePerMinute: 600}).Rate(); got != "600 requests/min" {
		t.Errorf("Rate = %q", got)
	}
	if got := (apikey.Policy{}).Rate(); got != "No limit" {
		t.Errorf("Rate = %q", got)
	}
}

func TestRateLimiter(t *testing.T) {
	l := apikey.NewRateLimiter()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

	// a burst of the whole minute's allowance, then refusal
	for i := 0; i < 60; i++ {
		if wait := l.Allow("k", 60, now); wait != 0 {
			t.Fatalf("request %d of 60 refused (wait %s)", i+1, wait)
		}
	}
	wait := l.Allow("k", 60, now)
	if wait <= 0 || wait > time.Second {
		t.Fatalf("61st request: wait %s, want up to 1 s (one request per second refills)", wait)
	}
	// a refused request does not use up the allowance
	if w := l.Allow("k", 60, now.Add(wait)); w != 0 {
		t.Fatalf("after waiting %s: still refused (%s)", wait, w)
	}
	// other keys and unlimited keys are independent
	if l.Allow("other", 1, now) != 0 || l.Allow("k", 0, now) != 0 {
		t.Fatal("limits leak across keys")
	}
	// a full minute later the whole burst is back
	later := now.Add(2 * time.Minute)
	for i := 0; i < 60; i++ {
		if w := l.Allow("k", 60, later); w != 0 {
			t.Fatalf("after two minutes, request %d refused", i+1)
		}
	}
}
