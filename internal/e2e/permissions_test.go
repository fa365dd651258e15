package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/apikey"
)

// addCollections adds n collections (orders_01, orders_02...) to the app,
// so that the permission editor has enough rows for its search box.
func addCollections(t *testing.T, srv *pagestest.Server, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		c := core.NewBaseCollection(fmt.Sprintf("orders_%02d", i))
		c.Fields.Add(&core.TextField{Name: "title"})
		if err := srv.Env.App.Save(c); err != nil {
			t.Fatal(err)
		}
	}
}

// shownRows returns the legends of the permission editor's rows that are
// shown in the element matching sel.
func shownRows(t *testing.T, ctx context.Context, sel string) []string {
	t.Helper()
	return run(t, ctx, "rows", chromedp.Evaluate[[]string](fmt.Sprintf(
		`Array.from(document.querySelectorAll('%s [data-perm-row]')).filter(r => r.offsetParent !== null).map(r => r.querySelector('legend').textContent.trim())`, sel)))
}

// filterRows types q into the editor's search box in sel, replacing what
// was there ("" empties it).
func filterRows(t *testing.T, ctx context.Context, sel, q string) {
	t.Helper()
	do(t, ctx, "empty the search box", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(function (i) { i.value = ''; i.dispatchEvent(new Event('input')); })(document.querySelector('%s [data-perm-filter]'))`, sel)))
	if q != "" {
		do(t, ctx, "filter "+q, chromedp.SendKeys(css(sel+` [data-perm-filter]`), q))
	}
}

// TestBrowserPermissions: create a key that reads notes and writes secrets
// with the permission editor (finding the rows with its search box), copy
// it and use it over REST; then change it on its Permissions page, at
// 360 px, and use it again.
func TestBrowserPermissions(t *testing.T) {
	ctx := newTab(t)
	srv := pagestest.Start(t)
	addCollections(t, srv, 10)
	signIn(t, ctx, srv)
	grantClipboard(t, ctx, srv)
	const dialog = "#new-key-dialog"

	do(t, ctx, "open the dialog",
		chromedp.Click(css(`[data-testid=new-key]`)),
		chromedp.WaitVisible(css(`#dialog-label`)),
		chromedp.SendKeys(css(`#dialog-label`), "Shipping worker"),
	)
	// Full access hides the rows; "Only what I choose" shows them, with
	// the search box first in the focus order, then the first row.
	if rows := shownRows(t, ctx, dialog); len(rows) != 0 {
		t.Errorf("rows shown with full access: %v", rows)
	}
	do(t, ctx, "focus Full access", chromedp.Focus(css(dialog+` [data-testid=access-full]`)))
	do(t, ctx, "choose with the keyboard", chromedp.KeyEvent(kb.ArrowDown), chromedp.WaitVisible(css(dialog+` [data-perm-filter]`)))
	if got := activeTestID(t, ctx); got != "access-custom" {
		t.Errorf("the arrow key moved to %q, want Only what I choose", got)
	}
	do(t, ctx, "tab", chromedp.KeyEvent(kb.Tab))
	if got := activeTestID(t, ctx); got != "dialog-perm-filter" && got != "perm-filter" {
		t.Errorf("Tab after the choice reached %q, want the search box", got)
	}
	do(t, ctx, "tab", chromedp.KeyEvent(kb.Tab))
	if name := run(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.name`)); name != "perm.comments" {
		t.Errorf("Tab after the search box reached %q, want the first row", name)
	}
	rows := shownRows(t, ctx, dialog)
	if len(rows) != 16 || rows[0] != "comments" || rows[14] != "Other collections, including ones created later" || rows[15] != "Routes the app adds" {
		t.Errorf("rows %v", rows)
	}

	// The search box filters the collections; the other collections and
	// the routes stay; Enter in it sends nothing.
	filterRows(t, ctx, dialog, "NOTE")
	if rows := shownRows(t, ctx, dialog); strings.Join(rows, "|") != "notes|Other collections, including ones created later|Routes the app adds" {
		t.Errorf("filtered to %v", rows)
	}
	if got := run(t, ctx, "count", chromedp.Text(css(dialog+` [data-perm-count]`))); !strings.HasPrefix(got, "1 of 14 collections shown") {
		t.Errorf("the count says %q", got)
	}
	do(t, ctx, "enter in the search box", chromedp.KeyEvent(kb.Enter))
	if !run(t, ctx, "still open", chromedp.Evaluate[bool](`document.querySelector('#new-key-dialog').open`)) || countKeys(t, srv) != 1 {
		t.Fatal("Enter in the search box sent the form")
	}
	do(t, ctx, "notes: read", chromedp.Click(css(dialog+` input[name="perm.notes"][value=read]`)))
	filterRows(t, ctx, dialog, "secr")
	do(t, ctx, "secrets: write", chromedp.Click(css(dialog+` input[name="perm.secrets"][value=write]`)))
	filterRows(t, ctx, dialog, "")
	if rows := shownRows(t, ctx, dialog); len(rows) != 16 {
		t.Errorf("%d rows after clearing the search", len(rows))
	}

	do(t, ctx, "create",
		chromedp.Click(css(dialog+` [data-testid=create-key]`)),
		chromedp.WaitVisible(css(`[data-testid=revealed-key]`)),
	)
	key := copyRevealed(t, ctx)
	parsed, err := apikey.Parse(key)
	if err != nil {
		t.Fatalf("copied %q: %v", key, err)
	}

	// Over REST, through the same server: reads both, creates secrets
	// only, and nothing else.
	notes := "/api/collections/" + hookstest.NotesCollection + "/records"
	secrets := "/api/collections/" + hookstest.SecretsCollection + "/records"
	newRecord := `{"owner":"` + hookstest.AliceID + `","title":"from the worker"}`
	for _, tc := range []struct {
		what, method, path, body string
		want                     int
	}{
		{"read a note", http.MethodGet, notes + "/" + hookstest.AliceNoteID, "", 200},
		{"list notes", http.MethodGet, notes, "", 200},
		{"read a secret", http.MethodGet, secrets + "/" + hookstest.AliceSecretID, "", 200},
		{"create a secret", http.MethodPost, secrets, newRecord, 200},
		{"create a note", http.MethodPost, notes, newRecord, 403},
		{"read a comment", http.MethodGet, "/api/collections/" + hookstest.CommentsCollection + "/records/" + hookstest.AliceCommentID, "", 403},
		{"list orders", http.MethodGet, "/api/collections/orders_01/records", "", 403},
	} {
		if code := apiStatus(t, srv, tc.method, tc.path, key, tc.body); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.what, code, tc.want)
		}
	}
	do(t, ctx, "done", chromedp.Click(css(`[data-testid=reveal-done]`)), chromedp.WaitNotPresent(css(`#reveal-dialog`)))
	if got := rowText(t, ctx, parsed.ID, `[data-testid=key-scope]`); got != "Write secrets; read notes" {
		t.Errorf("scope %q", got)
	}

	// Its Permissions page, at 360 px: it shows what the key has; write
	// notes instead, and only from this machine.
	do(t, ctx, "narrow", chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
	do(t, ctx, "permissions page",
		chromedp.Click(css(fmt.Sprintf(`tr[data-key-id=%q] [data-testid=edit-access]`, parsed.ID))),
		chromedp.WaitVisible(css(`[data-testid=access-form]`)),
	)
	if h1 := run(t, ctx, "h1", chromedp.Text(css("h1"))); h1 != "Permissions and addresses of ‘Shipping worker’" {
		t.Errorf("the page is %q", h1)
	}
	if got := run(t, ctx, "shown", chromedp.Evaluate[string](`['access', 'perm.notes', 'perm.secrets', 'perm.orders_01', 'perm.*']
		.map(n => document.querySelector('input[name="' + n + '"]:checked').value).join(' ')`)); got != "custom read write none none" {
		t.Errorf("the page shows %q", got)
	}
	noHorizontalScroll(t, ctx, "[data-testid=access-form]", 360)
	save(t, artifactsDir(t), "permissions-360.png", run(t, ctx, "screenshot", chromedp.FullScreenshot(100)))
	do(t, ctx, "change",
		chromedp.Click(css(`input[name="perm.notes"][value=write]`)),
		chromedp.Click(css(`input[name="perm.secrets"][value=none]`)),
		chromedp.SendKeys(css(`#allowed-ips`), "127.0.0.1\n::1"),
		chromedp.Click(css(`[data-testid=save-access]`)),
		chromedp.WaitVisible(css(`[data-testid=notice]`)),
	)
	if notice := run(t, ctx, "notice", chromedp.Text(css(`[data-testid=notice]`))); !strings.Contains(notice, "Saved what ‘Shipping worker’ may do: write notes · from 127.0.0.1, ::1.") {
		t.Errorf("notice %q", notice)
	}
	if code := apiStatus(t, srv, http.MethodPost, notes, key, newRecord); code != 200 {
		t.Errorf("create a note after the change: %d", code)
	}
	if code := apiStatus(t, srv, http.MethodGet, secrets+"/"+hookstest.AliceSecretID, key, ""); code != 403 {
		t.Errorf("read a secret after the change: %d, want 403", code)
	}
}

// axeSource is axe-core, installed with the JS SDK test's packages
// (internal/sdktest/js, `npm ci`). Without it the test is skipped, except
// in CI (CI=true), where it fails.
func axeSource(t *testing.T) string {
	t.Helper()
	path := filepath.Join(filepath.Dir(artifactsDir(t)), "internal", "sdktest", "js", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(path)
	if err == nil {
		return string(b)
	}
	msg := fmt.Sprintf("axe-core not found (%v): run `npm ci --prefix internal/sdktest/js` for the accessibility checks", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: they are required)")
	}
	t.Skip(msg)
	return ""
}

// violation is one failed axe rule, as the test reports it.
type violation struct {
	ID, Impact, Help string
	Nodes            []string
}

// checkAxe runs axe-core on the page as it is now and fails the test for
// each violation.
func checkAxe(t *testing.T, ctx context.Context, axe, what string) {
	t.Helper()
	if !run(t, ctx, "axe loaded?", chromedp.Evaluate[bool](`typeof window.axe === 'object'`)) {
		do(t, ctx, "load axe", chromedp.Evaluate[chromedp.Void](axe))
	}
	raw := run(t, ctx, "axe "+what, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(
		r.violations.map(v => ({ID: v.id, Impact: v.impact, Help: v.help, Nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))))`,
		chromedp.EvalAwaitPromise))
	var found []violation
	if err := json.Unmarshal([]byte(raw), &found); err != nil {
		t.Fatalf("axe %s: %v", what, err)
	}
	for _, v := range found {
		t.Errorf("axe, %s: %s (%s): %s\n  %s", what, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
}

// TestBrowserAccessibility: axe-core finds nothing wrong with the New API
// key dialog with the permission editor open (and its search box), the
// form with its errors, the Roll dialog and page, and a key's Permissions
// page, in light and dark.
func TestBrowserAccessibility(t *testing.T) {
	axe := axeSource(t)
	ctx := newTab(t)
	srv := pagestest.Start(t)
	addCollections(t, srv, 10)
	signIn(t, ctx, srv)

	do(t, ctx, "open the dialog",
		chromedp.Click(css(`[data-testid=new-key]`)),
		chromedp.WaitVisible(css(`#dialog-label`)),
		chromedp.Click(css(`#new-key-dialog [data-testid=access-custom]`)),
		chromedp.WaitVisible(css(`#new-key-dialog [data-perm-filter]`)),
	)
	checkAxe(t, ctx, axe, "New API key dialog, Only what I choose")

	// Errors: nothing chosen, an address that is not one.
	do(t, ctx, "mistakes",
		chromedp.SendKeys(css(`#dialog-label`), "mistakes"),
		chromedp.SendKeys(css(`#dialog-allowed-ips`), "10.0.0.1/8"),
		chromedp.Click(css(`#new-key-dialog [data-testid=create-key]`)),
		chromedp.WaitVisible(css(`[data-testid=permissions-error]`)),
	)
	if got := run(t, ctx, "error tied", chromedp.Evaluate[string](
		`document.querySelector('#allowed-ips').getAttribute('aria-describedby') + ' / ' + document.querySelector('[data-testid=permissions-error]').textContent`)); got !=
		"allowed-ips-error allowed-ips-hint / Choose Read or Write for at least one row, or choose “Full access”." {
		t.Errorf("errors: %q", got)
	}
	checkAxe(t, ctx, axe, "New API key page with errors")

	do(t, ctx, "roll dialog", chromedp.Navigate(srv.URL+"/api-keys"),
		chromedp.Click(css(fmt.Sprintf(`tr[data-key-id=%q] a[data-roll-label]`, hookstest.AliceKeyID))),
		chromedp.WaitVisible(css(`#roll-dialog [data-testid=confirm-roll]`)),
		chromedp.Click(css(`#roll-dialog [data-testid=access-custom]`)),
	)
	checkAxe(t, ctx, axe, "Roll dialog, Only what I choose")

	for _, page := range []string{pagestest.Paths.Access(hookstest.AliceKeyID), pagestest.Paths.Roll(hookstest.AliceKeyID)} {
		do(t, ctx, "open "+page, chromedp.Navigate(srv.URL+page),
			chromedp.WaitVisible(css(`[data-testid=access-custom]`)),
			chromedp.Click(css(`[data-testid=access-custom]`)),
			chromedp.WaitVisible(css(`[data-perm-filter]`)),
		)
		checkAxe(t, ctx, axe, page+", Only what I choose")
	}
	do(t, ctx, "dark", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	}))
	checkAxe(t, ctx, axe, "Roll page, dark")
}
