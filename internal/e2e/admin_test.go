package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
)

// seedUsage records a key's last use and its requests on each of the last
// 30 days (perDay(0) is 29 days ago, perDay(29) today), as the usage
// recorder would have written them.
func seedUsage(t *testing.T, srv *pagestest.Server, keyID, ip, userAgent string, perDay func(day int) int64) {
	t.Helper()
	today := time.Now().UTC()
	u := usage.KeyUsage{KeyID: keyID, LastUsed: time.Now().Add(-7 * time.Minute), IP: ip, UserAgent: userAgent}
	for i := range usage.Window {
		if n := perDay(i); n > 0 {
			day := today.AddDate(0, 0, i-(usage.Window-1)).Format(time.DateOnly)
			u.Days = append(u.Days, usage.Day{Day: day, Requests: n})
		}
	}
	if err := usage.Write(srv.Env.App, []usage.KeyUsage{u}); err != nil {
		t.Fatal(err)
	}
}

// deployPattern is a deploy job's week: busy on weekdays, quiet at weekends.
func deployPattern(day int) int64 {
	if day%7 == 5 || day%7 == 6 {
		return int64(3 + day%3)
	}
	return int64(40 + (day*37)%60)
}

// signInAs signs in on the sign-in page with the mouse.
func signInAs(t *testing.T, ctx context.Context, srv *pagestest.Server, email string) {
	t.Helper()
	do(t, ctx, "sign in as "+email, chromedp.Navigate(srv.URL+"/api-keys/login"),
		chromedp.SendKeys(css("#email"), email),
		chromedp.SendKeys(css("#password"), hookstest.Password),
		chromedp.Click(css(`form[action="/api-keys/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`[data-testid=signed-in-email]`)),
	)
}

// TestBrowserSuperuser is what an operator does for a service account: sign
// in with the superuser account, find the service account's keys, create
// one (revealed once), pause it, roll the old one, revoke the new one.
func TestBrowserSuperuser(t *testing.T) {
	ctx := newTab(t)
	srv := pagestest.StartWith(t, hookstest.ServiceAccounts)
	seedUsage(t, srv, hookstest.BotKeyID, "10.0.4.17", "github-actions-runner/2.321.0 (deploy.yml)", deployPattern)
	grantClipboard(t, ctx, srv)
	signInAs(t, ctx, srv, hookstest.SuperuserEmail)
	if badge := run(t, ctx, "badge", chromedp.Text(css(`[data-testid=admin-badge]`))); badge != "Administrator" {
		t.Errorf("badge %q", badge)
	}
	html := listPage(t, ctx)
	for _, id := range []string{hookstest.AliceKeyID, hookstest.BobKeyID, hookstest.BotKeyID} {
		if !strings.Contains(html, id) {
			t.Errorf("the administrator's list lacks %s", id)
		}
	}

	// Only the service account's keys.
	do(t, ctx, "filter by owner",
		chromedp.SetValue(css(`[data-testid=filter-collection]`), hookstest.ServiceAccountsCollection),
		chromedp.SendKeys(css(`[data-testid=filter-owner]`), hookstest.BotEmail),
		chromedp.Click(css(`[data-testid=apply-filters]`)),
		chromedp.WaitVisible(css(`[data-testid=revoke-all]`)),
	)
	html = listPage(t, ctx)
	if strings.Contains(html, hookstest.AliceKeyID) || !strings.Contains(html, hookstest.BotKeyID) {
		t.Fatal("the filtered list is not the bot's")
	}
	if owner := rowText(t, ctx, hookstest.BotKeyID, `[data-testid=key-owner]`); owner != hookstest.BotEmail {
		t.Errorf("owner %q", owner)
	}
	if label := run(t, ctx, "chart", chromedp.AttributeValue(css(fmt.Sprintf(`tr[data-key-id=%q] svg`, hookstest.BotKeyID)), "aria-label")).Value; !strings.HasSuffix(label, "requests in the last 30 days") {
		t.Errorf("the chart says %q", label)
	}
	dir := artifactsDir(t)
	save(t, dir, "api-keys-admin.png", run(t, ctx, "screenshot", chromedp.FullScreenshot(100)))

	// A new key for the service account: the dialog already names it.
	do(t, ctx, "open the dialog",
		chromedp.Click(css(`[data-testid=new-key]`)),
		chromedp.WaitVisible(css(`#dialog-owner`)),
	)
	if owner := run(t, ctx, "owner", chromedp.Value(css(`#dialog-owner`))); owner != hookstest.BotEmail {
		t.Errorf("the dialog's owner is %q", owner)
	}
	do(t, ctx, "create",
		chromedp.SendKeys(css(`#dialog-label`), "Nightly deploy"),
		chromedp.Click(css(`#new-key-dialog [data-testid=create-key]`)),
		chromedp.WaitVisible(css(`[data-testid=revealed-key]`)),
	)
	if who := run(t, ctx, "reveal owner", chromedp.Text(css(`[data-testid=reveal-owner]`))); !strings.Contains(who, "service_accounts/"+hookstest.BotEmail) {
		t.Errorf("the reveal says %q", who)
	}
	key := copyRevealed(t, ctx)
	created, err := apikey.Parse(key)
	if err != nil {
		t.Fatalf("copied %q: %v", key, err)
	}
	if code := apiStatus(t, srv, http.MethodGet, hookstest.BotOwner.NoteURL(), key, ""); code != 200 {
		t.Fatalf("the new key on the bot's note: %d", code)
	}
	do(t, ctx, "done", chromedp.Click(css(`[data-testid=reveal-done]`)), chromedp.WaitNotPresent(css(`#reveal-dialog`)))
	// the page went back to the bot's list, without the key
	if html := listPage(t, ctx); strings.Contains(html, created.Secret) || strings.Contains(html, hookstest.AliceKeyID) {
		t.Error("after the reveal: the key is still in the page, or the list is not the bot's")
	}

	// Pause it and resume it.
	row := fmt.Sprintf(`tr[data-key-id=%q]`, created.ID)
	do(t, ctx, "disable", chromedp.Click(css(row+` [data-testid=disable]`)), chromedp.WaitVisible(css(row+` [data-testid=enable]`)))
	if code := apiStatus(t, srv, http.MethodGet, hookstest.BotOwner.NoteURL(), key, ""); code != 401 {
		t.Errorf("disabled key: %d", code)
	}
	if loc := run(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "owner=") {
		t.Errorf("disabling left the owner's list for %s", loc)
	}
	do(t, ctx, "enable", chromedp.Click(css(row+` [data-testid=enable]`)), chromedp.WaitVisible(css(row+` [data-testid=disable]`)))

	// Roll the fixture key now: the new one works, the old one no more.
	do(t, ctx, "roll",
		chromedp.Click(css(fmt.Sprintf(`tr[data-key-id=%q] a[data-roll-label]`, hookstest.BotKeyID))),
		chromedp.WaitVisible(css(`#roll-dialog [data-testid=confirm-roll]`)),
		chromedp.Click(css(`#roll-dialog [data-testid=grace-now]`)),
		chromedp.Click(css(`#roll-dialog [data-testid=confirm-roll]`)),
		chromedp.WaitVisible(css(`[data-testid=revealed-key]`)),
	)
	rolled := copyRevealed(t, ctx)
	if apiStatus(t, srv, http.MethodGet, hookstest.BotOwner.NoteURL(), rolled, "") != 200 ||
		apiStatus(t, srv, http.MethodGet, hookstest.BotOwner.NoteURL(), hookstest.BotKey, "") != 401 {
		t.Fatal("after rolling now, the new key should work and the old one not")
	}
	do(t, ctx, "done", chromedp.Click(css(`[data-testid=reveal-done]`)), chromedp.WaitNotPresent(css(`#reveal-dialog`)))

	// Revoke the key made today.
	do(t, ctx, "revoke",
		chromedp.Click(css(row+` a[data-revoke-label]`)),
		chromedp.WaitVisible(css(`#revoke-dialog [data-testid=confirm-revoke]`)),
		chromedp.Click(css(`#revoke-dialog [data-testid=confirm-revoke]`)),
		chromedp.WaitVisible(css(`[data-testid=notice]`)),
	)
	if code := apiStatus(t, srv, http.MethodGet, hookstest.BotOwner.NoteURL(), key, ""); code != 401 {
		t.Errorf("revoked key: %d", code)
	}
	if n, _ := srv.Env.App.CountRecords(keystore.Collection); n != 4 { // Alice's, Bob's, the bot's old and rolled keys
		t.Errorf("%d keys, want 4", n)
	}

	// Revoke all of the bot's keys, from its list, on the confirmation page.
	do(t, ctx, "revoke all",
		chromedp.Click(css(`[data-testid=revoke-all]`)),
		chromedp.WaitVisible(css(`[data-testid=confirm-revoke-all]`)),
		chromedp.Click(css(`[data-testid=confirm-revoke-all]`)),
		chromedp.WaitVisible(css(`[data-testid=notice]`)),
	)
	if notice := run(t, ctx, "notice", chromedp.Text(css(`[data-testid=notice]`))); !strings.Contains(notice, "Revoked all 2 API keys of service_accounts/"+hookstest.BotEmail) {
		t.Errorf("after Revoke all: %q", notice)
	}
	if apiStatus(t, srv, http.MethodGet, hookstest.BotOwner.NoteURL(), rolled, "") != 401 {
		t.Error("the bot's rolled key still works after Revoke all")
	}
	if n, _ := srv.Env.App.CountRecords(keystore.Collection); n != 2 { // Alice's and Bob's
		t.Errorf("%d keys after Revoke all of the bot's, want 2", n)
	}
}
