package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(addReplacedBy, removeReplacedBy)
}

// replaced_by holds the id of the key that a roll issued in this key's
// place. A key is rolled once: rolling it again would derive the new key's
// lifetime from an expiry the first roll already shortened.
func addReplacedBy(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	c.Fields.Add(&core.TextField{Name: "replaced_by", Max: 15, Pattern: `^[a-z0-9]*$`})
	return app.Save(c)
}

func removeReplacedBy(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	c.Fields.RemoveByName("replaced_by")
	return app.Save(c)
}
