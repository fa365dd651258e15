package web

import (
	"net/url"
	"strings"
	"unicode"
)

// safeNext returns raw if it is a path on this site to go to after
// signing in, and PathKeys otherwise. It refuses anything a browser could
// read as another origin: absolute URLs ("https://evil"), scheme-relative
// ones ("//evil"), backslashes (browsers read "/\evil" as "//evil"),
// whitespace and control characters (browsers strip tabs and newlines, so
// "/\t/evil" becomes "//evil"), and anything that is not a plain path.
func safeNext(raw string) string {
	if raw == "" || len(raw) > 2048 || raw[0] != '/' || strings.HasPrefix(raw, "//") {
		return PathKeys
	}
	for _, r := range raw {
		if r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return PathKeys
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return PathKeys
	}
	switch u.Path {
	case PathLogin, PathSignup, PathLogout:
		return PathKeys // never bounce back to a sign-in page
	}
	return raw
}

// loginURL is the sign-in page that returns to next afterwards
// ("/login?next=/api-keys": a "/" needs no escaping in a query).
func loginURL(next string) string {
	if next == "" {
		next = PathKeys
	}
	return PathLogin + "?next=" + strings.ReplaceAll(url.QueryEscape(next), "%2F", "/")
}
