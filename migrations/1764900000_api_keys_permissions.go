package migrations

import (
	"encoding/json"
	"slices"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(addKeyPermissions, removeKeyPermissions)
}

// permissionFields replace read_only and collections: a level per
// collection (internal/permissions; null: full access) and the addresses a
// key may be used from (null: anywhere).
func permissionFields() []core.Field {
	return []core.Field{
		&core.JSONField{Name: "permissions", MaxSize: 8192},
		&core.JSONField{Name: "allowed_ips", MaxSize: 4096},
	}
}

// The fields they replace, as migration 1764100000 made them.
func coarseScopeFields() []core.Field {
	return []core.Field{
		&core.BoolField{Name: "read_only"},
		&core.JSONField{Name: "collections", MaxSize: 4096},
	}
}

// Each key keeps exactly what it could reach. A read-only key could read
// every collection and call the app's routes with GET, HEAD and OPTIONS; a
// key limited to collections could do anything in them and call the app's
// routes with any method (they name no collection); both: read those
// collections, GET the routes.
func permissionsOf(readOnly bool, collections []string) map[string]string {
	level := "write"
	if readOnly {
		level = "read"
	}
	perms := map[string]string{"@routes": level}
	if len(collections) == 0 {
		if !readOnly {
			return nil // full access, as before
		}
		perms["*"] = "read"
	}
	for _, name := range collections {
		perms[name] = level
	}
	return perms
}

func addKeyPermissions(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	c.Fields.Add(permissionFields()...)
	if err := app.Save(c); err != nil {
		return err
	}

	// Raw statements: saving the records would run their hooks (last
	// change, lifecycle events) for what is a change of form only.
	var rows []struct {
		ID          string `db:"id"`
		ReadOnly    bool   `db:"read_only"`
		Collections string `db:"collections"`
	}
	if err := app.DB().NewQuery("SELECT id, read_only, ifnull(collections, '') AS collections FROM api_keys WHERE read_only OR ifnull(collections, '') NOT IN ('', 'null', '[]')").All(&rows); err != nil {
		return err
	}
	for _, r := range rows {
		var names []string
		_ = json.Unmarshal([]byte(r.Collections), &names)
		perms, _ := json.Marshal(permissionsOf(r.ReadOnly, names))
		if _, err := app.DB().NewQuery("UPDATE api_keys SET permissions = {:p} WHERE id = {:id}").
			Bind(dbx.Params{"p": string(perms), "id": r.ID}).Execute(); err != nil {
			return err
		}
	}

	for _, f := range coarseScopeFields() {
		c.Fields.RemoveByName(f.GetName())
	}
	return app.Save(c)
}

// removeKeyPermissions goes back to read_only and collections, with the
// collections that exist at the time: a key with permissions becomes one
// limited to the collections it could read or write, read-only unless it
// could write one of them. Exact for the keys the way up converted; the
// coarse fields cannot say everything a map can (a key that wrote one
// collection and read another may then write both).
func removeKeyPermissions(app core.App) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	c.Fields.Add(coarseScopeFields()...)
	if err := app.Save(c); err != nil {
		return err
	}

	var rows []struct {
		ID          string `db:"id"`
		Permissions string `db:"permissions"`
	}
	if err := app.DB().NewQuery("SELECT id, permissions FROM api_keys WHERE permissions IS NOT NULL AND permissions NOT IN ('', 'null')").All(&rows); err != nil {
		return err
	}
	all, err := app.FindAllCollections()
	if err != nil {
		return err
	}
	for _, r := range rows {
		var perms map[string]string
		_ = json.Unmarshal([]byte(r.Permissions), &perms)
		level := func(name string) string {
			if l, ok := perms[name]; ok {
				return l
			}
			return perms["*"]
		}
		readOnly := true
		names := []string{}
		for _, c := range all {
			if c.System || slices.Contains([]string{"api_keys", "api_key_usage", "api_key_events"}, c.Name) {
				continue
			}
			switch level(c.Name) {
			case "write":
				readOnly = false
				fallthrough
			case "read":
				names = append(names, c.Name)
			}
		}
		if len(names) == 0 {
			// it reached no collection: a name no collection can have
			// keeps it that way
			names = append(names, "@none")
		}
		slices.Sort(names)
		list, _ := json.Marshal(names)
		if _, err := app.DB().NewQuery("UPDATE api_keys SET read_only = {:ro}, collections = {:c} WHERE id = {:id}").
			Bind(dbx.Params{"ro": readOnly, "c": string(list), "id": r.ID}).Execute(); err != nil {
			return err
		}
	}

	for _, f := range permissionFields() {
		c.Fields.RemoveByName(f.GetName())
	}
	return app.Save(c)
}
