package web

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/pocketbase/pocketbase/core"
)

// flashCookie carries a one-line message across a redirect ("Revoked
// 'CI deploy'."). It never holds a key or anything secret: only what the
// next page says, which the user could read anyway.
const flashCookie = "pbkeys_flash"

type flash struct {
	Text  string `json:"t"`
	Error bool   `json:"e,omitempty"`
}

func (p *pages) setFlash(e *core.RequestEvent, f flash) {
	b, _ := json.Marshal(f)
	e.SetCookie(&http.Cookie{
		Name:     flashCookie,
		Value:    base64.RawURLEncoding.EncodeToString(b),
		Path:     p.paths.Keys,
		MaxAge:   60,
		HttpOnly: true,
		Secure:   isHTTPS(e),
		SameSite: http.SameSiteLaxMode,
	})
}

// takeFlash returns the pending message, if any, and clears it.
func (p *pages) takeFlash(e *core.RequestEvent) *flash {
	cookie, err := e.Request.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	e.SetCookie(&http.Cookie{Name: flashCookie, Path: p.paths.Keys, MaxAge: -1, HttpOnly: true, Secure: isHTTPS(e), SameSite: http.SameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(cookie.Value)
	if err != nil || len(b) > 1024 {
		return nil
	}
	var f flash
	if json.Unmarshal(b, &f) != nil || f.Text == "" {
		return nil
	}
	return &f
}
