package humanize_test

import (
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

func TestKeyDescriptions(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	states := []struct {
		options keystore.Options
		kind    humanize.StateKind
		text    string
	}{
		{keystore.Options{}, humanize.StateActive, "Active"},
		{keystore.Options{Disabled: true}, humanize.StateDisabled, "Disabled"},
		{keystore.Options{ExpiresAt: now.Add(-time.Second)}, humanize.StateExpired, "Expired"},
		{keystore.Options{ExpiresAt: now.Add(90 * 24 * time.Hour)}, humanize.StateActive, "Expires in 90 days"},
		{keystore.Options{ExpiresAt: now.Add(3*24*time.Hour - time.Second)}, humanize.StateExpiring, "Expires in 3 days"},
		{keystore.Options{ExpiresAt: now.Add(7 * 24 * time.Hour)}, humanize.StateExpiring, "Expires in 7 days"},
		{keystore.Options{ExpiresAt: now.Add(5 * time.Hour)}, humanize.StateExpiring, "Expires in 5 hours"},
		{keystore.Options{ExpiresAt: now.Add(30 * time.Minute)}, humanize.StateExpiring, "Expires in 30 minutes"},
		{keystore.Options{ExpiresAt: now.Add(time.Hour - time.Second)}, humanize.StateExpiring, "Expires in 1 hour"},
		{keystore.Options{ExpiresAt: now.Add(59 * time.Minute)}, humanize.StateExpiring, "Expires in 59 minutes"},
		{keystore.Options{ExpiresAt: now.Add(10 * time.Second)}, humanize.StateExpiring, "Expires in 1 minute"},
	}
	for _, s := range states {
		if got := humanize.KeyState(s.options, now); got.Kind != s.kind || got.Text != s.text {
			t.Errorf("State = %+v, want %s %q", got, s.kind, s.text)
		}
	}
	anywhere, _ := addrlist.Parse([]byte(`["10.0.0.0/8","2001:db8::1"]`))
	scopes := map[string]keystore.Options{
		"Full access": {},
		"Other collections: read; app routes: read":              {Permissions: permissions.Set{permissions.Others: permissions.Read, permissions.Routes: permissions.Read}},
		"Write notes, tasks":                                     {Permissions: permissions.Set{"notes": permissions.Write, "tasks": permissions.Write}},
		"Write tasks; read notes · from 10.0.0.0/8, 2001:db8::1": {Permissions: permissions.Set{"notes": permissions.Read, "tasks": permissions.Write}, AllowedIPs: anywhere},
		"Full access · from 10.0.0.0/8, 2001:db8::1":             {AllowedIPs: anywhere},
	}
	for want, p := range scopes {
		if got := humanize.Scope(p); got != want {
			t.Errorf("Scope = %q, want %q", got, want)
		}
	}
	if got := humanize.Rate(keystore.Options{RatePerMinute: 600}); got != "600 requests/min" {
		t.Errorf("Rate = %q", got)
	}
	if got := humanize.Rate(keystore.Options{}); got != "No limit" {
		t.Errorf("Rate = %q", got)
	}
}

func TestTimes(t *testing.T) {
	now := time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{-time.Minute, "just now"}, // clock skew
		{10 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{59 * time.Minute, "59 minutes ago"},
		{time.Hour, "1 hour ago"},
		{23 * time.Hour, "23 hours ago"},
		{30 * time.Hour, "yesterday"},
		{3 * 24 * time.Hour, "3 days ago"},
		{60 * 24 * time.Hour, "on Mar 21"},
		{400 * 24 * time.Hour, "on Apr 15, 2025"},
	} {
		if got := humanize.Ago(now.Add(-tc.ago), now); got != tc.want {
			t.Errorf("%v ago: %q, want %q", tc.ago, got, tc.want)
		}
	}
	if got := humanize.Wait(45); got != "45 s" {
		t.Errorf("humanize.Wait(45) = %q", got)
	}
	if got := humanize.Wait(250); got != "4 min 10 s" {
		t.Errorf("humanize.Wait(250) = %q", got)
	}
}

func TestDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour:          "1 hour",
		24 * time.Hour:     "24 hours",
		7 * 24 * time.Hour: "7 days",
		59 * time.Minute:   "59 minutes",
		10 * time.Second:   "1 minute",
	} {
		if got := humanize.Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 39330: "39,330", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := humanize.Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
