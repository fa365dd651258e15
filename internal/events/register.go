package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// pruneJob is the id of the daily cron job that deletes old events
// (PocketBase's dashboard lists it under Crons).
const pruneJob = "pbkeysEventsRetention"

// Register records the events of app's keys: after each create, update and
// delete of an api_keys record is committed (inside a transaction these
// hooks run after the commit, and a rollback records nothing), and deletes
// the events older than Retention once a day. A failed write is logged: it
// never fails the change, which is already committed.
func Register(app core.App) {
	app.OnRecordAfterCreateSuccess(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		write(e.App, keyEntry(e.App, e.Record, Created, nil))
		return e.Next()
	})
	app.OnRecordAfterUpdateSuccess(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		for _, c := range changes(e.Record) {
			write(e.App, keyEntry(e.App, e.Record, c.action, c.detail))
		}
		return e.Next()
	})
	app.OnRecordAfterDeleteSuccess(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		if l, ok := e.Record.GetRaw(leakKey).(leak); ok {
			write(e.App, keyEntry(e.App, e.Record, LeakRevoked, l))
		} else {
			write(e.App, keyEntry(e.App, e.Record, Revoked, nil))
		}
		return e.Next()
	})
	app.Cron().MustAdd(pruneJob, "37 3 * * *", func() {
		if _, err := Prune(app, time.Now()); err != nil {
			app.Logger().Warn("API keys: failed to delete old key events", "error", err)
		}
	})
}

// keyEntry is the event of action on key by whoever the path that changed
// it stated (the system when none did).
func keyEntry(app core.App, key *core.Record, action string, detail any) Entry {
	e := EntryFor(key, action)
	e.Detail = detail
	if o, ok := originOf(key); ok && o.Actor != "" {
		e.Actor = Actor{Kind: o.Actor, ID: o.ActorID}
		e.IP, e.UserAgent = o.IP, o.UserAgent
		return e
	}
	// Nobody stated it: a key deleted because its owner (or the owner's
	// collection) was, or a save by the app's own code (a hook, a migration).
	if action == Revoked {
		if _, err := app.FindRecordById(key.GetString(keystore.FieldOwnerCollection), key.GetString(keystore.FieldOwner)); err != nil {
			e.Detail = map[string]string{"reason": "owner deleted"}
		}
	}
	return e
}

func write(app core.App, e Entry) {
	if _, err := Write(app, e); err != nil {
		app.Logger().Warn("API keys: failed to record a key event", "keyId", e.Key, "action", e.Action, "error", err)
	}
}

// change is one event an update makes.
type change struct {
	action string
	detail any
}

// changes are the events of an update of key, from what differs between
// the stored row before (Original: PocketBase keeps it until the record is
// read again) and now. A relabel is no event.
func changes(key *core.Record) []change {
	before := key.Original()
	var out []change
	if was, now := before.GetString(keystore.FieldReplacedBy), key.GetString(keystore.FieldReplacedBy); was == "" && now != "" {
		out = append(out, change{Rolled, map[string]string{
			"replacedBy": now,
			"expires":    key.GetString(keystore.FieldExpires),
		}})
	}
	if was, now := before.GetBool(keystore.FieldDisabled), key.GetBool(keystore.FieldDisabled); was != now {
		action := Enabled
		if now {
			action = Disabled
		}
		out = append(out, change{action, nil})
	}
	diff := map[string]beforeAfter{}
	for _, name := range []string{keystore.FieldPermissions, keystore.FieldAllowedIPs} {
		was, now := jsonOf(before, name), jsonOf(key, name)
		if !sameJSON(was, now) {
			diff[name] = beforeAfter{Before: was, After: now}
		}
	}
	if len(diff) > 0 {
		out = append(out, change{PermissionsChanged, diff})
	}
	return out
}

// beforeAfter is a changed JSON field in a permissions_changed event.
type beforeAfter struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// jsonOf returns a JSON field's value as JSON: null when empty.
func jsonOf(r *core.Record, name string) json.RawMessage {
	b, err := json.Marshal(r.Get(name))
	if err != nil || len(bytes.TrimSpace(b)) == 0 || string(b) == `""` {
		return json.RawMessage("null")
	}
	return b
}

// sameJSON reports whether a and b are the same value, however written.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}
