package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

func init() {
	m.Register(createAPIKeyUsage, dropAPIKeyUsage)
}

// api_key_usage counts each key's requests per day (UTC): one row per key
// and day, added to by pbkeys' usage recorder with an upsert, never per
// request. Its rules are nil, so only superusers see it through
// PocketBase's API; owners read their keys' counts through
// GET /api/api-keys/{id}/usage, and no API key may read it at all.
//
// "key" is the api_keys record id as plain text, not a relation: the rows
// of a key are deleted with it by one statement in its delete transaction
// (internal/keystore), where a cascading relation would load and delete
// them one record at a time.
func createAPIKeyUsage(app core.App) error {
	c := core.NewBaseCollection("api_key_usage")
	c.Fields.Add(
		&core.TextField{Name: "key", Required: true, Max: 15, Pattern: `^[a-z0-9]+$`},
		&core.TextField{Name: "day", Required: true, Min: 10, Max: 10, Pattern: `^\d{4}-\d{2}-\d{2}$`},
		&core.NumberField{Name: "requests", OnlyInt: true, Min: types.Pointer(0.0)},
	)
	c.AddIndex("idx_api_key_usage_key_day", true, "key, day", "")
	return app.Save(c)
}

func dropAPIKeyUsage(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_key_usage")
	if err != nil {
		return err
	}
	return app.Delete(c)
}
