// Package dbgen tells when the database last changed: a generation number
// that moves whenever any connection — this process's or another process's
// — commits to the app's data.db, so that what was read from it can be
// kept until then. It asks SQLite's PRAGMA data_version on kept
// connections of PocketBase's read pool (a value that changes when another
// connection committed, and only then); a change seen in _collections, the
// collections' definitions, also reloads PocketBase's collection cache,
// which otherwise never hears of another process's changes.
package dbgen

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keptconns"
)

// Watch follows one app's data.db. The zero value is not usable: use New.
type Watch struct {
	app   core.App
	conns *keptconns.Conns
	gen   atomic.Uint64

	mu          sync.Mutex // orders collection reloads
	collections string     // _collections as last seen (ids and update times)
}

// New returns a Watch of app's data.db, asking on conns (kept from its read
// pool).
func New(app core.App, conns *keptconns.Conns) *Watch {
	w := &Watch{app: app, conns: conns}
	w.gen.Store(1) // 0 is "no generation"
	return w
}

// Statements run on the kept connections.
const (
	dataVersionSQL = "PRAGMA data_version"
	// a collection's update time changes with every save of it (an
	// auth rule, a field), and the set of ids with every create or delete
	collectionsSQL = "SELECT ifnull(group_concat(id || updated, ','), '') FROM _collections"
)

// seen is what a kept connection last saw, its data_version, and the
// driver statement that asks it: run below database/sql, which would cost
// as much as the pragma itself on every request.
type seen struct {
	stmt        driver.Stmt
	dest        []driver.Value
	dataVersion int64
}

// Close finalizes the statement; keptconns calls it before the connection
// goes back to its pool.
func (s *seen) Close() error { return s.stmt.Close() }

// dataVersion asks c's data_version, preparing the statement on c once.
func dataVersion(c *keptconns.Conn) (v int64, last *seen, err error) {
	last, _ = c.Data.(*seen)
	err = c.Raw(func(driverConn any) error {
		if last == nil {
			prep, ok := driverConn.(driver.ConnPrepareContext)
			if !ok {
				return fmt.Errorf("dbgen: the driver cannot prepare statements")
			}
			stmt, err := prep.PrepareContext(context.Background(), dataVersionSQL)
			if err != nil {
				return err
			}
			if _, ok := stmt.(driver.StmtQueryContext); !ok {
				stmt.Close()
				return fmt.Errorf("dbgen: the driver cannot query a statement")
			}
			last = &seen{stmt: stmt, dest: make([]driver.Value, 1), dataVersion: -1}
			c.Data = last
		}
		rows, err := last.stmt.(driver.StmtQueryContext).QueryContext(context.Background(), nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := rows.Next(last.dest); err != nil {
			return err
		}
		n, ok := last.dest[0].(int64)
		if !ok {
			return fmt.Errorf("dbgen: data_version is a %T", last.dest[0])
		}
		v = n
		return nil
	})
	return v, last, err
}

// Current returns the database's generation now: a number that is the same
// on two calls exactly when no connection committed between them (it may
// move without a commit, never the reverse). ok is false when no
// connection could be kept to ask on: nothing read may be kept then.
func (w *Watch) Current() (gen uint64, ok bool) {
	db, isDBX := w.app.ConcurrentDB().(*dbx.DB)
	if !isDBX {
		return 0, false
	}
	var changed bool
	kept, err := w.conns.Do(db.DB(), func(c *keptconns.Conn) error {
		v, last, err := dataVersion(c)
		if err != nil {
			return err
		}
		// A connection asked for the first time cannot tell what changed
		// before it was kept (its last version is -1): a change.
		changed = last.dataVersion != v
		last.dataVersion = v
		if changed {
			return w.reloadCollectionsIfChanged(c)
		}
		return nil
	})
	if !kept || err != nil {
		return 0, false
	}
	if changed {
		return w.gen.Add(1), true
	}
	return w.gen.Load(), true
}

// reloadCollectionsIfChanged reloads PocketBase's collection cache when
// _collections is not what it was when last seen. PocketBase reloads it
// itself after its own saves; this is for another process's, which would
// otherwise go unseen until a restart (an auth rule tightened there would
// not apply here).
func (w *Watch) reloadCollectionsIfChanged(c *keptconns.Conn) error {
	stmt, err := c.Stmt(collectionsSQL)
	if err != nil {
		return err
	}
	var now string
	if err := stmt.QueryRow().Scan(&now); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if now == w.collections {
		return nil
	}
	w.collections = now
	if err := w.app.ReloadCachedCollections(); err != nil {
		return fmt.Errorf("dbgen: reload the collections: %w", err)
	}
	return nil
}
