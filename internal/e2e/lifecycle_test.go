package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// apiStatus calls the REST API with key and returns the status.
func apiStatus(t *testing.T, srv *pagestest.Server, method, path, key, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// rowText returns the text of the element matching sel in key id's row.
func rowText(t *testing.T, ctx context.Context, id, sel string) string {
	t.Helper()
	return strings.TrimSpace(run(t, ctx, "row "+sel, chromedp.Text(css(fmt.Sprintf(`tr[data-key-id=%q] %s`, id, sel)))))
}

// copyRevealed clicks Copy in the reveal and returns what the clipboard
// then holds.
func copyRevealed(t *testing.T, ctx context.Context) string {
	t.Helper()
	do(t, ctx, "copy", chromedp.Click(css(`[data-testid=copy]`)))
	run(t, ctx, "wait for Copied", chromedp.Poll[bool](`document.querySelector('[data-testid=copy-status]').textContent === 'Copied'`))
	return run(t, ctx, "read clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
}

// TestBrowserExpiryScopesRoll: create a key that expires in 30 days, is
// read-only and limited to notes; use it; roll it with an hour's grace;
// use both keys; then pause and resume it.
func TestBrowserExpiryScopesRoll(t *testing.T) {
	ctx := newTab(t)
	srv := pagestest.Start(t)
	signIn(t, ctx, srv)
	grantClipboard(t, ctx, srv)

	do(t, ctx, "open the dialog",
		chromedp.Click(css(`[data-testid=new-key]`)),
		chromedp.WaitVisible(css(`#dialog-label`)),
	)
	// The custom date shows only for "Custom date…".
	if run(t, ctx, "date hidden", chromedp.Evaluate[bool](`document.querySelector('#dialog-expires-date').offsetParent === null`)) != true {
		t.Error("the custom date is shown while Never is chosen")
	}
	choose := func(value string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
			`(function (s) { s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); })(document.querySelector('#dialog-expires'))`, value))
	}
	do(t, ctx, "custom", choose("custom"), chromedp.WaitVisible(css(`#dialog-expires-date`)))
	if got := activeTestID(t, ctx); got != "expires-date" {
		t.Errorf("choosing Custom date focused %q, want the date", got)
	}
	do(t, ctx, "create",
		choose("30d"),
		chromedp.WaitNotVisible(css(`#dialog-expires-date`)),
		chromedp.SendKeys(css("#dialog-label"), "Dashboard reader"),
		chromedp.Click(css(`#dialog-read-only`)),
		chromedp.Click(css(`#new-key-dialog [data-testid=collection-notes]`)),
		chromedp.Click(css(`#new-key-dialog [data-testid=create-key]`)),
		chromedp.WaitVisible(css(`[data-testid=revealed-key]`)),
	)
	key := copyRevealed(t, ctx)
	first, err := apikey.Parse(key)
	if err != nil {
		t.Fatalf("copied %q: %v", key, err)
	}
	do(t, ctx, "done", chromedp.Click(css(`[data-testid=reveal-done]`)), chromedp.WaitNotPresent(css(`#reveal-dialog`)))
	if got := rowText(t, ctx, first.ID, `[data-testid=key-state]`); got != "Expires in 30 days" {
		t.Errorf("state %q, want Expires in 30 days", got)
	}
	if got := rowText(t, ctx, first.ID, `[data-testid=key-scope]`); got != "Read notes; app routes: read" {
		t.Errorf("scope %q, want Read notes; app routes: read", got)
	}

	// The key reads a note and may not change it.
	if code := apiStatus(t, srv, http.MethodGet, pagestest.AliceNotePath, key, ""); code != 200 {
		t.Fatalf("GET with the read-only key: %d", code)
	}
	if code := apiStatus(t, srv, http.MethodPatch, pagestest.AliceNotePath, key, `{"title":"changed"}`); code != 403 {
		t.Fatalf("PATCH with the read-only key: %d, want 403", code)
	}

	// Roll it, keeping the old key for an hour.
	do(t, ctx, "roll",
		chromedp.Click(css(fmt.Sprintf(`tr[data-key-id=%q] a[data-roll-label]`, first.ID))),
		chromedp.WaitVisible(css(`#roll-dialog [data-testid=confirm-roll]`)),
	)
	if !run(t, ctx, "modal?", chromedp.Evaluate[bool](`document.querySelector('#roll-dialog').matches(':modal')`)) {
		t.Error("the Roll dialog is not modal")
	}
	if q := run(t, ctx, "question", chromedp.Text(css(`#roll-dialog h2`))); q != "Roll ‘Dashboard reader’?" {
		t.Errorf("Roll asks %q", q)
	}
	dir := artifactsDir(t)
	do(t, ctx, "roll with 1 hour", chromedp.Click(css(`#roll-dialog [data-testid=grace-1h]`)))
	save(t, dir, "roll-dialog.png", run(t, ctx, "screenshot", chromedp.CaptureScreenshot()))
	do(t, ctx, "confirm roll",
		chromedp.Click(css(`#roll-dialog [data-testid=confirm-roll]`)),
		chromedp.WaitVisible(css(`[data-testid=revealed-key]`)),
	)
	if title := run(t, ctx, "reveal title", chromedp.Text(css(`#reveal-title`))); title != "New key for “Dashboard reader”" {
		t.Errorf("reveal title %q", title)
	}
	newKey := copyRevealed(t, ctx)
	save(t, dir, "roll-reveal.png", run(t, ctx, "screenshot", chromedp.CaptureScreenshot()))
	second, err := apikey.Parse(newKey)
	if err != nil || second.ID == first.ID {
		t.Fatalf("rolled key %q: %v", newKey, err)
	}
	// The new key has the old one's scope; the old one works for now.
	if code := apiStatus(t, srv, http.MethodGet, pagestest.AliceNotePath, newKey, ""); code != 200 {
		t.Errorf("GET with the new key: %d", code)
	}
	if code := apiStatus(t, srv, http.MethodPatch, pagestest.AliceNotePath, newKey, `{"title":"changed"}`); code != 403 {
		t.Errorf("PATCH with the new key: %d, want 403", code)
	}
	if code := apiStatus(t, srv, http.MethodGet, pagestest.AliceNotePath, key, ""); code != 200 {
		t.Errorf("GET with the old key during its grace: %d", code)
	}
	do(t, ctx, "done", chromedp.Click(css(`[data-testid=reveal-done]`)), chromedp.WaitNotPresent(css(`#reveal-dialog`)))
	if got := rowText(t, ctx, first.ID, `[data-testid=key-state]`); got != "Expires in 1 hour" {
		t.Errorf("old key state %q, want Expires in 1 hour", got)
	}
	if got := rowText(t, ctx, second.ID, `[data-testid=key-state]`); got != "Expires in 30 days" {
		t.Errorf("new key state %q, want Expires in 30 days", got)
	}

	// Reloading rolls nothing again.
	do(t, ctx, "reload", chromedp.Reload())
	if html := listPage(t, ctx); strings.Contains(html, second.Secret) || strings.Contains(html, "already rolled") {
		t.Error("reload showed the key again or re-posted the roll")
	}
	if n := countKeys(t, srv); n != 3 {
		t.Errorf("Alice has %d keys, want 3", n)
	}

	// Pause the new key, then resume it.
	row := fmt.Sprintf(`tr[data-key-id=%q]`, second.ID)
	do(t, ctx, "disable",
		chromedp.Click(css(row+` [data-testid=disable]`)),
		chromedp.WaitVisible(css(row+` [data-testid=enable]`)),
	)
	if notice := run(t, ctx, "notice", chromedp.Text(css(`[data-testid=notice]`))); notice != "Disabled ‘Dashboard reader’. Apps using it get 401 until you enable it again." {
		t.Errorf("notice %q", notice)
	}
	if code := apiStatus(t, srv, http.MethodGet, pagestest.AliceNotePath, newKey, ""); code != 401 {
		t.Errorf("disabled key: %d, want 401", code)
	}
	do(t, ctx, "enable",
		chromedp.Click(css(row+` [data-testid=enable]`)),
		chromedp.WaitVisible(css(row+` [data-testid=disable]`)),
	)
	if code := apiStatus(t, srv, http.MethodGet, pagestest.AliceNotePath, newKey, ""); code != 200 {
		t.Errorf("enabled key: %d, want 200", code)
	}
}

// TestBrowserScopeChoices: the collections the New API key dialog offers
// are exactly those a key may be scoped to — pbkeys' own api_keys and
// api_key_usage and PocketBase's system collections are not among them.
func TestBrowserScopeChoices(t *testing.T) {
	ctx := newTab(t)
	srv := pagestest.Start(t)
	signIn(t, ctx, srv)
	do(t, ctx, "open the dialog",
		chromedp.Click(css(`[data-testid=new-key]`)),
		chromedp.WaitVisible(css(`#dialog-label`)),
	)
	shown := run(t, ctx, "scope choices", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('#new-key-dialog input[name=collections]')).map(i => i.closest('label').innerText.trim())`))
	scopable, err := keystore.ScopableCollections(srv.Env.App)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range scopable {
		want = append(want, c.Name)
	}
	if !slices.Equal(shown, want) {
		t.Errorf("the dialog offers %v, want %v", shown, want)
	}
	if slices.Contains(shown, keystore.UsageCollection) || slices.Contains(shown, keystore.Collection) || !slices.Contains(shown, "notes") {
		t.Errorf("scope choices %v", shown)
	}
}
