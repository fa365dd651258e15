package dbgen_test

import (
	"database/sql"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/internal/dbgen"
	"github.com/pbkeys/pbkeys/internal/keptconns"
)

func current(t *testing.T, w *dbgen.Watch) uint64 {
	t.Helper()
	gen, ok := w.Current()
	if !ok {
		t.Fatal("no connection could be kept")
	}
	return gen
}

// TestGenerationMovesWithCommits: the generation stays while nothing
// commits and moves with every commit, whichever connection makes it.
func TestGenerationMovesWithCommits(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	var conns keptconns.Conns
	t.Cleanup(conns.Release)
	w := dbgen.New(app, &conns)

	g := current(t, w)
	for range 5 {
		if again := current(t, w); again != g {
			t.Fatalf("the generation moved from %d to %d without a commit", g, again)
		}
	}
	users, _ := app.FindCollectionByNameOrId("users")
	u := core.NewRecord(users)
	u.SetEmail("gen@example.com")
	u.SetPassword("a long password 1")
	if err := app.Save(u); err != nil { // PocketBase's own writer
		t.Fatal(err)
	}
	if next := current(t, w); next == g {
		t.Fatal("a commit left the generation as it was")
	} else {
		g = next
	}
	// another connection altogether, as another process's would be
	other, err := sql.Open("sqlite", app.DataDir()+"/data.db")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("UPDATE users SET name = 'x' WHERE id = ?", u.Id); err != nil {
		t.Fatal(err)
	}
	if next := current(t, w); next == g {
		t.Fatal("another connection's commit left the generation as it was")
	}
}

// TestCacheKeepsOneGeneration: an entry is returned in its generation only.
func TestCacheKeepsOneGeneration(t *testing.T) {
	c := dbgen.NewCache[string](10)
	c.Set("k", 7, "v")
	if v, ok := c.Get("k", 7); !ok || v != "v" {
		t.Fatalf("same generation: %q %v", v, ok)
	}
	if _, ok := c.Get("k", 8); ok {
		t.Fatal("returned in a later generation")
	}
	c.Set("z", 0, "never") // 0: nothing may be kept
	if _, ok := c.Get("z", 0); ok {
		t.Fatal("kept in generation 0")
	}
	var none *dbgen.Cache[string] // no cache keeps nothing
	none.Set("k", 7, "v")
	if _, ok := none.Get("k", 7); ok {
		t.Fatal("a nil cache returned something")
	}
}

func TestRowPacksAndUnpacks(t *testing.T) {
	values := []sql.NullString{{String: "id", Valid: true}, {}, {String: "", Valid: true}, {String: "«ü» text", Valid: true}}
	row, ok := dbgen.PackRow(values)
	if !ok {
		t.Fatal("not packed")
	}
	got := row.Values()
	if len(got) != len(values) {
		t.Fatalf("%d values", len(got))
	}
	for i := range values {
		if got[i] != values[i] {
			t.Errorf("value %d: %+v, want %+v", i, got[i], values[i])
		}
	}
	if _, ok := dbgen.PackRow(make([]sql.NullString, 65)); ok {
		t.Error("packed 65 values")
	}
}
