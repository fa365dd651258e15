package web_test

import (
	"html"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
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
			"expires": {tc.choice}, "expires_date": {tc.date}, "read_only": {"on"}, "rate_limit": {"60"},
		})
		if res.StatusCode != http.StatusBadRequest || pagestest.RevealedKey(res.Body) != "" {
			t.Errorf("%s: status %d", tc.name, res.StatusCode)
		}
		if !strings.Contains(res.Body, `data-testid="expires-error">`) || !strings.Contains(res.Body, tc.message) {
			t.Errorf("%s: no inline %q", tc.name, tc.message)
		}
		if pagestest.InputValue(res.Body, "label") != "bad "+tc.name || pagestest.InputValue(res.Body, "expires_date") != tc.date ||
			pagestest.InputValue(res.Body, "rate_limit") != "60" || !strings.Contains(res.Body, `value="on" checked`) {
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

func TestCreateKeyScopes(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)

	res := createWith(t, c, "dashboard reader", url.Values{
		"read_only": {"on"}, "collections": {hookstest.NotesCollection}, "rate_limit": {"600"},
	})
	key, opts := revealedOptions(t, srv, res)
	// read-only and one collection: read that collection and the app's routes (keyform.go)
	if want := (permissions.Set{hookstest.NotesCollection: permissions.Read, permissions.Routes: permissions.Read}); !maps.Equal(opts.Permissions, want) || opts.RatePerMinute != 600 {
		t.Errorf("stored %+v", opts)
	}
	// The key is what the form said: it reads a note, and may not write.
	if code := srv.APIGet(t, pagestest.AliceNotePath, key.String()); code != 200 {
		t.Errorf("read-only key GET: %d", code)
	}
	list := c.Get(pagestest.Paths.Keys).Body
	for _, want := range []string{"Read notes; app routes: read", "600 requests/min"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q", want)
		}
	}

	// Nothing chosen: full access, no limit.
	_, opts = revealedOptions(t, srv, createWith(t, c, "plain", url.Values{"rate_limit": {""}}))
	if opts.Permissions != nil || opts.AllowedIPs != nil || opts.RatePerMinute != 0 {
		t.Errorf("plain key stored %+v", opts)
	}
	keys := countKeys(t, srv, hookstest.AliceID)

	// The form offers the app's collections, not api_keys nor system ones.
	page := c.Get(pagestest.Paths.NewKey).Body
	if !strings.Contains(page, `name="collections" value="notes"`) || strings.Contains(page, `value="api_keys"`) ||
		strings.Contains(page, `value="_superusers"`) || !strings.Contains(page, "Check none for all collections") {
		t.Error("collections offered wrongly")
	}

	// Refused inline, with everything kept.
	for _, tc := range []struct {
		name    string
		fields  url.Values
		testid  string
		message string
	}{
		{"unknown collection", url.Values{"collections": {"notes", "nosuch"}}, "collections-error", `There is no collection named &#34;nosuch&#34;`},
		{"api_keys", url.Values{"collections": {"api_keys"}}, "collections-error", "API keys cannot be given permissions on the"},
		{"api_key_usage", url.Values{"collections": {"api_key_usage"}}, "collections-error", "API keys cannot be given permissions on the"},
		{"system collection", url.Values{"collections": {"_superusers"}}, "collections-error", "API keys cannot be given permissions on the"},
		{"rate not a number", url.Values{"rate_limit": {"fast"}}, "rate-error", "Enter a whole number"},
		{"negative rate", url.Values{"rate_limit": {"-5"}}, "rate-error", "Enter a whole number"},
		{"rate too high", url.Values{"rate_limit": {"2000000"}}, "rate-error", "at most 1000000"},
	} {
		tc.fields.Set("read_only", "on")
		res := createWith(t, c, "kept", tc.fields)
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d", tc.name, res.StatusCode)
		}
		if !strings.Contains(res.Body, `data-testid="`+tc.testid+`">`) || !strings.Contains(res.Body, tc.message) {
			t.Errorf("%s: no inline %q", tc.name, tc.message)
		}
		if pagestest.InputValue(res.Body, "label") != "kept" || !strings.Contains(res.Body, `value="on" checked`) {
			t.Errorf("%s: typed values not kept", tc.name)
		}
		if rate := tc.fields.Get("rate_limit"); rate != "" && pagestest.InputValue(res.Body, "rate_limit") != rate {
			t.Errorf("%s: rate not kept", tc.name)
		}
		if slices.Contains(tc.fields["collections"], "notes") && !strings.Contains(res.Body, `value="notes" checked`) {
			t.Errorf("%s: checked collection not kept", tc.name)
		}
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != keys {
		t.Errorf("refused forms created %d keys", n-keys)
	}
}

// offeredScopes returns the collections a page offers as a key's scope.
func offeredScopes(page string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`<input type="checkbox" name="collections" value="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		names = append(names, html.UnescapeString(m[1]))
	}
	return names
}

// TestScopeChoicesAreTheScopableCollections: the New API key page and the
// list's dialog offer exactly the collections a key may be scoped to (the
// keystore's one definition), to owners and administrators alike: the
// app's own collections, never pbkeys' nor PocketBase's system ones.
func TestScopeChoicesAreTheScopableCollections(t *testing.T) {
	t.Parallel()
	srv, alice := signedIn(t)
	admin := srv.Client(t)
	admin.Login(hookstest.SuperuserEmail, hookstest.Password)
	scopable, err := keystore.ScopableCollections(srv.Env.App)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range scopable {
		want = append(want, c.Name)
	}
	for _, own := range []string{"users", hookstest.NotesCollection, hookstest.SecretsCollection, hookstest.CommentsCollection} {
		if !slices.Contains(want, own) {
			t.Fatalf("%s is not scopable: %v", own, want)
		}
	}
	for who, c := range map[string]*pagestest.Client{"owner": alice, "administrator": admin} {
		for _, path := range []string{pagestest.Paths.NewKey, pagestest.Paths.Keys} {
			page := c.Get(path)
			if got := offeredScopes(page.Body); page.StatusCode != 200 || !slices.Equal(got, want) {
				t.Errorf("%s, %s: %d, offers %v, want %v", who, path, page.StatusCode, got, want)
			}
			for _, never := range []string{keystore.Collection, keystore.UsageCollection, "_superusers", "_mfas", "_otps", "_externalAuths", "_authOrigins"} {
				if strings.Contains(page.Body, `value="`+never+`"`) {
					t.Errorf("%s, %s offers %s", who, path, never)
				}
			}
		}
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
	issue(keystore.Options{Label: "soon", ExpiresAt: now.Add(3*24*time.Hour + time.Minute), Permissions: permissions.Set{"notes": permissions.Read, "users": permissions.Read, permissions.Routes: permissions.Read}})
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
		`title="Expires ` + now.Add(3*24*time.Hour).UTC().Format("2006-01-02"),
		`>Expires in 3 days</time>`,
		`data-testid="key-scope">Read notes, users; app routes: read</span>`,
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
