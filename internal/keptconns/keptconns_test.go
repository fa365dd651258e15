package keptconns

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tests"
)

// readPool is a test app's read pool: PocketBase's, with its driver and
// pragmas.
func readPool(t *testing.T) *sql.DB {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	return app.ConcurrentDB().(*dbx.DB).DB()
}

// one runs "SELECT 1" on a kept connection of db.
func one(p *Conns, db *sql.DB) (kept bool, err error) {
	return p.Do(db, func(c *Conn) error {
		stmt, err := c.Stmt("SELECT 1")
		if err != nil {
			return err
		}
		var n int
		return stmt.QueryRow().Scan(&n)
	})
}

func TestKeepsPreparesOnceAndReleases(t *testing.T) {
	db := readPool(t)
	var p Conns
	var first *sql.Stmt
	for i := range 20 {
		kept, err := p.Do(db, func(c *Conn) error {
			stmt, err := c.Stmt("SELECT 1")
			if i == 0 {
				first = stmt
			} else if stmt != first {
				t.Errorf("query %d: prepared again on the kept connection", i)
			}
			return err
		})
		if !kept || err != nil {
			t.Fatalf("query %d: kept %v, %v", i, kept, err)
		}
	}
	if n := db.Stats().InUse; n != 1 {
		t.Fatalf("%d connections in use after queries one at a time, want the one kept", n)
	}
	p.Release()
	if n := db.Stats().InUse; n != 0 {
		t.Fatalf("%d connections in use after Release", n)
	}
	// a query after the release (the pool is closing) keeps nothing
	if kept, _ := one(&p, db); kept || db.Stats().InUse != 0 {
		t.Fatalf("kept a connection of a released pool")
	}
}

// TestKeepsNoneOfASmallPool: a pool too small to spare a quarter of it
// keeps none.
func TestKeepsNoneOfASmallPool(t *testing.T) {
	db := readPool(t)
	db.SetMaxOpenConns(3)
	var p Conns
	if kept, _ := one(&p, db); kept || db.Stats().InUse != 0 {
		t.Fatal("kept a connection of a pool of 3")
	}
}

// TestAFailedConnectionGoesBack: a kept connection whose query fails is
// returned to the pool, and the next query keeps a new one; "no rows" is
// no failure.
func TestAFailedConnectionGoesBack(t *testing.T) {
	db := readPool(t)
	var p Conns
	var broken *Conn
	p.Do(db, func(c *Conn) error { broken = c; return nil })
	broken.conn.Close() // as a failing driver would
	kept, err := one(&p, db)
	if !kept || err == nil {
		t.Fatalf("query on the broken connection: kept %v, err %v", kept, err)
	}
	var next *Conn
	if kept, err := p.Do(db, func(c *Conn) error { next = c; return sql.ErrNoRows }); !kept || !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("after the failure: kept %v, %v", kept, err)
	}
	if next == broken {
		t.Fatal("the broken connection was kept")
	}
	var again *Conn
	p.Do(db, func(c *Conn) error { again = c; return nil })
	if again != next {
		t.Fatal("a connection whose query found no rows was not kept")
	}
}
