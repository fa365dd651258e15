// Package e2e drives the pages in a real headless Chromium (chromedp)
// against pbkeys served in-process on a loopback port: sign in, create a
// key, copy it, use it on the REST API, revoke it. The tests skip when
// Chromium is not installed, except in CI (CI=true), where they fail.
package e2e
