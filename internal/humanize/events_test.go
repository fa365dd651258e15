package humanize_test

import (
	"encoding/json"
	"testing"

	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/humanize"
)

func TestEventWords(t *testing.T) {
	for _, a := range events.Actions {
		if got := humanize.EventAction(a); got == "" || got == a {
			t.Errorf("action %q has no words (%q)", a, got)
		}
	}
	for actor, want := range map[events.Actor]string{
		{Kind: events.KindOwner, ID: "u1"}:                          "Owner u1",
		{Kind: events.KindSuperuser, ID: "s1"}:                      "Superuser s1",
		{Kind: events.KindAccount, ID: "staff/u9"}:                  "Account staff/u9",
		{Kind: events.KindCLI, ID: "root"}:                          "CLI (root)",
		{Kind: events.KindLeakReport, ID: "GitHub secret scanning"}: "Leak report (GitHub secret scanning)",
		{Kind: events.KindSystem}:                                   "System",
		{Kind: events.KindCLI}:                                      "CLI",
	} {
		if got := humanize.EventActor(actor); got != want {
			t.Errorf("EventActor(%+v) = %q, want %q", actor, got, want)
		}
	}
	for _, c := range []struct {
		action, detail, want string
	}{
		{events.Created, ``, ``},
		{events.Rolled, `{"replacedBy":"k2","expires":"2026-01-02 03:04:05.000Z"}`, `replaced by k2; works until 2026-01-02 03:04:05 UTC`},
		{events.Revoked, `{"reason":"owner deleted"}`, `owner deleted`},
		{events.LeakRevoked, `{"url":"https://x.example/a","reportedBy":"GitHub secret scanning"}`, `found at https://x.example/a; reported by GitHub secret scanning`},
		{events.Reminder1Day, `{"expires":"2026-01-02 03:04:05.000Z"}`, `expires 2026-01-02 03:04:05 UTC`},
		{events.PermissionsChanged, `{"permissions":{"before":null,"after":{"notes":"read","@routes":"read"}},"allowed_ips":{"before":["10.0.0.0/8"],"after":null}}`,
			`permissions: full access → read notes; app routes: read; addresses: 10.0.0.0/8 → any`},
		{events.PermissionsChanged, `{"truncated":true}`, `too long to keep`},
	} {
		e := events.Event{Action: c.action}
		if c.detail != "" {
			e.Detail = json.RawMessage(c.detail)
		}
		if got := humanize.EventDetail(e); got != c.want {
			t.Errorf("EventDetail(%s %s) = %q, want %q", c.action, c.detail, got, c.want)
		}
	}
}
