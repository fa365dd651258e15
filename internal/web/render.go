package web

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/a-h/templ"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pbkeys/pbkeys/templates"
)

// contentSecurityPolicy allows only our own embedded assets: no inline
// script, no other origin, no framing (the revoke buttons must not be
// clickjacked), forms only to us.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// render renders c into a buffer and only then writes it, so a component
// failing half-way becomes a clean error page instead of half a page
// (PocketBase ignores an error once a response has started).
//
// Every page is "Cache-Control: no-store": pages show account data, and the
// page that reveals a new key must never be kept by the browser or a proxy.
func render(e *core.RequestEvent, status int, c templ.Component) error {
	var buf bytes.Buffer
	if err := c.Render(e.Request.Context(), &buf); err != nil {
		return e.InternalServerError("", err)
	}
	h := e.Response.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	e.Response.WriteHeader(status)
	_, err := e.Response.Write(buf.Bytes())
	return err
}

// redirect answers 303 See Other, so a POST is followed by a GET and a
// reload of the result never re-sends the form.
func redirect(e *core.RequestEvent, to string) error {
	e.Response.Header().Set("Cache-Control", "no-store")
	return e.Redirect(http.StatusSeeOther, to)
}

// pageErrors turns an error returned by a page handler into an HTML page
// (PocketBase would answer JSON). Server errors are logged without request
// data; the person sees a plain sentence.
func (p *pages) pageErrors(e *core.RequestEvent) error {
	// PocketBase's global CORS answers "Access-Control-Allow-Origin: *" for
	// its API; pages are for this site only, so they do not send it.
	e.Response.Header().Del("Access-Control-Allow-Origin")
	err := e.Next()
	if err == nil || e.Written() {
		return err
	}
	status := http.StatusInternalServerError
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) {
		status = apiErr.Status
	}
	if status >= 500 {
		e.App.Logger().Error("page failed", "method", e.Request.Method, "path", e.Request.URL.Path, "error", err)
	}
	return p.renderError(e, status, "")
}

// renderError renders the error page for status; message replaces the
// default sentence for that status when not empty.
func (p *pages) renderError(e *core.RequestEvent, status int, message string) error {
	title, text := errorText(status)
	if message != "" {
		text = message
	}
	var account *templates.Account
	if user := userFrom(e); user != nil {
		a := accountView(user)
		account = &a
	}
	return render(e, status, templates.ErrorPage(templates.ErrorView{
		Account: account, Status: status, Title: title, Message: text,
	}))
}

func errorText(status int) (title, message string) {
	switch status {
	case http.StatusNotFound:
		return "Not found", "There is nothing here. It may have been removed."
	case http.StatusForbidden:
		return "Not allowed", "You are not allowed to do that."
	case http.StatusConflict:
		return "Already done", "This was already done."
	case http.StatusTooManyRequests:
		return "Too many requests", "Please wait a moment and try again."
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "Something is wrong with the request", "The form could not be read. Go back, reload the page and try again."
	default:
		return "Something went wrong", "Something went wrong on our side. Please try again in a moment."
	}
}

// readForm parses a posted form of at most 64 KiB.
func readForm(e *core.RequestEvent) error {
	e.Request.Body = http.MaxBytesReader(e.Response, e.Request.Body, 64<<10)
	if err := e.Request.ParseForm(); err != nil {
		return e.BadRequestError("The form could not be read.", err)
	}
	return nil
}
