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
	user, _ := keys.Fields.GetByName("user").(*core.RelationField)
	if user == nil || !user.CascadeDelete || !user.Required || user.MaxSelect != 1 {
		t.Fatal("user must be a required single relation with cascade delete")
	}
	if keys.GetIndex("idx_api_keys_user") == "" {
		t.Fatal("no index on user")
	}

	lifecycle := []string{"expires", "read_only", "collections", "rate_limit", "disabled"}
	for _, name := range lifecycle {
		if keys.Fields.GetByName(name) == nil {
			t.Fatalf("lifecycle field %q missing", name)
		}
	}

	runner := core.NewMigrationsRunner(app, core.AppMigrations)

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
