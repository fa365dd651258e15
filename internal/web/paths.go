package web

import (
	"net/url"
	"strings"

	"github.com/pbkeys/pbkeys/templates"
)

// DefaultPagesPath is where the pages live unless configured otherwise.
const DefaultPagesPath = "/api-keys"

// newPaths lays the pages out under prefix. It is the one place their URLs
// are written: the routes are registered from these values (register.go),
// the components link to them and redirects go to them. Per-key pages put
// the id last ("/api-keys/revoke/{id}", "/api-keys/permissions/{id}"): a
// pattern with the id in the middle would overlap the assets'
// "/api-keys/static/{path...}", which Go's ServeMux refuses.
func newPaths(prefix string) templates.Paths {
	return templates.Paths{
		Keys:      prefix,
		NewKey:    prefix + "/new",
		RevokeAll: prefix + "/revoke-all",
		Login:     prefix + "/login",
		Signup:    prefix + "/signup",
		Logout:    prefix + "/logout",
		Static:    prefix + "/static/",
		KeyAccess: prefix + "/permissions/",
	}
}

// activityPath is the Activity page of the key with id: what was done to
// it, by whom ("{id}": the route pattern).
func activityPath(p templates.Paths, id string) string { return p.Keys + "/activity/" + id }

// DefaultPaths are the pages' URLs under DefaultPagesPath.
func DefaultPaths() templates.Paths { return newPaths(DefaultPagesPath) }

// loginURL is the sign-in page that returns to next afterwards
// ("/api-keys/login?next=/api-keys/new": a "/" needs no escaping in a
// query). Going back to the list needs no "next".
func loginURL(p templates.Paths, next string) string {
	if next == "" || next == p.Keys {
		return p.Login
	}
	return p.Login + "?next=" + strings.ReplaceAll(url.QueryEscape(next), "%2F", "/")
}
