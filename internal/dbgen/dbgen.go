// Package dbgen tells when the app's data.db last changed: a generation
// number that moves whenever any connection — this process's or another
// process's — commits to it, so that what was read from it can be kept
// until then. It asks SQLite's PRAGMA data_version on a connection kept
// from PocketBase's read pool (a value that changes when another
// connection committed, and only then). A change seen in _collections, the
// collections' definitions, also reloads PocketBase's collection cache,
// which otherwise never hears of another process's changes.
//
// One kind of commit does not move the generation: the bookkeeping this
// process writes through OwnWrite (last use and daily counts), which no
// kept read depends on, when nothing else committed at the same time.
package dbgen

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Watch follows one app's data.db. Make one with New.
type Watch struct {
	app core.App
	gen atomic.Uint64

	mu          sync.Mutex // the checker, what it last saw, collection reloads
	checker     *probe     // nil before the first use and after Release
	released    bool
	lastSeen    int64  // the checker's data_version last seen
	collections string // _collections as last seen (ids and update times)
}

// New returns the Watch of app's data.db. Its connection goes back to
// PocketBase's pool before the app closes its databases.
func New(app core.App) *Watch {
	w := &Watch{app: app}
	w.gen.Store(1) // 0 is "no generation"
	app.OnBootstrapClear().BindFunc(func(e *core.BootstrapEvent) error {
		w.Release()
		return e.Next()
	})
	return w
}

// Statements.
const (
	dataVersionSQL = "PRAGMA data_version"
	// a collection's update time changes with every save of it (an
	// auth rule, a field), and the set of ids with every create or delete
	collectionsSQL = "SELECT ifnull(group_concat(id || updated, ','), '') FROM _collections"
)

// Current returns the database's generation now: a number that is the same
// on two calls only when no connection committed between them (it may move
// without a commit, never the reverse), OwnWrite's bookkeeping aside. ok
// is false when there is no connection to ask on: nothing read may be kept
// then.
func (w *Watch) Current() (gen uint64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.checkLocked(); err != nil {
		return 0, false
	}
	return w.gen.Load(), true
}

// checkLocked asks the checker's data_version and moves the generation if
// it changed since last seen. Called with w.mu held.
func (w *Watch) checkLocked() error {
	if w.checker == nil {
		if w.released {
			return errors.New("dbgen: released")
		}
		db, ok := w.app.ConcurrentDB().(*dbx.DB)
		if !ok {
			return errors.New("dbgen: the read pool is not a *dbx.DB")
		}
		// as internal/keptconns: at most a quarter of the pool is kept
		if open := db.DB().Stats().MaxOpenConnections; open > 0 && open < 4 {
			return errors.New("dbgen: the read pool is too small to keep a connection")
		}
		p, err := openProbe(db.DB())
		if err != nil {
			return err
		}
		w.checker = p
		w.lastSeen = -1 // whatever came before: a change
	}
	v, err := w.checker.dataVersion()
	if err != nil {
		w.checker.close() // not trusted again; the next call opens another
		w.checker = nil
		return err
	}
	if v != w.lastSeen {
		w.lastSeen = v
		w.gen.Add(1)
		return w.reloadCollectionsIfChanged()
	}
	return nil
}

// reloadCollectionsIfChanged reloads PocketBase's collection cache when
// _collections is not what it was when last seen. PocketBase reloads it
// itself after its own saves; this is for another process's, which would
// otherwise go unseen until a restart (an auth rule tightened there would
// not apply here). Called with w.mu held.
func (w *Watch) reloadCollectionsIfChanged() error {
	var now string
	if err := w.checker.conn.QueryRowContext(context.Background(), collectionsSQL).Scan(&now); err != nil {
		return err
	}
	if now == w.collections {
		return nil
	}
	w.collections = now
	if err := w.app.ReloadCachedCollections(); err != nil {
		return fmt.Errorf("dbgen: reload the collections: %w", err)
	}
	return nil
}

// Release gives the checker's connection back; the Watch asks on none
// again (Current answers ok=false).
func (w *Watch) Release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.released = true
	if w.checker != nil {
		w.checker.close()
		w.checker = nil
	}
}

// OwnWrite runs write in one transaction on the app's write connection
// (PocketBase's NonconcurrentDB, one connection: every write of this
// process goes through it) and commits it. When nothing else committed
// from the start of write to the end of the commit, the commit does not
// move the generation: it is bookkeeping no kept read depends on.
//
// Why this is safe: while OwnWrite holds the write connection no other
// write of this process can commit, and while it holds SQLite's write lock
// (from its first statement to the commit) no other process can; a commit
// of another process before the lock shows in the checker's version read
// just before the commit, and one after the commit shows in the write
// connection's own data_version, which moves for other connections'
// commits only, read after the checker's.
func (w *Watch) OwnWrite(ctx context.Context, write func(conn *sql.Conn) error) error {
	return writeTx(ctx, w.app, w, write)
}

// Write runs write in one transaction on app's write connection and
// commits it, as OwnWrite does without a Watch to keep still.
func Write(ctx context.Context, app core.App, write func(conn *sql.Conn) error) error {
	return writeTx(ctx, app, nil, write)
}

func writeTx(ctx context.Context, app core.App, w *Watch, write func(conn *sql.Conn) error) error {
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		return errors.New("dbgen: the write pool is not a *dbx.DB")
	}
	conn, err := db.DB().Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	u0, err := connDataVersion(ctx, conn)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if err := write(conn); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	if w == nil {
		_, err := conn.ExecContext(ctx, "COMMIT")
		return err
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	absorb := w.checkLocked() == nil // what committed before ours moves it now
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	if !absorb {
		return nil
	}
	k1, err := w.checker.dataVersion()
	if err != nil {
		w.checker.close()
		w.checker = nil
		return nil // the next Current opens another checker: a change
	}
	u1, err := connDataVersion(ctx, conn)
	if err == nil && u1 == u0 {
		w.lastSeen = k1 // our commit only: the generation stays
		return nil
	}
	return w.checkLocked() // something else too: the generation moves
}

// connDataVersion asks conn's data_version through database/sql.
func connDataVersion(ctx context.Context, conn *sql.Conn) (v int64, err error) {
	err = conn.QueryRowContext(ctx, dataVersionSQL).Scan(&v)
	return v, err
}

// probe is the checker: a connection kept from the read pool with
// data_version prepared on it, asked below database/sql, whose per-query
// work would cost as much as the pragma itself on every request.
type probe struct {
	conn *sql.Conn
	stmt driver.Stmt
	dest []driver.Value
}

func openProbe(db *sql.DB) (*probe, error) {
	conn, err := db.Conn(context.Background())
	if err != nil {
		return nil, err
	}
	p := &probe{conn: conn, dest: make([]driver.Value, 1)}
	err = conn.Raw(func(driverConn any) error {
		prep, ok := driverConn.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("dbgen: the driver cannot prepare statements")
		}
		stmt, err := prep.PrepareContext(context.Background(), dataVersionSQL)
		if err != nil {
			return err
		}
		if _, ok := stmt.(driver.StmtQueryContext); !ok {
			stmt.Close()
			return errors.New("dbgen: the driver cannot query a statement")
		}
		p.stmt = stmt
		return nil
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	return p, nil
}

func (p *probe) dataVersion() (v int64, err error) {
	err = p.conn.Raw(func(any) error {
		rows, err := p.stmt.(driver.StmtQueryContext).QueryContext(context.Background(), nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := rows.Next(p.dest); err != nil {
			return err
		}
		n, ok := p.dest[0].(int64)
		if !ok {
			return fmt.Errorf("dbgen: data_version is a %T", p.dest[0])
		}
		v = n
		return nil
	})
	return v, err
}

func (p *probe) close() {
	p.conn.Raw(func(any) error { return p.stmt.Close() })
	p.conn.Close()
}
