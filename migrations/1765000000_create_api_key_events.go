package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(createAPIKeyEvents, dropAPIKeyEvents)
}

// api_key_events is each key's lifecycle record (internal/events): what was
// done to it — created, rolled, revoked, disabled, enabled, permissions
// changed, revoked as leaked, expired, the owner reminded of its expiry —,
// by whom, when, and from which address and user agent. Its rules are nil,
// so only superusers see it through PocketBase's API and dashboard; owners
// read their keys' events through GET /api/api-keys/{id}/events and the
// pages, and no API key may read it at all.
//
// "key" is the api_keys record id as plain text, not a relation: a key is
// deleted when it is revoked, and its events are kept (90 days) to say so.
// The owner is kept beside it for the same reason. "label" is the key's
// label when the event happened, so a revoked key can still be named.
//
// The reminders and "expired" happen once per key: a partial unique index
// on (key, action) for those actions lets each process claim one by
// inserting its row, so two servers on the same data, or one restarted,
// never send a reminder twice.
func createAPIKeyEvents(app core.App) error {
	c := core.NewBaseCollection("api_key_events")
	c.Fields.Add(
		&core.TextField{Name: "key", Required: true, Max: 15, Pattern: `^[a-z0-9]+$`},
		&core.TextField{Name: "label", Max: 255},
		&core.TextField{Name: "owner", Required: true, Max: 255, Pattern: `^[^\s]+$`},
		&core.TextField{Name: "owner_collection", Required: true, Max: 255, Pattern: `^[^\s]+$`},
		&core.SelectField{Name: "action", Required: true, MaxSelect: 1, Values: []string{
			"created", "rolled", "revoked", "disabled", "enabled", "permissions_changed",
			"leak_revoked", "expired", "expiry_reminder_7d", "expiry_reminder_1d",
		}},
		&core.SelectField{Name: "actor_kind", Required: true, MaxSelect: 1, Values: []string{
			"owner", "superuser", "account", "cli", "leak_report", "system",
		}},
		&core.TextField{Name: "actor_id", Max: 255},
		&core.TextField{Name: "ip", Max: 64},
		&core.TextField{Name: "user_agent", Max: 512},
		&core.JSONField{Name: "detail", MaxSize: 16384},
		&core.AutodateField{Name: "created", OnCreate: true},
	)
	c.AddIndex("idx_api_key_events_key_created", false, "key, created", "")
	c.AddIndex("idx_api_key_events_created", false, "created", "")
	c.AddIndex("idx_api_key_events_once", true, "key, action",
		"action IN ('expired', 'expiry_reminder_7d', 'expiry_reminder_1d')")
	return app.Save(c)
}

func dropAPIKeyEvents(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_key_events")
	if err != nil {
		return err
	}
	return app.Delete(c)
}
