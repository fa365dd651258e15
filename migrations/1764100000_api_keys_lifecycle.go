package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

func init() {
	m.Register(addKeyLifecycle, removeKeyLifecycle)
}

// lifecycleFields are added to api_keys by this migration. Every one of
// them is optional with a zero value meaning "as before" (never expires,
// read-write, every collection, no rate limit, enabled), so existing keys
// keep working unchanged.
func lifecycleFields() []core.Field {
	return []core.Field{
		&core.DateField{Name: "expires"},
		&core.BoolField{Name: "read_only"},
		&core.JSONField{Name: "collections", MaxSize: 4096}, // allow-list of collection names; empty = all
		&core.NumberField{Name: "rate_limit", OnlyInt: true, Min: types.Pointer(0.0), Max: types.Pointer(1_000_000.0)}, // requests per minute; 0 = unlimited
		&core.BoolField{Name: "disabled"},
	}
}

func addKeyLifecycle(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	c.Fields.Add(lifecycleFields()...)
	return app.Save(c)
}

func removeKeyLifecycle(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	for _, f := range lifecycleFields() {
		c.Fields.RemoveByName(f.GetName())
	}
	return app.Save(c)
}
