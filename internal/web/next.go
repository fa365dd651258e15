package web

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/pbkeys/pbkeys/templates"
)

// safeNext returns raw if it is a path on this site to go to after
// signing in, and the key list otherwise. It refuses anything a browser could
// read as another origin: absolute URLs ("https://evil"), scheme-relative
// ones ("//evil"), backslashes (browsers read "/\evil" as "//evil"),
// whitespace and control characters (browsers strip tabs and newlines, so
// "/\t/evil" becomes "//evil"), and anything that is not a plain path.
func safeNext(p templates.Paths, raw string) string {
	if raw == "" || len(raw) > 2048 || raw[0] != '/' || strings.HasPrefix(raw, "//") {
		return p.Keys
	}
	for _, r := range raw {
		if r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return p.Keys
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return p.Keys
	}
	switch u.Path {
	case p.Login, p.Signup, p.Logout:
		return p.Keys // never bounce back to a sign-in page
	}
	return raw
}
