package web_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// createWith posts the New API key form with extra fields and returns the
// response.
func createWith(t *testing.T, c *pagestest.Client, label string, fields url.Values) *pagestest.Response {
	t.Helper()
	form := newKeyForm(t, c, label)
	for name, values := range fields {
		form[name] = values
	}
	return c.Post(pagestest.Paths.Keys, form)
}

// revealedRecord returns the options of the key revealed in res.
func revealedOptions(t *testing.T, srv *pagestest.Server, res *pagestest.Response) (apikey.Key, keystore.Options) {
	t.Helper()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", res.StatusCode, res.Body)
	}
	key, err := apikey.Parse(pagestest.RevealedKey(res.Body))
	if err != nil {
		t.Fatalf("no key revealed: %v", err)
	}
	record, err := srv.Env.Store.FindOwned(srv.Env.Record(t, "users", hookstest.AliceID), key.ID)
	if err != nil {
		t.Fatal(err)
	}
	return key, keystore.OptionsOf(record)
}

func TestCreateKeyExpiry(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	day := 24 * time.Hour

	for _, tc := range []struct {
		choice string
		want   time.Duration // 0: never
	}{
		{"7d", 7 * day}, {"30d", 30 * day}, {"90d", 90 * day}, {"365d", 365 * day}, {"never", 0}, {"", 0},
	} {
		before := time.Now()
		_, opts := revealedOptions(t, srv, createWith(t, c, "expiry "+tc.choice, url.Values{"expires": {tc.choice}}))
		if tc.want == 0 {
			if !opts.ExpiresAt.IsZero() {
				t.Errorf("%q: expires %v, want never", tc.choice, opts.ExpiresAt)
			}
			continue
		}
		if got := opts.ExpiresAt.Sub(before); got < tc.want-time.Second || got > tc.want+time.Minute {
			t.Errorf("%q: expires in %v, want %v", tc.choice, got, tc.want)
		}
	}

	// A custom date: the key works through that day (UTC).
	date := time.Now().UTC().AddDate(0, 0, 10)
	res := createWith(t, c, "custom", url.Values{"expires": {"custom"}, "expires_date": {date.Format(time.DateOnly)}})
	_, opts := revealedOptions(t, srv, res)
	want := time.Date(date.Year(), date.Month(), date.Day()+1, 0, 0, 0, 0, time.UTC)
	if !opts.ExpiresAt.Equal(want) {
		t.Errorf("custom date: expires %v, want %v", opts.ExpiresAt, want)
	}
	// The date field is ignored unless "Custom date" is chosen.
	_, opts = revealedOptions(t, srv, createWith(t, c, "date ignored", url.Values{"expires": {"never"}, "expires_date": {"2020-01-01"}}))
	if !opts.ExpiresAt.IsZero() {
		t.Errorf("a date without Custom: expires %v", opts.ExpiresAt)
	}
	keys := countKeys(t, srv, hookstest.AliceID)

	// Invalid choices: 400, inline message, everything typed kept.
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	for _, tc := range []struct {
		name, choice, date, message string
	}{
		{"past date", "custom", yesterday, "is in the past"},
		{"no date", "custom", "", "Choose the last day the key works"},
		{"not a date", "custom", "31/12/2027", "is not understood"},
		{"no such date", "custom", "2027-02-30", "does not exist"},
		{"too far", "custom", "2999-01-01", "more than 10 years away"},
		{"unknown choice", "5d", "", "Choose when the key expires."},
	} {
		res := createWith(t, c, "bad "+tc.name, url.Values{
			"expires": {tc.choice}, "expires_date": {tc.date}, "rate_limit": {"60"},
			"access": {"custom"}, "perm.notes": {"read"}, "allowed_ips": {"10.0.0.0/8"},
		})
		if res.StatusCode != http.StatusBadRequest || pagestest.RevealedKey(res.Body) != "" {
			t.Errorf("%s: status %d", tc.name, res.StatusCode)
		}
		if !strings.Contains(res.Body, `data-testid="expires-error">`) || !strings.Contains(res.Body, tc.message) {
			t.Errorf("%s: no inline %q", tc.name, tc.message)
		}
		if pagestest.InputValue(res.Body, "label") != "bad "+tc.name || pagestest.InputValue(res.Body, "expires_date") != tc.date ||
			pagestest.InputValue(res.Body, "rate_limit") != "60" || checkedValue(res.Body, "access") != "custom" ||
			checkedValue(res.Body, "perm.notes") != "read" || textareaValue(res.Body, "allowed_ips") != "10.0.0.0/8" {
			t.Errorf("%s: typed values not kept", tc.name)
		}
		if tc.choice == "custom" && !strings.Contains(res.Body, `<option value="custom" selected>`) {
			t.Errorf("%s: Custom date not kept selected", tc.name)
		}
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != keys {
		t.Errorf("invalid expiries created %d keys", n-keys)
	}

	// The form offers the choices, Never by default.
	page := c.Get(pagestest.Paths.NewKey).Body
	for _, want := range []string{
		`<option value="7d">7 days</option>`, `<option value="30d">30 days</option>`, `<option value="90d">90 days</option>`,
		`<option value="365d">1 year</option>`, `<option value="custom">Custom date…</option>`, `<option value="never" selected>Never</option>`,
		`type="date"`, `<label for="expires">Expires</label>`, `<label for="expires-date">Custom date</label>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("form lacks %s", want)
		}
	}
}

func TestCreateKeyRateLimit(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)

	_, opts := revealedOptions(t, srv, createWith(t, c, "limited", url.Values{"rate_limit": {"600"}}))
	if opts.RatePerMinute != 600 {
		t.Errorf("stored %+v", opts)
	}
	if list := c.Get(pagestest.Paths.Keys).Body; !strings.Contains(list, `data-testid="key-rate">600 requests/min</span>`) {
		t.Error("the list does not show the rate limit")
	}
	// Blank: no limit.
	_, opts = revealedOptions(t, srv, createWith(t, c, "plain", url.Values{"rate_limit": {""}}))
	if opts.RatePerMinute != 0 {
		t.Errorf("plain key stored %+v", opts)
	}
	keys := countKeys(t, srv, hookstest.AliceID)

	// Refused inline, with everything kept.
	for _, tc := range []struct {
		name, rate, message string
	}{
		{"not a number", "fast", "Enter a whole number"},
		{"negative", "-5", "Enter a whole number"},
		{"too high", "2000000", "at most 1000000"},
	} {
		res := createWith(t, c, "kept", url.Values{"rate_limit": {tc.rate}, "access": {"custom"}, "perm.notes": {"write"}})
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d", tc.name, res.StatusCode)
		}
		if !strings.Contains(res.Body, `data-testid="rate-error">`) || !strings.Contains(res.Body, tc.message) {
			t.Errorf("%s: no inline %q", tc.name, tc.message)
		}
		if pagestest.InputValue(res.Body, "label") != "kept" || pagestest.InputValue(res.Body, "rate_limit") != tc.rate ||
			checkedValue(res.Body, "perm.notes") != "write" {
			t.Errorf("%s: typed values not kept", tc.name)
		}
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != keys {
		t.Errorf("refused forms created %d keys", n-keys)
	}
}

func TestListShowsStateScopeAndRate(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	store := srv.Env.Store
	now := time.Now()
	issue := func(opts keystore.Options) string {
		t.Helper()
		r, _, err := store.Issue(srv.Env.Alice(t), opts, keystore.Origin{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Id
	}
	issue(keystore.Options{Label: "soon", ExpiresAt: now.Add(3*24*time.Hour + time.Minute),
		Permissions: permissions.Set{"notes": permissions.Read, "users": permissions.Read}})
	issue(keystore.Options{Label: "from the office",
		Permissions: permissions.Set{"notes": permissions.Write, "secrets": permissions.Read, permissions.Routes: permissions.Read},
		AllowedIPs:  addrlist.List{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}})
	issue(keystore.Options{Label: "later", ExpiresAt: now.Add(30*24*time.Hour + time.Minute), RatePerMinute: 600})
	expired := issue(keystore.Options{Label: "old", ExpiresAt: now.Add(time.Hour)})
	record, _ := store.Find(expired)
	record.Set(keystore.FieldExpires, now.Add(-time.Hour))
	if err := srv.Env.App.Save(record); err != nil {
		t.Fatal(err)
	}
	paused := issue(keystore.Options{Label: "paused"})
	if _, err := store.SetDisabled(srv.Env.Alice(t), paused, true); err != nil {
		t.Fatal(err)
	}

	body := c.Get(pagestest.Paths.Keys).Body
	for _, want := range []string{
		`state state-expiring" data-testid="key-state"><time datetime=`,
		`<span aria-hidden="true">⚠ </span>Expires in 3 days: roll it to keep apps working.</strong>`,
		`title="Expires ` + now.Add(3*24*time.Hour).UTC().Format("2006-01-02"),
		`>Expires in 3 days</time>`,
		`data-testid="key-scope">Read notes, users</span>`,
		`data-testid="key-scope">Write notes; read secrets; app routes: read · from 10.0.0.0/8, 2001:db8::/32</span>`,
		`state state-active" data-testid="key-state"><time`, `>Expires in 30 days</time>`,
		`data-testid="key-rate">600 requests/min</span>`,
		`state state-expired" data-testid="key-state"><time`, `title="Expired `, `>Expired</time>`,
		`state state-disabled" data-testid="key-state">Disabled</span>`,
		`aria-label="Enable paused" data-testid="enable">Enable</button>`,
		`state state-active" data-testid="key-state">Active</span>`,
		`data-testid="key-scope">Full access</span>`,
		`aria-label="Roll ` + hookstest.AliceKeyLabel + `"`,
		`aria-label="Disable ` + hookstest.AliceKeyLabel + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("list lacks %s", want)
		}
	}
	// said in the row, not only by the badge's colour: the expiring key
	// only (the one expiring in 30 days, the expired and the disabled not)
	if strings.Count(body, `data-testid="expires-soon"`) != 1 {
		t.Error("want exactly one key said to expire soon")
	}
	if strings.Count(body, `data-testid="key-rate"`) != 1 {
		t.Error("a rate is shown for an unlimited key")
	}
}

func TestDisableEnable(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	csrf := url.Values{"csrf": {pagestest.InputValue(c.Get(pagestest.Paths.Keys).Body, "csrf")}}

	res := c.Post(pagestest.Paths.Disable(hookstest.AliceKeyID), csrf)
	if res.StatusCode != http.StatusSeeOther || res.Location() != pagestest.Paths.Keys {
		t.Fatalf("disable: %d to %q", res.StatusCode, res.Location())
	}
	list := c.Get(pagestest.Paths.Keys).Body
	if !strings.Contains(list, "Disabled ‘"+hookstest.AliceKeyLabel+"’. Apps using it get 401 until you enable it again.") {
		t.Error("no message after disabling")
	}
	if !strings.Contains(list, `data-testid="enable"`) {
		t.Error("no Enable button for the disabled key")
	}
	if code := srv.APIGet(t, pagestest.AliceNotePath, hookstest.AliceKey); code != http.StatusUnauthorized {
		t.Errorf("disabled key: %d, want 401", code)
	}

	// Someone else's key and unknown ids: 404, nothing changes.
	for _, id := range []string{hookstest.BobKeyID, "doesnotexist123"} {
		for _, path := range []string{pagestest.Paths.Disable(id), pagestest.Paths.Enable(id)} {
			if res := c.Post(path, csrf); res.StatusCode != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", path, res.StatusCode)
			}
		}
	}
	if r, _ := srv.Env.Store.Find(hookstest.BobKeyID); r.GetBool(keystore.FieldDisabled) {
		t.Error("Bob's key was disabled")
	}

	res = c.Post(pagestest.Paths.Enable(hookstest.AliceKeyID), csrf)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", res.StatusCode)
	}
	if !strings.Contains(c.Get(pagestest.Paths.Keys).Body, "Enabled ‘"+hookstest.AliceKeyLabel+"’. Apps using it can call the API again.") {
		t.Error("no message after enabling")
	}
	if code := srv.APIGet(t, pagestest.AliceNotePath, hookstest.AliceKey); code != 200 {
		t.Errorf("enabled key: %d, want 200", code)
	}
	// Disable is an action, not a page.
	if res := c.Get(pagestest.Paths.Disable(hookstest.AliceKeyID)); res.StatusCode == http.StatusOK {
		t.Error("GET disables")
	}
}

// rollForm opens the Roll page of key id and returns its form values.
func rollForm(t *testing.T, c *pagestest.Client, id, grace string) url.Values {
	t.Helper()
	page := c.Get(pagestest.Paths.Roll(id))
	if page.StatusCode != 200 {
		t.Fatalf("roll page: %d", page.StatusCode)
	}
	return url.Values{
		"csrf":  {pagestest.InputValue(page.Body, "csrf")},
		"nonce": {pagestest.InputValue(page.Body, "nonce")},
		"grace": {grace},
	}
}

func TestRollKey(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)

	page := c.Get(pagestest.Paths.Roll(hookstest.AliceKeyID))
	for _, want := range []string{
		"<title>Roll API key · pbkeys</title>", "Roll ‘" + hookstest.AliceKeyLabel + "’?",
		"Keep the old key working for", `value="now"`, `value="1h"`, `value="24h" checked`, `value="7d"`,
		"Now", "1 hour", "24 hours", "7 days",
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("roll page lacks %q", want)
		}
	}

	// Someone else's key and unknown ids: 404 for the page and the action.
	for _, id := range []string{hookstest.BobKeyID, "doesnotexist123"} {
		if res := c.Get(pagestest.Paths.Roll(id)); res.StatusCode != http.StatusNotFound {
			t.Errorf("roll page %s: %d", id, res.StatusCode)
		}
		f := rollForm(t, c, hookstest.AliceKeyID, "1h")
		if res := c.Post(pagestest.Paths.Roll(id), f); res.StatusCode != http.StatusNotFound || pagestest.RevealedKey(res.Body) != "" {
			t.Errorf("roll %s: %d, want 404", id, res.StatusCode)
		}
	}
	if n := countKeys(t, srv, hookstest.BobID); n != 1 {
		t.Errorf("Bob has %d keys", n)
	}
	if r, _ := srv.Env.Store.Find(hookstest.BobKeyID); !r.GetDateTime(keystore.FieldExpires).IsZero() {
		t.Error("Bob's key got an expiry")
	}
	// An unknown grace period: asked again, nothing rolled.
	res := c.Post(pagestest.Paths.Roll(hookstest.AliceKeyID), rollForm(t, c, hookstest.AliceKeyID, "forever"))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "Choose how long the old key keeps working.") {
		t.Errorf("unknown grace: %d", res.StatusCode)
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 1 {
		t.Fatalf("Alice has %d keys before rolling", n)
	}

	// Her own key, with an hour's grace.
	form := rollForm(t, c, hookstest.AliceKeyID, "1h")
	before := time.Now()
	res = c.Post(pagestest.Paths.Roll(hookstest.AliceKeyID), form)
	key, opts := revealedOptions(t, srv, res)
	if opts.Label != hookstest.AliceKeyLabel {
		t.Errorf("new key label %q", opts.Label)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("reveal Cache-Control %q", got)
	}
	if strings.Contains(res.Header.Get("Location"), key.Secret) || len(res.Cookies()) > 0 && slices.ContainsFunc(res.Cookies(), func(ck *http.Cookie) bool {
		return strings.Contains(ck.Value, key.Secret)
	}) {
		t.Error("the key is in a URL or cookie")
	}
	for _, want := range []string{
		"New key for “" + hookstest.AliceKeyLabel + "”", "will not be shown again",
		"The old key " + hookstest.AliceKeyID + ".•••••••• keeps working until", "(expires in 1 hour)",
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("reveal lacks %q", want)
		}
	}
	old, _ := srv.Env.Store.Find(hookstest.AliceKeyID)
	if exp := old.GetDateTime(keystore.FieldExpires).Time(); exp.Sub(before) < time.Hour-time.Second || exp.Sub(before) > time.Hour+time.Minute {
		t.Errorf("old key expires %v after the roll", exp.Sub(before))
	}
	for _, k := range []string{key.String(), hookstest.AliceKey} {
		if code := srv.APIGet(t, pagestest.AliceNotePath, k); code != 200 {
			t.Errorf("after the roll %s…: %d, want 200", k[:16], code)
		}
	}
	if !strings.Contains(c.Get(pagestest.Paths.Keys).Body, ">Expires in 1 hour</time>") {
		t.Error("the list does not show the old key expiring in 1 hour")
	}

	// Reloading the reveal re-posts the form: no second roll.
	for i := 0; i < 2; i++ {
		again := c.Post(pagestest.Paths.Roll(hookstest.AliceKeyID), form)
		if again.StatusCode != http.StatusSeeOther || again.Location() != pagestest.Paths.Keys || strings.Contains(again.Body, key.Secret) {
			t.Fatalf("resubmission: %d to %q", again.StatusCode, again.Location())
		}
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 2 {
		t.Errorf("Alice has %d keys after resubmitting, want 2", n)
	}
	list := c.Get(pagestest.Paths.Keys).Body
	if !strings.Contains(list, "was already rolled with this form, so it was not rolled again") || strings.Contains(list, key.Secret) {
		t.Error("resubmission not explained, or the key shown again")
	}
	// A form that was never issued rolls nothing.
	form.Set("nonce", "made-up")
	if res := c.Post(pagestest.Paths.Roll(hookstest.AliceKeyID), form); res.StatusCode != http.StatusBadRequest ||
		!strings.Contains(res.Body, "This form has expired") {
		t.Errorf("unknown nonce: %d", res.StatusCode)
	}

	// A key is rolled once: the list offers no second roll, and a fresh
	// form for it is refused with the replacement's id.
	if list := c.Get(pagestest.Paths.Keys).Body; !strings.Contains(list, "Rolled to <code>"+key.ID+"</code>") ||
		strings.Contains(list, `href="`+pagestest.Paths.Roll(hookstest.AliceKeyID)+`"`) {
		t.Error("the list still offers to roll the rolled key, or does not name its replacement")
	}
	if res := c.Post(pagestest.Paths.Roll(hookstest.AliceKeyID), rollForm(t, c, hookstest.AliceKeyID, "1h")); res.StatusCode != http.StatusConflict ||
		!strings.Contains(res.Body, "already rolled; roll its replacement "+key.ID) || pagestest.RevealedKey(res.Body) != "" {
		t.Errorf("second roll of the same key: %d", res.StatusCode)
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 2 {
		t.Errorf("Alice has %d keys after a refused second roll, want 2", n)
	}

	// "Now": the old key stops at once and is listed as expired.
	res = c.Post(pagestest.Paths.Roll(key.ID), rollForm(t, c, key.ID, "now"))
	newer, _ := revealedOptions(t, srv, res)
	if !strings.Contains(res.Body, "The old key "+key.ID+".•••••••• has stopped working.") {
		t.Error("reveal does not say the old key stopped")
	}
	if code := srv.APIGet(t, pagestest.AliceNotePath, key.String()); code != http.StatusUnauthorized {
		t.Errorf("old key after rolling now: %d, want 401", code)
	}
	if code := srv.APIGet(t, pagestest.AliceNotePath, newer.String()); code != 200 {
		t.Errorf("newest key: %d", code)
	}
	if !strings.Contains(c.Get(pagestest.Paths.Keys).Body, ">Expired</time>") {
		t.Error("the list does not show the old key expired")
	}
}
