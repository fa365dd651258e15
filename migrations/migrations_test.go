package migrations_test

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	_ "github.com/pbkeys/pbkeys/migrations"
)

func TestAPIKeysMigrationsAreReversible(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()

	keys, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		t.Fatalf("api_keys not created on start: %v", err)
	}
	hash, _ := keys.Fields.GetByName("key_hash").(*core.TextField)
	if hash == nil || !hash.Hidden || !hash.Required {
		t.Fatal("key_hash must be a required, hidden text field")
	}
	for _, name := range []string{"owner", "owner_collection"} {
		if f, _ := keys.Fields.GetByName(name).(*core.TextField); f == nil || !f.Required {
			t.Fatalf("%s must be a required text field", name)
		}
	}
	if keys.Fields.GetByName("user") != nil || keys.GetIndex("idx_api_keys_owner_created") == "" {
		t.Fatal("want the owner by reference (indexed), not the users relation")
	}

	for _, name := range []string{"expires", "permissions", "allowed_ips", "rate_limit", "disabled"} {
		if keys.Fields.GetByName(name) == nil {
			t.Fatalf("lifecycle field %q missing", name)
		}
	}

	runner := core.NewMigrationsRunner(app, core.AppMigrations)

	// the newest: the keys' events (TestAPIKeyEventsMigration checks it)
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 || app.HasTable("api_key_events") {
		t.Fatalf("down events: %v %v", reverted, err)
	}

	// permissions and allowed addresses in place of read_only and
	// collections (TestPermissionsMigration checks the keys)
	if keys.Fields.GetByName("read_only") != nil || keys.Fields.GetByName("collections") != nil {
		t.Fatal("read_only and collections are still there")
	}
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 {
		t.Fatalf("down permissions: %v %v", reverted, err)
	}
	keys, _ = app.FindCollectionByNameOrId("api_keys")
	lifecycle := []string{"expires", "read_only", "collections", "rate_limit", "disabled"}
	for _, name := range lifecycle {
		if keys.Fields.GetByName(name) == nil {
			t.Fatalf("after down: lifecycle field %q missing", name)
		}
	}
	if keys.Fields.GetByName("permissions") != nil || keys.Fields.GetByName("allowed_ips") != nil {
		t.Fatal("after down: permissions and allowed_ips still there")
	}

	// the pages' sessions, a plain table (no collection)
	if !app.HasTable("_pbkeys_page_sessions") {
		t.Fatal("_pbkeys_page_sessions not created")
	}
	if _, err := app.FindCollectionByNameOrId("_pbkeys_page_sessions"); err == nil {
		t.Fatal("_pbkeys_page_sessions is a collection")
	}
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 || app.HasTable("_pbkeys_page_sessions") {
		t.Fatalf("down page sessions: %v %v", reverted, err)
	}

	// the three before it: list indexes, the daily counts, and where a
	// key was last used from
	if keys.GetIndex("idx_api_keys_owner_created") == "" || keys.GetIndex("idx_api_keys_created") == "" || keys.GetIndex("idx_api_keys_owner") != "" {
		t.Fatal("want the list indexes, the owner one in place of idx_api_keys_owner")
	}
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 {
		t.Fatalf("down list indexes: %v %v", reverted, err)
	}
	keys, _ = app.FindCollectionByNameOrId("api_keys")
	if keys.GetIndex("idx_api_keys_owner_created") != "" || keys.GetIndex("idx_api_keys_owner") == "" {
		t.Fatal("after down: want idx_api_keys_owner back")
	}
	usage, err := app.FindCollectionByNameOrId("api_key_usage")
	if err != nil || usage.GetIndex("idx_api_key_usage_key_day") == "" || usage.ListRule != nil || usage.ViewRule != nil {
		t.Fatalf("api_key_usage: want it with a unique (key, day) index and superuser-only rules (%v)", err)
	}
	lastUsedClient := []string{"last_used_ip", "last_used_user_agent"}
	for _, name := range lastUsedClient {
		if keys.Fields.GetByName(name) == nil {
			t.Fatalf("field %q missing", name)
		}
	}
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 {
		t.Fatalf("down usage: %v %v", reverted, err)
	}
	if _, err := app.FindCollectionByNameOrId("api_key_usage"); err == nil {
		t.Fatal("api_key_usage still exists after down")
	}
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 {
		t.Fatalf("down last-used client: %v %v", reverted, err)
	}
	keys, _ = app.FindCollectionByNameOrId("api_keys")
	for _, name := range lastUsedClient {
		if keys.Fields.GetByName(name) != nil {
			t.Fatalf("field %q still there after down", name)
		}
	}
	if applied, err := runner.Up(); err != nil || len(applied) != 6 || !app.HasTable("_pbkeys_page_sessions") {
		t.Fatalf("up again: %v %v", applied, err)
	}
	if _, err := runner.Down(6); err != nil {
		t.Fatal(err)
	}

	// down: the owner goes back to the users relation; a users key keeps
	// its owner, a key of another collection cannot and goes
	users, _ := app.FindCollectionByNameOrId("users")
	alice := core.NewRecord(users)
	alice.SetEmail("alice@example.com")
	alice.SetPassword("correct horse battery")
	if err := app.Save(alice); err != nil {
		t.Fatal(err)
	}
	bots := core.NewAuthCollection("bots")
	if err := app.Save(bots); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ id, owner, collection string }{
		{"k1alice00000001", alice.Id, users.Id},
		{"k2bot0000000001", "b1bot0000000001", bots.Id},
	} {
		// raw rows: the keystore's rules (owner collections) are not bound here
		_, err := app.DB().Insert("api_keys", map[string]any{
			"id": k.id, "owner": k.owner, "owner_collection": k.collection,
			"label": "key", "key_hash": "$argon2id$x",
		}).Execute()
		if err != nil {
			t.Fatal(err)
		}
	}
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 {
		t.Fatalf("down owner: %v %v", reverted, err)
	}
	keys, _ = app.FindCollectionByNameOrId("api_keys")
	if user, _ := keys.Fields.GetByName("user").(*core.RelationField); user == nil || !user.Required || !user.CascadeDelete {
		t.Fatal("after down: want the required users relation back")
	}
	kept, err := app.FindAllRecords("api_keys")
	if err != nil || len(kept) != 1 || kept[0].GetString("user") != alice.Id {
		t.Fatalf("after down: %d keys (%v), want Alice's key with user = her id", len(kept), err)
	}
	// and up: the owner by reference again, from the relation
	if _, err := runner.Up(); err != nil {
		t.Fatal(err)
	}
	kept, err = app.FindAllRecords("api_keys")
	if err != nil || len(kept) != 1 || kept[0].GetString("owner") != alice.Id || kept[0].GetString("owner_collection") != users.Id {
		t.Fatalf("after up: %+v (%v), want Alice's key owned by her users record", kept, err)
	}
	if _, err := runner.Down(7); err != nil { // the owner and the six above it again
		t.Fatal(err)
	}

	// down 0: the label pattern widens again
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 {
		t.Fatalf("down 0: %v %v", reverted, err)
	}

	// down 1: replaced_by goes
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 {
		t.Fatalf("down 1: %v %v", reverted, err)
	}
	keys, err = app.FindCollectionByNameOrId("api_keys")
	if err != nil || keys.Fields.GetByName("replaced_by") != nil || keys.Fields.GetByName("expires") == nil {
		t.Fatalf("after down 1: want replaced_by gone and the lifecycle fields kept (%v)", err)
	}

	// down 2: the lifecycle fields go, the collection and its keys stay
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 {
		t.Fatalf("down 2: %v %v", reverted, err)
	}
	keys, err = app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		t.Fatalf("api_keys gone after reverting only the lifecycle migration: %v", err)
	}
	for _, name := range lifecycle {
		if keys.Fields.GetByName(name) != nil {
			t.Fatalf("field %q still there after down", name)
		}
	}

	// down 3: the collection goes
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 {
		t.Fatalf("down 3: %v %v", reverted, err)
	}
	if _, err := app.FindCollectionByNameOrId("api_keys"); err == nil {
		t.Fatal("api_keys still exists after down")
	}

	// and up again restores both
	if _, err := runner.Up(); err != nil {
		t.Fatalf("up again: %v", err)
	}
	keys, err = app.FindCollectionByNameOrId("api_keys")
	if err != nil || keys.Fields.GetByName("expires") == nil || keys.Fields.GetByName("replaced_by") == nil {
		t.Fatalf("api_keys incomplete after up: %v", err)
	}
}

// TestPermissionsMigration converts each kind of key to the permissions
// that reach exactly what it reached (the policy tests in hooks run those
// very maps: TestReadEverythingKey, TestCollectionWriteKey), and back.
func TestPermissionsMigration(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	for _, name := range []string{"notes", "tasks"} {
		if err := app.Save(core.NewBaseCollection(name)); err != nil {
			t.Fatal(err)
		}
	}
	runner := core.NewMigrationsRunner(app, core.AppMigrations)
	if _, err := runner.Down(2); err != nil { // the events, then permissions
		t.Fatal(err)
	}
	before := map[string]struct {
		readOnly    bool
		collections string
		want        string // permissions after up
		back        string // collections after down again
	}{
		"k1full000000001": {false, "", "null", "null"},
		"k2nulllist00001": {false, "null", "null", "null"},
		"k3emptylist0001": {false, "[]", "null", "[]"},
		"k4readonly00001": {true, "", `{"*":"read","@routes":"read"}`, `["notes","tasks","users"]`},
		"k5scoped0000001": {false, `["notes","tasks"]`, `{"@routes":"write","notes":"write","tasks":"write"}`, `["notes","tasks"]`},
		"k6roscoped00001": {true, `["notes"]`, `{"@routes":"read","notes":"read"}`, `["notes"]`},
	}
	for id, k := range before {
		row := map[string]any{"id": id, "owner": "u1", "owner_collection": "_pb_users_auth_", "label": "key", "key_hash": "$argon2id$x", "read_only": k.readOnly}
		if k.collections != "" {
			row["collections"] = k.collections
		}
		if _, err := app.DB().Insert("api_keys", row).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runner.Up(); err != nil {
		t.Fatal(err)
	}
	for id, k := range before {
		var got struct {
			Permissions *string `db:"permissions"`
		}
		if err := app.DB().NewQuery("SELECT permissions FROM api_keys WHERE id = {:id}").Bind(map[string]any{"id": id}).One(&got); err != nil {
			t.Fatal(err)
		}
		if p := ptrOr(got.Permissions, "null"); p != k.want && !(k.want == "null" && p == "") {
			t.Errorf("%s (read_only %v, collections %s): permissions %s, want %s", id, k.readOnly, k.collections, p, k.want)
		}
	}

	// and down again: the coarse fields, reaching no more
	if _, err := runner.Down(2); err != nil {
		t.Fatal(err)
	}
	for id, k := range before {
		var got struct {
			ReadOnly    bool    `db:"read_only"`
			Collections *string `db:"collections"`
		}
		if err := app.DB().NewQuery("SELECT read_only, collections FROM api_keys WHERE id = {:id}").Bind(map[string]any{"id": id}).One(&got); err != nil {
			t.Fatal(err)
		}
		if k.want == "null" {
			continue // untouched
		}
		if got.ReadOnly != k.readOnly || ptrOr(got.Collections, "null") != k.back {
			t.Errorf("%s after down: read_only %v, collections %s; want %v, %s", id, got.ReadOnly, ptrOr(got.Collections, "null"), k.readOnly, k.back)
		}
	}
}

func ptrOr(p *string, or string) string {
	if p == nil {
		return or
	}
	return *p
}

// api_key_events: superusers only, one event per (key, action) for the
// actions that happen once and any number of the others; reverting the
// migration drops it.
func TestAPIKeyEventsMigration(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()

	c, err := app.FindCollectionByNameOrId("api_key_events")
	if err != nil {
		t.Fatalf("api_key_events not created: %v", err)
	}
	if c.ListRule != nil || c.ViewRule != nil || c.CreateRule != nil || c.UpdateRule != nil || c.DeleteRule != nil {
		t.Fatal("api_key_events must be superuser-only (nil rules)")
	}
	for _, name := range []string{"key", "label", "owner", "owner_collection", "action", "actor_kind", "actor_id", "ip", "user_agent", "detail", "created"} {
		if c.Fields.GetByName(name) == nil {
			t.Fatalf("field %q missing", name)
		}
	}
	insert := func(action string) error {
		_, err := app.DB().Insert("api_key_events", map[string]any{
			"id": core.GenerateDefaultRandomId(), "key": "k1alice00000001", "owner": "u1", "owner_collection": "c1",
			"action": action, "actor_kind": "system",
		}).Execute()
		return err
	}
	for _, action := range []string{"disabled", "disabled", "expiry_reminder_7d", "expiry_reminder_1d", "expired"} {
		if err := insert(action); err != nil {
			t.Fatalf("first %s: %v", action, err)
		}
	}
	for _, action := range []string{"expiry_reminder_7d", "expiry_reminder_1d", "expired"} {
		if err := insert(action); err == nil {
			t.Fatalf("a second %s was accepted", action)
		}
	}

	runner := core.NewMigrationsRunner(app, core.AppMigrations)
	if reverted, err := runner.Down(1); err != nil || len(reverted) != 1 {
		t.Fatalf("down: %v %v", reverted, err)
	}
	if _, err := app.FindCollectionByNameOrId("api_key_events"); err == nil || app.HasTable("api_key_events") {
		t.Fatal("api_key_events still exists after down")
	}
	if applied, err := runner.Up(); err != nil || len(applied) != 1 {
		t.Fatalf("up again: %v %v", applied, err)
	}
}
