package humanize

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// EventAction says what an event's action did: "Created", "Revoked: found
// exposed", "Reminded: expires in 7 days".
func EventAction(action string) string {
	switch action {
	case events.Created:
		return "Created"
	case events.Rolled:
		return "Rolled"
	case events.Revoked:
		return "Revoked"
	case events.Disabled:
		return "Disabled"
	case events.Enabled:
		return "Enabled"
	case events.PermissionsChanged:
		return "Permissions changed"
	case events.LeakRevoked:
		return "Revoked: found exposed"
	case events.Expired:
		return "Expired"
	case events.Reminder7Days:
		return "Owner reminded: expires in 7 days"
	case events.Reminder1Day:
		return "Owner reminded: expires in 1 day"
	}
	return action
}

// EventActor names who did something to a key: "Owner", "Superuser
// a1b2c3", "CLI (root)", "Leak report (GitHub secret scanning)", "System".
func EventActor(a events.Actor) string {
	var name string
	switch a.Kind {
	case events.KindOwner:
		name = "Owner"
	case events.KindSuperuser:
		name = "Superuser"
	case events.KindAccount:
		name = "Account"
	case events.KindCLI:
		name = "CLI"
	case events.KindLeakReport:
		name = "Leak report"
	case events.KindSystem:
		return "System"
	default:
		name = a.Kind
	}
	switch {
	case a.ID == "":
		return name
	case a.Kind == events.KindCLI || a.Kind == events.KindLeakReport:
		return name + " (" + a.ID + ")"
	}
	return name + " " + a.ID
}

// EventDetail says in a line what an event's detail holds; "" for none.
func EventDetail(e events.Event) string {
	if len(e.Detail) == 0 {
		return ""
	}
	var d map[string]json.RawMessage
	if json.Unmarshal(e.Detail, &d) != nil {
		return ""
	}
	text := func(name string) string {
		var s string
		_ = json.Unmarshal(d[name], &s)
		return s
	}
	switch e.Action {
	case events.Rolled:
		out := "replaced by " + text("replacedBy")
		if exp := text("expires"); exp != "" {
			out += "; works until " + exactTime(exp)
		}
		return out
	case events.Revoked:
		if text("reason") != "" {
			return text("reason")
		}
	case events.LeakRevoked:
		var parts []string
		if u := text("url"); u != "" {
			parts = append(parts, "found at "+u)
		}
		if by := text("reportedBy"); by != "" {
			parts = append(parts, "reported by "+by)
		}
		return strings.Join(parts, "; ")
	case events.Expired, events.Reminder7Days, events.Reminder1Day:
		if exp := text("expires"); exp != "" {
			return "expires " + exactTime(exp)
		}
	case events.PermissionsChanged:
		var parts []string
		for _, f := range []struct{ field, say string }{{"permissions", "permissions"}, {"allowed_ips", "addresses"}} {
			var ba struct{ Before, After json.RawMessage }
			if json.Unmarshal(d[f.field], &ba) != nil || ba.Before == nil {
				continue
			}
			describe := describePermissions
			if f.field == "allowed_ips" {
				describe = describeAddresses
			}
			parts = append(parts, f.say+": "+describe(ba.Before)+" → "+describe(ba.After))
		}
		if d["truncated"] != nil {
			return "too long to keep"
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// describePermissions is a stored permissions value as people read it.
func describePermissions(raw json.RawMessage) string {
	s, err := permissions.Parse(raw)
	if err != nil {
		return string(raw)
	}
	return s.Describe()
}

// describeAddresses is a stored allowed_ips value as people read it.
func describeAddresses(raw json.RawMessage) string {
	l, err := addrlist.Parse(raw)
	switch {
	case err != nil:
		return string(raw)
	case l == nil:
		return "any"
	}
	return strings.Join(l.Strings(), ", ")
}

// exactTime is a stored date ("2026-01-02 15:04:05.000Z") as
// "2026-01-02 15:04:05 UTC"; as it is when it is not one.
func exactTime(s string) string {
	t, err := types.ParseDateTime(s)
	if err != nil || t.IsZero() {
		return s
	}
	return t.Time().UTC().Format(time.DateTime + " UTC")
}
