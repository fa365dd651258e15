package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(addListIndexes, removeListIndexes)
}

// Lists show keys newest first, a page at a time: an owner's (pages, CLI)
// and everyone's (superusers). Indexes in that order let SQLite walk to a
// page instead of sorting every key of a person with thousands. The owner
// index gains the order as its tail, so it still serves every lookup by
// owner (cascade, revoke all).
const (
	ownerIndexV3   = "idx_api_keys_owner_created"
	createdIndexV3 = "idx_api_keys_created"
)

func addListIndexes(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	c.RemoveIndex(ownerIndexV2)
	c.AddIndex(ownerIndexV3, false, "owner_collection, owner, created, id", "")
	c.AddIndex(createdIndexV3, false, "created, id", "")
	return app.Save(c)
}

func removeListIndexes(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	c.RemoveIndex(ownerIndexV3)
	c.RemoveIndex(createdIndexV3)
	c.AddIndex(ownerIndexV2, false, "owner_collection, owner", "")
	return app.Save(c)
}
