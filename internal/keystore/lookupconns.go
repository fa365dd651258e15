package keystore

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// lookupConns keeps a few connections of PocketBase's read pool for the
// key lookup, each with the lookup's statement prepared on it.
//
// Why: PocketBase keeps 15 of its read connections idle
// (core.DefaultDataMaxIdleConns). Under a few dozen requests at once it
// closes and opens connections all the time, and on each new one SQLite
// reads the schema again and every statement is prepared again. Profiled
// on the built binary, that churn was what made a key's request slower
// than a JWT's. A kept connection never churns, and its prepared lookup
// is only run.
//
// A kept connection is an *sql.Conn taken from PocketBase's own pool, so it
// has the app's driver and pragmas and is a connection like any other: its
// statement opens its own read transaction and sees every committed write,
// of this process or another. The connections go back to the pool when
// the app's databases close (OnBootstrapClear) or are replaced, and after
// an error.
type lookupConns struct {
	mu  sync.Mutex
	set *connSet // of the app's current pool; nil before the first lookup
	// released is the pool whose connections release gave back: it is
	// closing, and a lookup still running then keeps none of it again.
	released *sql.DB
}

// connSet is the kept connections of one pool.
type connSet struct {
	db *sql.DB
	// turns holds a token per connection that may be kept and is not in
	// use. A lookup waits for one: a lookup is short, and one that ran on
	// the shared pool instead would cost what the set is there to save.
	turns chan struct{}
	// free is the kept connections not in use, the last used last: a
	// lookup takes the last, so at low concurrency the same few
	// connections serve every lookup and their page caches stay warm.
	// Guarded by lookupConns.mu.
	free []*lookupConn
	gone chan struct{} // closed when the set is no longer the app's
}

// lookupConn is one kept connection. One lookup uses it at a time.
type lookupConn struct {
	conn *sql.Conn
	st   *lookupStatement // the statement prepared on conn as stmt
	stmt *sql.Stmt
}

// maxKeptConns is how many connections of db are kept: two per CPU (a
// lookup is mostly CPU; two let one wait for the disk while another runs),
// at most 8, and at most a quarter of db's open connections so PocketBase's
// queries never wait for them. Zero: none, every lookup uses the shared
// pool.
func maxKeptConns(db *sql.DB) int {
	n := min(2*runtime.GOMAXPROCS(0), 8)
	if open := db.Stats().MaxOpenConnections; open > 0 {
		n = min(n, open/4)
	}
	return n
}

// get returns a kept connection of db and its set, waiting for one to be
// free; nil when none may be kept or one cannot be taken.
func (p *lookupConns) get(db *sql.DB) (*lookupConn, *connSet) {
	set := p.current(db)
	select {
	case <-set.turns:
	case <-set.gone:
		return nil, nil
	}
	p.mu.Lock()
	if p.set != set {
		p.mu.Unlock()
		return nil, nil // replaced while we waited
	}
	var c *lookupConn
	if n := len(set.free); n > 0 {
		c, set.free = set.free[n-1], set.free[:n-1]
	}
	p.mu.Unlock()
	if c != nil {
		return c, set
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		p.put(set, nil, false) // the shared pool will say what is wrong
		return nil, nil
	}
	return &lookupConn{conn: conn}, set
}

// current returns the set of db, replacing the set of a pool that is no
// longer the app's (a restore, a new bootstrap).
func (p *lookupConns) current(db *sql.DB) *connSet {
	p.mu.Lock()
	if p.set != nil && p.set.db == db {
		defer p.mu.Unlock()
		return p.set
	}
	n := 0
	if db != p.released {
		n = maxKeptConns(db)
	}
	set := &connSet{db: db, turns: make(chan struct{}, n), gone: make(chan struct{})}
	for range n {
		set.turns <- struct{}{}
	}
	if n == 0 {
		close(set.gone)
	}
	stale := p.swap(set)
	p.mu.Unlock()
	closeAll(stale)
	return set
}

// put gives c back to set after a lookup (c nil: none was taken): kept
// when the lookup went well; otherwise (a connection that failed once is
// not trusted again) or when set is no longer the app's, returned to
// PocketBase's pool.
func (p *lookupConns) put(set *connSet, c *lookupConn, healthy bool) {
	if !healthy && c != nil {
		c.close()
		c = nil
	}
	p.mu.Lock()
	if p.set == set {
		if c != nil {
			set.free = append(set.free, c)
		}
		set.turns <- struct{}{} // never blocks: the token was taken from it
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// release returns every kept connection to PocketBase's pool, the ones in
// use as their lookups end, and keeps none of that pool again: before the
// app closes its databases.
func (p *lookupConns) release() {
	p.mu.Lock()
	if p.set != nil {
		p.released = p.set.db
	}
	stale := p.swap(nil)
	p.mu.Unlock()
	closeAll(stale)
}

// swap makes set the current set and returns the free connections of the
// one it replaces, whose waiting lookups go to the shared pool. Called
// with p.mu held.
func (p *lookupConns) swap(set *connSet) (stale []*lookupConn) {
	old := p.set
	p.set = set
	if old == nil {
		return nil
	}
	select {
	case <-old.gone:
	default:
		close(old.gone)
	}
	stale, old.free = old.free, nil
	return stale
}

func closeAll(conns []*lookupConn) {
	for _, c := range conns {
		c.close()
	}
}

// find runs st on c for the key id.
func (c *lookupConn) find(db *dbx.DB, st *lookupStatement, id string) (*core.Record, error) {
	stmt, err := c.prepared(st)
	if err != nil {
		return nil, err
	}
	// No context: a read of one row by primary key; the connection's
	// busy_timeout bounds any wait for a lock. (With a context that can
	// be cancelled, the driver watches it from a goroutine per statement.)
	rows, err := logged(db, st.sql, func() (*sql.Rows, error) { return stmt.Query(id) })
	if err != nil {
		return nil, fmt.Errorf("keystore: key lookup: %w", err)
	}
	return st.scan(rows)
}

// prepared returns st prepared on c, preparing it again when api_keys'
// definition changed since.
func (c *lookupConn) prepared(st *lookupStatement) (*sql.Stmt, error) {
	if c.st == st {
		return c.stmt, nil
	}
	if c.stmt != nil {
		c.stmt.Close()
		c.st, c.stmt = nil, nil
	}
	stmt, err := c.conn.PrepareContext(context.Background(), st.sql)
	if err != nil {
		return nil, fmt.Errorf("keystore: prepare the key lookup: %w", err)
	}
	c.st, c.stmt = st, stmt
	return stmt, nil
}

// close finalizes c's statement and returns c to its pool.
func (c *lookupConn) close() {
	if c.stmt != nil {
		c.stmt.Close()
	}
	c.conn.Close()
}
