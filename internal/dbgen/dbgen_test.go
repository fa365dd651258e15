package dbgen_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/internal/dbgen"
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
	w := dbgen.New(app)

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

// TestOwnWriteKeepsTheGeneration: the bookkeeping written by OwnWrite does
// not move the generation; a plain write does, and so does a commit of
// another connection made at the same time as an OwnWrite.
func TestOwnWriteKeepsTheGeneration(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	w := dbgen.New(app)
	if _, err := app.DB().NewQuery("CREATE TABLE bookkeeping (n INTEGER)").Execute(); err != nil {
		t.Fatal(err)
	}
	insert := func(conn *sql.Conn) error {
		_, err := conn.ExecContext(t.Context(), "INSERT INTO bookkeeping (n) VALUES (1)")
		return err
	}
	g := current(t, w)
	for range 3 {
		if err := w.OwnWrite(t.Context(), insert); err != nil {
			t.Fatal(err)
		}
		if next := current(t, w); next != g {
			t.Fatalf("an own write moved the generation from %d to %d", g, next)
		}
	}
	if err := dbgen.Write(t.Context(), app, insert); err != nil {
		t.Fatal(err)
	}
	if next := current(t, w); next == g {
		t.Fatal("a plain write left the generation as it was")
	} else {
		g = next
	}
	// another connection commits while the own write runs
	other, err := sql.Open("sqlite", app.DataDir()+"/data.db")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	err = w.OwnWrite(t.Context(), func(conn *sql.Conn) error {
		done := make(chan error, 1)
		go func() { // waits for the write lock: commits right after ours
			_, err := other.Exec("INSERT INTO bookkeeping (n) VALUES (2)")
			done <- err
		}()
		if err := insert(conn); err != nil {
			return err
		}
		t.Cleanup(func() {
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// the other connection's commit lands after ours: seen now or next
	for deadline := 0; current(t, w) == g; deadline++ {
		if deadline > 100 {
			t.Fatal("another connection's commit beside an own write never moved the generation")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
