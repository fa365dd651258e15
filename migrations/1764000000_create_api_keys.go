// Package migrations holds pbkeys' schema changes, one file each, named
// <unix>_<what>.go. A file's name is its identity: never rename a shipped one.
package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

func init() {
	m.Register(createAPIKeys, dropAPIKeys)
}

func createAPIKeys(app core.App) error {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}

	c := core.NewBaseCollection("api_keys")

	// Only signed-in users may create (the record hook sets and enforces the
	// owner; the createRule runs before hooks, so it cannot require an owner
	// field the SDK's create({label}) does not send). Owners see, relabel
	// and delete their own keys; everyone else gets 404, superusers bypass.
	c.ListRule = types.Pointer("user = @request.auth.id")
	c.ViewRule = types.Pointer("user = @request.auth.id")
	c.CreateRule = types.Pointer(`@request.auth.id != "" && @request.auth.collectionName = "users"`)
	c.UpdateRule = types.Pointer("user = @request.auth.id")
	c.DeleteRule = types.Pointer("user = @request.auth.id")

	c.Fields.Add(
		&core.RelationField{
			Name:          "user",
			CollectionId:  users.Id,
			Required:      true,
			MaxSelect:     1,
			CascadeDelete: true,
		},
		&core.TextField{
			Name:     "label",
			Required: true,
			Min:      1,
			Max:      100,
			// no control characters: labels end up in logs and pages
			Pattern: `^[^\x00-\x1f\x7f]+$`,
		},
		&core.TextField{
			Name:     "key_hash",
			Required: true,
			Hidden:   true, // and re-hidden from superusers in hooks/records.go
			Max:      512,
		},
		&core.DateField{Name: "last_used"},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	c.AddIndex("idx_api_keys_user", false, "user", "")

	return app.Save(c)
}

func dropAPIKeys(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	return app.Delete(c)
}
