// Package migrations is the example app's own schema.
package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		tasks := core.NewBaseCollection("tasks")
		owner := types.Pointer("owner = @request.auth.id")
		tasks.ListRule, tasks.ViewRule, tasks.UpdateRule, tasks.DeleteRule = owner, owner, owner, owner
		tasks.CreateRule = types.Pointer(`@request.auth.id != "" && @request.body.owner = @request.auth.id`)
		tasks.Fields.Add(
			&core.RelationField{Name: "owner", CollectionId: users.Id, Required: true, MaxSelect: 1, CascadeDelete: true},
			&core.TextField{Name: "title", Required: true},
		)
		return app.Save(tasks)
	}, func(app core.App) error {
		tasks, err := app.FindCollectionByNameOrId("tasks")
		if err != nil {
			return err
		}
		return app.Delete(tasks)
	})
}
