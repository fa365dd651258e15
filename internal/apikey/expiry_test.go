package apikey_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	// 2026-05-10 15:30 in UTC+2, to show the result does not depend on the
	// caller's zone.
	now := time.Date(2026, 5, 10, 17, 30, 0, 0, time.FixedZone("CEST", 2*60*60))
	nowUTC := now.UTC()
	day := 24 * time.Hour

	valid := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"never", time.Time{}},
		{"  Never ", time.Time{}},
		{"1d", nowUTC.Add(day)},
		{"7d", nowUTC.Add(7 * day)},
		{"90d", nowUTC.Add(90 * day)},
		{"90D", nowUTC.Add(90 * day)},
		{"3650d", nowUTC.Add(3650 * day)},
		{"1h", nowUTC.Add(time.Hour)},
		{"12h", nowUTC.Add(12 * time.Hour)},
		{"87600h", nowUTC.Add(87600 * time.Hour)},
		// A date: the key works through that day (UTC).
		{"2027-01-31", time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-12-31", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		// Today (UTC) is allowed: the key works until midnight UTC.
		{"2026-05-10", time.Date(2026, 5, 11, 0, 0, 0, 0, time.UTC)},
		{"2036-05-06", time.Date(2036, 5, 7, 0, 0, 0, 0, time.UTC)},
		{"2027-01-31T18:00:00Z", time.Date(2027, 1, 31, 18, 0, 0, 0, time.UTC)},
		{"2027-01-31t18:00:00z", time.Date(2027, 1, 31, 18, 0, 0, 0, time.UTC)},
		{"2027-01-31T18:00:00+02:00", time.Date(2027, 1, 31, 16, 0, 0, 0, time.UTC)},
		{"2026-05-10T15:31:00Z", time.Date(2026, 5, 10, 15, 31, 0, 0, time.UTC)},
	}
	for _, tc := range valid {
		got, err := apikey.ParseExpiry(tc.in, now)
		if err != nil {
			t.Errorf("ParseExpiry(%q): unexpected error: %v", tc.in, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("ParseExpiry(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if !got.IsZero() && got.Location() != time.UTC {
			t.Errorf("ParseExpiry(%q) is in %v, want UTC", tc.in, got.Location())
		}
	}

	invalid := []struct {
		in      string
		message string // a part of the error a person reads
	}{
		{"0d", `The expiry "0d" is out of range: use 1 to 3650 days`},
		{"-5d", `The expiry "-5d" is out of range`},
		{"3651d", `use 1 to 3650 days, or "never"`},
		{"0h", `use 1 to 87600 hours`},
		{"87601h", `use 1 to 87600 hours`},
		{"99999999999999999999999d", `is out of range`},
		{"90", `For 90 days write 90d.`},
		{"soon", `The expiry "soon" is not understood: use "never", a number of days like "90d"`},
		{"5.5d", `is not understood`},
		{"d", `is not understood`},
		{"90m", `is not understood`},
		{"31/01/2027", `is not understood`},
		{"2027-02-30", `The date "2027-02-30" does not exist`},
		{"2027-13-01", `does not exist`},
		{"2026-05-09", `The date 2026-05-09 is in the past`},
		{"2020-01-01", `is in the past: choose a later one, or "never".`},
		{"2026-05-10T15:30:00Z", `The time 2026-05-10T15:30:00Z is in the past`},
		{"2036-05-07", `The date 2036-05-07 is more than 10 years away`},
		{"2100-01-01T00:00:00Z", `more than 10 years away`},
	}
	for _, tc := range invalid {
		got, err := apikey.ParseExpiry(tc.in, now)
		if err == nil {
			t.Errorf("ParseExpiry(%q) = %v, want an error", tc.in, got)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.message) {
			t.Errorf("ParseExpiry(%q) error %q does not say %q", tc.in, msg, tc.message)
		}
		if msg[0] < 'A' || msg[0] > 'Z' || !strings.HasSuffix(msg, ".") {
			t.Errorf("ParseExpiry(%q) error %q is not a sentence", tc.in, msg)
		}
	}
}
