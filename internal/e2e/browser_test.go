package e2e_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
	"github.com/pbkeys/pbkeys/internal/usage"
)

// One Chromium for the package; each test gets its own browser context
// (separate cookies) and its own server.
var (
	browserOnce sync.Once
	browserCtx  context.Context
	browserErr  error
	stopBrowser = func() {}
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}

// chromium returns the browser to drive, skipping the test when there is
// none (failing in CI, where the browser tests are required).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("PBKEYS_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const help = "Chromium not found: the browser tests need it. Install it with `sudo apt-get install chromium` " +
		"(or set PBKEYS_CHROMIUM to a Chrome/Chromium binary) and run `make test` again."
	if os.Getenv("CI") == "true" {
		t.Fatal(help + " (CI=true: browser tests are required)")
	}
	t.Skip(help)
	return ""
}

// newTab returns a tab in a fresh browser context, with a deadline for the
// whole test.
func newTab(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	browserOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pbkeys-chromium-")
		if err != nil {
			browserErr = err
			return
		}
		// These flags keep Chromium from reaching for the network (there is
		// none here) and from stalling on first-run work.
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.UserDataDir(dir),
			chromedp.Flag("headless", true),
			chromedp.Flag("no-sandbox", true),
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("no-first-run", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,InterestFeedContentSuggestions"),
			chromedp.WindowSize(1200, 800),
		)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelBrowser := chromedp.NewContext(allocCtx)
		stopBrowser = func() {
			cancelBrowser()
			cancelAlloc()
			os.RemoveAll(dir)
		}
		browserErr = chromedp.Do(ctx) // starts the browser
		browserCtx = ctx
	})
	if browserErr != nil {
		t.Fatalf("starting Chromium: %v", browserErr)
	}
	tab, cancelTab := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil { // opens the tab
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](t *testing.T, ctx context.Context, what string, action chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// signIn opens /api-keys as a guest, lands on the sign-in page, signs in
// with the mouse and returns on the keys page.
func signIn(t *testing.T, ctx context.Context, srv *pagestest.Server) {
	t.Helper()
	do(t, ctx, "open /api-keys", chromedp.Navigate(srv.URL+"/api-keys"))
	if loc := run(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/api-keys/login") {
		t.Fatalf("guest landed on %s", loc)
	}
	do(t, ctx, "sign in",
		chromedp.SendKeys(css("#email"), hookstest.AliceEmail),
		chromedp.SendKeys(css("#password"), hookstest.Password),
		chromedp.Click(css(`form[action="/api-keys/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`[data-testid=signed-in-email]`)),
	)
	if title := run(t, ctx, "title", chromedp.Title()); title != "API keys · pbkeys" {
		t.Errorf("title %q", title)
	}
}

// grantClipboard lets the page use the clipboard, as a person clicking
// Copy would.
func grantClipboard(t *testing.T, ctx context.Context, srv *pagestest.Server) {
	t.Helper()
	bctx := chromedp.FromContext(ctx).BrowserContextID
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission:       &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
			Setting:          browser.PermissionSettingGranted,
			Origin:           srv.URL,
			BrowserContextID: bctx,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
}

// keyPattern is the published pattern, anchored: a revealed key is one
// that secret scanners find.
var keyPattern = regexp.MustCompile("^" + apikey.Pattern + "$")

// TestBrowserKeyLifecycle is what a user does: sign in, create a key, copy
// it, use it, reload, revoke it.
func TestBrowserKeyLifecycle(t *testing.T) {
	ctx := newTab(t)
	srv := pagestest.Start(t)
	signIn(t, ctx, srv)

	grantClipboard(t, ctx, srv)

	// New API key opens a modal dialog.
	do(t, ctx, "open the dialog",
		chromedp.Click(css(`[data-testid=new-key]`)),
		chromedp.WaitVisible(css(`#new-key-dialog #dialog-label`)),
	)
	if !run(t, ctx, "modal?", chromedp.Evaluate[bool](`document.querySelector('#new-key-dialog').matches(':modal')`)) {
		t.Error("the New API key dialog is not modal")
	}
	do(t, ctx, "create",
		chromedp.SendKeys(css("#dialog-label"), "CI deploy"),
		chromedp.Click(css(`#new-key-dialog [data-testid=create-key]`)),
		chromedp.WaitVisible(css(`[data-testid=revealed-key]`)),
	)

	// The reveal: a modal dialog with the key in full.
	key := strings.TrimSpace(run(t, ctx, "revealed key", chromedp.Text(css(`[data-testid=revealed-key]`))))
	if !keyPattern.MatchString(key) {
		t.Fatalf("revealed %q, want a key", key)
	}
	if !run(t, ctx, "modal?", chromedp.Evaluate[bool](`document.querySelector('#reveal-dialog').matches(':modal')`)) {
		t.Error("the reveal is not modal")
	}
	font := run(t, ctx, "font", chromedp.Evaluate[string](`getComputedStyle(document.querySelector('[data-testid=revealed-key]')).fontFamily`))
	if !strings.Contains(font, "monospace") {
		t.Errorf("key font %q is not monospace", font)
	}

	// Copy puts exactly the key on the clipboard and says so.
	do(t, ctx, "copy", chromedp.Click(css(`[data-testid=copy]`)))
	run(t, ctx, "wait for Copied", chromedp.Poll[bool](`document.querySelector('[data-testid=copy-status]').textContent === 'Copied'`))
	clip := run(t, ctx, "read clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if clip != key {
		t.Fatalf("clipboard holds %q, want the key", clip)
	}

	// That exact key authenticates a REST request as Alice.
	if code := srv.APIGet(t, pagestest.AliceNotePath, clip); code != 200 {
		t.Fatalf("REST with the copied key: %d, want 200", code)
	}

	// Reload: no key on the page, and no second key.
	do(t, ctx, "reload", chromedp.Reload())
	html := listPage(t, ctx)
	if strings.Contains(html, key[16:]) || strings.Contains(html, "revealed-key") {
		t.Fatal("the key is shown again after reload")
	}
	// The page replaced its history entry, so the reload was a plain GET
	// (a re-POST would be refused by the form's nonce and explained).
	if strings.Contains(html, "already created with this form") {
		t.Error("reload re-posted the create form")
	}
	if n := countKeys(t, srv); n != 2 {
		t.Fatalf("Alice has %d keys after reload, want 2", n)
	}
	// Back and forward do not bring it back either.
	do(t, ctx, "back", chromedp.NavigateBack())
	listPage(t, ctx)
	do(t, ctx, "forward", chromedp.NavigateForward())
	html = listPage(t, ctx)
	if strings.Contains(html, key[16:]) {
		t.Fatal("the key is shown again after Back/Forward")
	}
	if n := countKeys(t, srv); n != 2 {
		t.Fatalf("Alice has %d keys after Back/Forward, want 2", n)
	}

	// Revoke asks, naming the key, then removes it.
	parsed, _ := apikey.Parse(key)
	row := fmt.Sprintf(`tr[data-key-id=%q]`, parsed.ID)
	do(t, ctx, "revoke", chromedp.Navigate(srv.URL+"/api-keys"),
		chromedp.Click(css(row+` a[data-revoke-label]`)),
		chromedp.WaitVisible(css(`#revoke-dialog [data-testid=confirm-revoke]`)),
	)
	question := run(t, ctx, "question", chromedp.Text(css(`#revoke-dialog h2`)))
	if question != "Revoke ‘CI deploy’?" {
		t.Errorf("confirmation asks %q", question)
	}
	do(t, ctx, "confirm",
		chromedp.Click(css(`#revoke-dialog [data-testid=confirm-revoke]`)),
		chromedp.WaitVisible(css(`[data-testid=notice]`)),
	)
	if notice := run(t, ctx, "notice", chromedp.Text(css(`[data-testid=notice]`))); !strings.Contains(notice, "Revoked ‘CI deploy’") {
		t.Errorf("notice %q", notice)
	}
	if code := srv.APIGet(t, pagestest.AliceNotePath, key); code != 401 {
		t.Fatalf("REST with the revoked key: %d, want 401", code)
	}
}

// listPage waits until the keys page has loaded and returns its HTML.
func listPage(t *testing.T, ctx context.Context) string {
	t.Helper()
	run(t, ctx, "wait for the list", chromedp.Poll[bool](
		`document.readyState === 'complete' && location.pathname === '/api-keys' && !!document.querySelector('[data-testid=keys]')`))
	return run(t, ctx, "page", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

func countKeys(t *testing.T, srv *pagestest.Server) int {
	t.Helper()
	records, err := srv.Env.Store.List(srv.Env.Record(t, "users", hookstest.AliceID))
	if err != nil {
		t.Fatal(err)
	}
	return len(records)
}

func activeTestID(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, "focus", chromedp.Evaluate[string](
		`(document.activeElement && (document.activeElement.dataset.testid || document.activeElement.id)) || ''`))
}

// tabTo presses Tab until the element with data-testid (or id) want has
// the focus.
func tabTo(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	for i := 0; i < 15; i++ {
		if activeTestID(t, ctx) == want {
			return
		}
		do(t, ctx, "tab", chromedp.KeyEvent(kb.Tab))
	}
	t.Fatalf("Tab never reached %q", want)
}

// TestBrowserKeyboardOnly signs in and creates a key without the mouse.
func TestBrowserKeyboardOnly(t *testing.T) {
	ctx := newTab(t)
	srv := pagestest.Start(t)

	do(t, ctx, "open", chromedp.Navigate(srv.URL+"/api-keys"), chromedp.WaitVisible(css("#email")))
	if got := activeTestID(t, ctx); got != "email" {
		t.Fatalf("focus starts on %q, want the email field", got)
	}
	do(t, ctx, "sign in",
		chromedp.KeyEvent(hookstest.AliceEmail),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(hookstest.Password),
		pressEnter,
		chromedp.WaitVisible(css(`[data-testid=keys]`)),
	)

	tabTo(t, ctx, "new-key")
	do(t, ctx, "open dialog", pressEnter, chromedp.WaitVisible(css("#dialog-label")))
	if got := activeTestID(t, ctx); got != "dialog-label" {
		t.Fatalf("dialog opened with focus on %q, want the label field", got)
	}
	// Escape closes it and gives the focus back.
	do(t, ctx, "escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(css("#dialog-label")))
	if got := activeTestID(t, ctx); got != "new-key" {
		t.Errorf("after Escape focus is on %q, want New API key", got)
	}

	do(t, ctx, "reopen", pressEnter, chromedp.WaitVisible(css("#dialog-label")))
	do(t, ctx, "type", chromedp.KeyEvent("keyboard key"))
	do(t, ctx, "create",
		pressEnter,
		chromedp.WaitVisible(css(`[data-testid=revealed-key]`)),
	)
	if got := activeTestID(t, ctx); got != "copy" {
		t.Errorf("reveal opened with focus on %q, want Copy", got)
	}
	key := strings.TrimSpace(run(t, ctx, "key", chromedp.Text(css(`[data-testid=revealed-key]`))))
	if srv.APIGet(t, pagestest.AliceNotePath, key) != 200 {
		t.Fatal("the key created with the keyboard does not work")
	}

	// Where the clipboard API is missing (plain HTTP on another host),
	// Copy selects the key so that Ctrl+C copies it.
	do(t, ctx, "no clipboard API", chromedp.Evaluate[chromedp.Void](
		`Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true})`))
	do(t, ctx, "copy", pressEnter)
	run(t, ctx, "wait for a status", chromedp.Poll[bool](`document.querySelector('[data-testid=copy-status]').textContent !== ''`))
	if sel := run(t, ctx, "selection", chromedp.Evaluate[string](`window.getSelection().toString()`)); strings.TrimSpace(sel) != key {
		t.Errorf("fallback selected %q, want the key", sel)
	}
	// Closing the reveal with the keyboard forgets the key in the page.
	tabTo(t, ctx, "reveal-done")
	do(t, ctx, "done", pressEnter, chromedp.WaitNotPresent(css("#reveal-dialog")))
	if html := listPage(t, ctx); strings.Contains(html, key[16:]) {
		t.Error("the key is still in the page after Done")
	}
	if countKeys(t, srv) != 2 {
		t.Errorf("Alice has %d keys, want 2", countKeys(t, srv))
	}
}

// TestBrowserScreenshots saves the pages in dark mode and at 360 px wide
// for a person to look at, and checks what can be checked by machine.
func TestBrowserScreenshots(t *testing.T) {
	ctx := newTab(t)
	srv := pagestest.Start(t)
	now := time.Now()
	ids := map[string]string{}
	for _, opts := range []keystore.Options{
		{Label: "Production deploy", ExpiresAt: now.Add(90*24*time.Hour + time.Minute), RatePerMinute: 600},
		{Label: "Nightly backup job", ExpiresAt: now.Add(3*24*time.Hour + time.Minute),
			Permissions: permissions.Set{permissions.Others: permissions.Read, permissions.Routes: permissions.Read}},
		{Label: "Staging smoke tests"},
		{Label: "Grafana dashboard", Permissions: permissions.Set{hookstest.NotesCollection: permissions.Read, permissions.Routes: permissions.Read}},
	} {
		r, _, err := srv.Env.Store.Issue(srv.Env.Record(t, "users", hookstest.AliceID), opts, keystore.Origin{})
		if err != nil {
			t.Fatal(err)
		}
		ids[opts.Label] = r.Id
		if opts.Label == "Staging smoke tests" {
			if _, err := srv.Env.Store.SetDisabled(srv.Env.Record(t, "users", hookstest.AliceID), r.Id, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A month of use, as the usage recorder would have written it.
	seedUsage(t, srv, ids["Production deploy"], "203.0.113.40", "github-actions-runner/2.321.0", deployPattern)
	seedUsage(t, srv, ids["Nightly backup job"], "198.51.100.7", "restic/0.17.3 (linux/amd64)", func(int) int64 { return 2 })
	seedUsage(t, srv, ids["Grafana dashboard"], "192.0.2.80", "Grafana/11.3.1", func(day int) int64 { return 1440 - int64(day%4)*90 })
	seedUsage(t, srv, ids["Staging smoke tests"], "203.0.113.41", "k6/0.55.0 (https://k6.io/)", func(day int) int64 {
		if day < 18 {
			return int64(day%5) * 12
		}
		return 0
	})
	srv.APIGet(t, pagestest.AliceNotePath, hookstest.AliceKey) // "last used" for one key
	time.Sleep(200 * time.Millisecond)                         // let the usage recorder flush
	dir := artifactsDir(t)

	// The sign-in page after a failed attempt.
	do(t, ctx, "failed sign-in", chromedp.Navigate(srv.URL+"/api-keys/login"),
		chromedp.SendKeys(css("#email"), hookstest.AliceEmail),
		chromedp.SendKeys(css("#password"), "wrong"),
		chromedp.Click(css(`form[action="/api-keys/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`[data-testid=login-error]`)),
	)
	save(t, dir, "login-failed.png", run(t, ctx, "screenshot", chromedp.CaptureScreenshot()))
	signIn(t, ctx, srv)

	shot := func(name string) {
		t.Helper()
		do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(css(`[data-testid=keys]`)))
		save(t, dir, name, run(t, ctx, "screenshot", chromedp.FullScreenshot(100)))
	}

	shot("api-keys-light.png")

	// The usage chart and last use of one key, close up, for docs/pages.md.
	row := fmt.Sprintf(`tr[data-key-id=%q]`, ids["Production deploy"])
	if label := run(t, ctx, "chart", chromedp.AttributeValue(css(row+` svg`), "aria-label")).Value; !strings.HasSuffix(label, " requests in the last 30 days") {
		t.Errorf("the chart says %q", label)
	}
	if bars := run(t, ctx, "bars", chromedp.Evaluate[int](`document.querySelectorAll('`+row+` svg rect').length`)); bars != usage.Window {
		t.Errorf("%d bars, want %d", bars, usage.Window)
	}
	if from := run(t, ctx, "from", chromedp.Text(css(row+` [data-testid=last-used-ip]`))); from != "from 203.0.113.40" {
		t.Errorf("last used %q", from)
	}
	do(t, ctx, "zoom", chromedp.EmulateViewport(1200, 800, chromedp.EmulateScale(2)))
	save(t, dir, "api-keys-usage.png", run(t, ctx, "row screenshot", chromedp.Screenshot(css(row))))
	do(t, ctx, "unzoom", chromedp.EmulateViewport(1200, 800))

	// Dark mode follows prefers-color-scheme.
	dark := func(on bool) chromedp.Action[chromedp.Void] {
		value := "light"
		if on {
			value = "dark"
		}
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: value}},
			})
			return err
		})
	}
	do(t, ctx, "dark", dark(true))
	shot("api-keys-dark.png")
	if bg := run(t, ctx, "bg", chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)); bg != "rgb(15, 18, 23)" {
		t.Errorf("dark mode background %s", bg)
	}
	do(t, ctx, "light", dark(false))

	// 360 px: everything readable, nothing wider than the screen.
	do(t, ctx, "narrow", chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
	shot("api-keys-360.png")
	if w := run(t, ctx, "width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 360 {
		t.Errorf("page is %d px wide at 360 px", w)
	}
	// The reveal at 360 px.
	do(t, ctx, "create",
		chromedp.Click(css(`[data-testid=new-key]`)),
		chromedp.SendKeys(css("#dialog-label"), "Phone"),
		chromedp.Click(css(`#new-key-dialog [data-testid=create-key]`)),
		chromedp.WaitVisible(css(`[data-testid=revealed-key]`)),
	)
	if w := run(t, ctx, "width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 360 {
		t.Errorf("reveal is %d px wide at 360 px", w)
	}
	save(t, dir, "api-keys-reveal-360.png", run(t, ctx, "screenshot", chromedp.CaptureScreenshot()))

	// The New API key form with its options, at 360 px and at full width.
	do(t, ctx, "new key form", chromedp.Navigate(srv.URL+"/api-keys"),
		chromedp.Click(css(`[data-testid=new-key]`)),
		chromedp.WaitVisible(css("#dialog-label")),
		chromedp.Evaluate[chromedp.Void](`(function (s) { s.value = 'custom'; s.dispatchEvent(new Event('change')); })(document.querySelector('#dialog-expires'))`),
		chromedp.WaitVisible(css("#dialog-expires-date")),
	)
	if w := run(t, ctx, "width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 360 {
		t.Errorf("New API key dialog is %d px wide at 360 px", w)
	}
	save(t, dir, "new-key-360.png", run(t, ctx, "screenshot", chromedp.CaptureScreenshot()))
	do(t, ctx, "wide", chromedp.EmulateViewport(1200, 900))
	save(t, dir, "new-key.png", run(t, ctx, "screenshot", chromedp.CaptureScreenshot()))
}

// save writes a screenshot and prints its path.
func save(t *testing.T, dir, name string, png []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestBrowserWithoutJavaScript: everything but Copy works with scripts off.
func TestBrowserWithoutJavaScript(t *testing.T) {
	ctx := newTab(t)
	srv := pagestest.Start(t)
	do(t, ctx, "scripts off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	signIn(t, ctx, srv)

	do(t, ctx, "new key page",
		chromedp.Click(css(`[data-testid=new-key]`)),
		chromedp.WaitVisible(css("#label")),
	)
	if loc := run(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/api-keys/new") {
		t.Fatalf("New API key led to %s", loc)
	}
	do(t, ctx, "create",
		chromedp.SendKeys(css("#label"), "no script"),
		chromedp.Click(css(`[data-testid=create-key]`)),
		chromedp.WaitVisible(css(`[data-testid=revealed-key]`)),
	)
	key := strings.TrimSpace(run(t, ctx, "key", chromedp.Text(css(`[data-testid=revealed-key]`))))
	if srv.APIGet(t, pagestest.AliceNotePath, key) != 200 {
		t.Fatal("key does not work")
	}
	save(t, artifactsDir(t), "reveal-no-javascript.png", run(t, ctx, "screenshot", chromedp.CaptureScreenshot()))
	if run(t, ctx, "copy shown", chromedp.Evaluate[string](`getComputedStyle(document.querySelector('[data-testid=copy]')).display`)) != "none" {
		t.Error("a Copy button that cannot work is shown without JavaScript")
	}
	// The key selects as a whole with one click, to copy by hand.
	do(t, ctx, "select", chromedp.Click(css(`[data-testid=revealed-key]`)))
	if sel := run(t, ctx, "selection", chromedp.Evaluate[string](`window.getSelection().toString()`)); strings.TrimSpace(sel) != key {
		t.Errorf("one click selected %q, want the whole key", sel)
	}
	// Done closes the reveal without JavaScript (a method=dialog form).
	do(t, ctx, "done", chromedp.Click(css(`[data-testid=reveal-done]`)), chromedp.WaitNotVisible(css(`[data-testid=revealed-key]`)))

	// Roll works as pages: the Roll page, then the reveal.
	parsed, _ := apikey.Parse(key)
	do(t, ctx, "roll page",
		chromedp.Click(css(fmt.Sprintf(`tr[data-key-id=%q] a[data-roll-label]`, parsed.ID))),
		chromedp.WaitVisible(css(`[data-testid=confirm-roll]`)),
	)
	if h1 := run(t, ctx, "h1", chromedp.Text(css("h1"))); h1 != "Roll ‘no script’?" {
		t.Errorf("roll page asks %q", h1)
	}
	do(t, ctx, "roll now",
		chromedp.Click(css(`[data-testid=grace-now]`)),
		chromedp.Click(css(`[data-testid=confirm-roll]`)),
		chromedp.WaitVisible(css(`[data-testid=revealed-key]`)),
	)
	rolled := strings.TrimSpace(run(t, ctx, "key", chromedp.Text(css(`[data-testid=revealed-key]`))))
	if srv.APIGet(t, pagestest.AliceNotePath, rolled) != 200 || srv.APIGet(t, pagestest.AliceNotePath, key) != 401 {
		t.Fatal("rolling now without JavaScript: the new key should work and the old one not")
	}
	key = rolled
	parsed, _ = apikey.Parse(key)
	do(t, ctx, "done", chromedp.Click(css(`[data-testid=reveal-done]`)), chromedp.WaitNotVisible(css(`[data-testid=revealed-key]`)))

	do(t, ctx, "revoke page",
		chromedp.Click(css(fmt.Sprintf(`tr[data-key-id=%q] a[data-revoke-label]`, parsed.ID))),
		chromedp.WaitVisible(css(`[data-testid=confirm-revoke]`)),
	)
	if h1 := run(t, ctx, "h1", chromedp.Text(css("h1"))); h1 != "Revoke ‘no script’?" {
		t.Errorf("confirmation page asks %q", h1)
	}
	do(t, ctx, "confirm",
		chromedp.Click(css(`[data-testid=confirm-revoke]`)),
		chromedp.WaitVisible(css(`[data-testid=notice]`)),
	)
	if srv.APIGet(t, pagestest.AliceNotePath, key) != 401 {
		t.Fatal("revoked key still works")
	}
	do(t, ctx, "sign out",
		chromedp.Click(css(`form[action="/api-keys/logout"] button`)),
		chromedp.WaitVisible(css("#email")),
	)
}

// artifactsDir is test-artifacts/ at the repository root (git-ignored).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
	out := filepath.Join(dir, "test-artifacts")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// pressEnter presses Enter as a keyboard does: a raw key down (which
// activates a focused link), a char event (which activates a button and
// submits a form from a text field) and a key up. chromedp's KeyEvent
// sends "keyDown" with text, which does not activate links.
var pressEnter = chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
	for _, p := range []input.DispatchKeyEventParams{
		{Type: input.DispatchKeyEventTypeRawKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13},
		{Type: input.DispatchKeyEventTypeChar, Key: "Enter", Code: "Enter", Text: "\r", UnmodifiedText: "\r", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13},
		{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13},
	} {
		if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, p); err != nil {
			return err
		}
	}
	return nil
})
