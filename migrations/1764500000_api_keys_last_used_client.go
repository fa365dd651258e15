package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(addLastUsedClient, removeLastUsedClient)
}

// lastUsedClientFields say from where a key was last used: the client
// address and user agent of the use that last_used records, written with
// it. Empty for keys not used since this migration.
func lastUsedClientFields() []core.Field {
	return []core.Field{
		&core.TextField{Name: "last_used_ip", Max: 64},
		&core.TextField{Name: "last_used_user_agent", Max: 512},
	}
}

func addLastUsedClient(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	c.Fields.Add(lastUsedClientFields()...)
	return app.Save(c)
}

func removeLastUsedClient(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	for _, f := range lastUsedClientFields() {
		c.Fields.RemoveByName(f.GetName())
	}
	return app.Save(c)
}
