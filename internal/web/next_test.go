package web

import "testing"

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"":                            "/api-keys",
		"/api-keys/new":               "/api-keys/new",
		"/api-keys?x=1":               "/api-keys?x=1",
		"/api-keys#x":                 "/api-keys#x",
		"/_/":                         "/_/",
		"//evil.example":              "/api-keys",
		"///evil.example":             "/api-keys",
		`/\evil.example`:              "/api-keys",
		`\\evil.example`:              "/api-keys",
		"https://evil.example/":       "/api-keys",
		"HTTPS://evil.example/":       "/api-keys",
		"http:/evil.example":          "/api-keys",
		"http:evil.example":           "/api-keys",
		"javascript:alert(1)":         "/api-keys",
		"data:text/html,x":            "/api-keys",
		"/\t/evil.example":            "/api-keys",
		"/ /evil.example":             "/api-keys",
		"/\n/evil.example":            "/api-keys",
		"/\r/evil.example":            "/api-keys",
		" /api-keys":                  "/api-keys",
		"evil.example":                "/api-keys",
		"/api-keys/login":             "/api-keys",
		"/api-keys/login?next=//evil": "/api-keys",
		"/api-keys/signup":            "/api-keys",
		"/api-keys/logout":            "/api-keys",
		"/login":                      "/login",              // the app's own page, not ours
		"/%2F%2Fevil.example":         "/%2F%2Fevil.example", // a path on this site
		"/@evil.example":              "/@evil.example",      // a path on this site
		"/api-keys\x00//evil":         "/api-keys",
		"/api-keys/\u2028/evil":       "/api-keys",
		"\u00a0//evil.example":        "/api-keys",
		"/\u3000/evil.example":        "/api-keys",
		"/\xff":                       "/api-keys",
		"/%zz":                        "/api-keys",
	} {
		if got := safeNext(DefaultPaths(), next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}
