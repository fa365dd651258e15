package web

import (
	"testing"
	"time"
)

func TestRelativeTime(t *testing.T) {
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
		if got := relativeTime(now.Add(-tc.ago), now); got != tc.want {
			t.Errorf("%v ago: %q, want %q", tc.ago, got, tc.want)
		}
	}
	if got := humanSeconds(45); got != "45 s" {
		t.Errorf("humanSeconds(45) = %q", got)
	}
	if got := humanSeconds(250); got != "4 min 10 s" {
		t.Errorf("humanSeconds(250) = %q", got)
	}
}
