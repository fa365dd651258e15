package migrations

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

func init() {
	m.Register(ownerByReference, ownerByUserRelation)
}

// A key's owner may be a record of any auth collection the operator names
// (users, service accounts...), so it is kept as PocketBase keeps the
// owner of its own _externalAuths and _mfas records: the owner record's id
// ("owner") and its collection's id ("owner_collection"), with the cascade
// on delete done by pbkeys' record hooks. A relation field can point into
// one collection only. Existing keys all belong to users and keep working.
const (
	ownerRuleV2  = "owner = @request.auth.id && owner_collection = @request.auth.collectionId"
	createRuleV2 = `@request.auth.id != ""`
	ownerIndexV2 = "idx_api_keys_owner"

	ownerRuleV1  = "user = @request.auth.id"
	createRuleV1 = `@request.auth.id != "" && @request.auth.collectionName = "users"`
	ownerIndexV1 = "idx_api_keys_user"
)

func ownerByReference(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	c.Fields.Add(
		&core.TextField{Name: "owner", Max: 255, Pattern: `^[^\s]+$`},
		&core.TextField{Name: "owner_collection", Max: 255, Pattern: `^[^\s]+$`},
	)
	if err := app.Save(c); err != nil {
		return err
	}
	_, err = app.DB().NewQuery("UPDATE {{api_keys}} SET [[owner]] = [[user]], [[owner_collection]] = {:users}").
		Bind(dbx.Params{"users": users.Id}).Execute()
	if err != nil {
		return err
	}

	c.RemoveIndex(ownerIndexV1)
	c.Fields.RemoveByName("user")
	for _, name := range []string{"owner", "owner_collection"} {
		c.Fields.GetByName(name).(*core.TextField).Required = true
	}
	c.AddIndex(ownerIndexV2, false, "owner_collection, owner", "")
	setOwnerRules(c, ownerRuleV2, createRuleV2)
	return app.Save(c)
}

// ownerByUserRelation goes back to the users relation. Keys owned by other
// collections cannot be represented there and are deleted.
func ownerByUserRelation(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	_, err = app.DB().NewQuery("DELETE FROM {{api_keys}} WHERE [[owner_collection]] != {:users}").
		Bind(dbx.Params{"users": users.Id}).Execute()
	if err != nil {
		return err
	}
	c.RemoveIndex(ownerIndexV2)
	c.Fields.Add(&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, CascadeDelete: true})
	if err := app.Save(c); err != nil {
		return err
	}
	if _, err := app.DB().NewQuery("UPDATE {{api_keys}} SET [[user]] = [[owner]]").Execute(); err != nil {
		return err
	}

	c.Fields.RemoveByName("owner")
	c.Fields.RemoveByName("owner_collection")
	c.Fields.GetByName("user").(*core.RelationField).Required = true
	c.AddIndex(ownerIndexV1, false, "user", "")
	setOwnerRules(c, ownerRuleV1, createRuleV1)
	return app.Save(c)
}

func setOwnerRules(c *core.Collection, owner, create string) {
	c.ListRule = types.Pointer(owner)
	c.ViewRule = types.Pointer(owner)
	c.UpdateRule = types.Pointer(owner)
	c.DeleteRule = types.Pointer(owner)
	c.CreateRule = types.Pointer(create)
}
