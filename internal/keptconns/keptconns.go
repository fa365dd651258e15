// Package keptconns keeps a few connections of a database/sql pool —
// PocketBase's read pool — out of its churn, each with the statements run
// on it prepared once, for queries that run on every request.
//
// Why: PocketBase keeps 15 of its read connections idle
// (core.DefaultDataMaxIdleConns). Under a few dozen requests at once it
// closes and opens connections all the time, and on each new one SQLite
// reads the schema again and every statement is prepared again. A kept
// connection never churns, and its prepared statements are only run.
//
// A kept connection is an *sql.Conn taken from the pool, so it has the
// app's driver and pragmas and is a connection like any other: each
// statement opens its own read transaction and sees every committed
// write, of this process or another. The connections go back to the pool
// when Release is called (before the app closes its databases), when the
// pool is replaced, and after an error.
package keptconns

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"sync"
)

// Conns is the kept connections of a pool. The zero value keeps none
// until first used.
type Conns struct {
	mu  sync.Mutex
	set *connSet // of the current pool; nil before the first use
	// released is the pool whose connections Release gave back: it is
	// closing, and a query still running then keeps none of it again.
	released *sql.DB
}

// connSet is the kept connections of one pool.
type connSet struct {
	db *sql.DB
	// turns holds a token per connection that may be kept and is not in
	// use. A query waits for one: queries here are short, and one that ran
	// on the shared pool instead would cost what the set is there to save.
	turns chan struct{}
	// free is the kept connections not in use, the last used last: a
	// query takes the last, so at low concurrency the same few connections
	// serve every query and their page caches stay warm. Guarded by
	// Conns.mu.
	free []*Conn
	gone chan struct{} // closed when the set is no longer the current one
}

// Conn is one kept connection. One query uses it at a time.
type Conn struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt // by SQL text
}

// maxStmts bounds the statements prepared on one connection: a new text
// comes with a schema change (a statement naming a collection's columns),
// after which the old ones are never run again.
const maxStmts = 8

// maxKept is how many connections of db are kept: two per CPU (a query is
// mostly CPU; two let one wait for the disk while another runs), at most 8,
// and at most a quarter of db's open connections so the pool's other
// queries never wait for them. Zero: none.
func maxKept(db *sql.DB) int {
	n := min(2*runtime.GOMAXPROCS(0), 8)
	if open := db.Stats().MaxOpenConnections; open > 0 {
		n = min(n, open/4)
	}
	return n
}

// Do runs fn on a kept connection of db, waiting for one to be free, and
// returns fn's error; kept is false when no connection could be kept (none
// may be, or the pool is being replaced or released), and then fn did not
// run: the caller runs its query on the shared pool. A connection whose
// query failed (other than sql.ErrNoRows) is not trusted again: it goes
// back to the pool.
func (p *Conns) Do(db *sql.DB, fn func(*Conn) error) (kept bool, err error) {
	c, set := p.get(db)
	if c == nil {
		return false, nil
	}
	err = fn(c)
	p.put(set, c, err == nil || errors.Is(err, sql.ErrNoRows))
	return true, err
}

// Stmt returns sqlText prepared on c, preparing it the first time.
func (c *Conn) Stmt(sqlText string) (*sql.Stmt, error) {
	if stmt, ok := c.stmts[sqlText]; ok {
		return stmt, nil
	}
	if len(c.stmts) >= maxStmts {
		c.closeStmts()
	}
	stmt, err := c.conn.PrepareContext(context.Background(), sqlText)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = make(map[string]*sql.Stmt)
	}
	c.stmts[sqlText] = stmt
	return stmt, nil
}

// get returns a kept connection of db and its set, waiting for one to be
// free; nil when none may be kept or one cannot be taken.
func (p *Conns) get(db *sql.DB) (*Conn, *connSet) {
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
	var c *Conn
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
	return &Conn{conn: conn}, set
}

// current returns the set of db, replacing the set of a pool that is no
// longer the current one (a restore, a new bootstrap).
func (p *Conns) current(db *sql.DB) *connSet {
	p.mu.Lock()
	if p.set != nil && p.set.db == db {
		defer p.mu.Unlock()
		return p.set
	}
	n := 0
	if db != p.released {
		n = maxKept(db)
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

// put gives c back to set after a query (c nil: none was taken): kept when
// the query went well; otherwise, or when set is no longer the current
// one, returned to the pool.
func (p *Conns) put(set *connSet, c *Conn, healthy bool) {
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

// Release returns every kept connection to its pool, the ones in use as
// their queries end, and keeps none of that pool again: call it before
// the app closes its databases.
func (p *Conns) Release() {
	p.mu.Lock()
	if p.set != nil {
		p.released = p.set.db
	}
	stale := p.swap(nil)
	p.mu.Unlock()
	closeAll(stale)
}

// swap makes set the current set and returns the free connections of the
// one it replaces, whose waiting queries go to the shared pool. Called
// with p.mu held.
func (p *Conns) swap(set *connSet) (stale []*Conn) {
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

func closeAll(conns []*Conn) {
	for _, c := range conns {
		c.close()
	}
}

func (c *Conn) closeStmts() {
	for _, stmt := range c.stmts {
		stmt.Close()
	}
	c.stmts = nil
}

// close finalizes c's statements and returns c to its pool.
func (c *Conn) close() {
	c.closeStmts()
	c.conn.Close()
}
