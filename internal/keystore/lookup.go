package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pbkeys/pbkeys/internal/dbgen"
	"github.com/pbkeys/pbkeys/internal/keptconns"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// ErrOwnerNotAllowed is returned by FindWithOwner for a key whose owner's
// collection is no longer one of the owner collections.
var ErrOwnerNotAllowed = errors.New("keystore: the key's owner collection may not own keys")

// FindWithOwner returns the key with id and the record that owns it, as the
// database holds them now: a revocation, an expiry, a pause or an owner
// change committed by any process applies to the next call. It returns
// sql.ErrNoRows when either does not exist. The auth middleware calls it
// on every key-authenticated request:
//
//   - the key row, by the lookup (below): a statement kept prepared on a
//     connection kept for it;
//   - its owner by PocketBase's own RecordQuery, the query of its
//     FindRecordById, which PocketBase's JWT auth reads its user with, so
//     the record a request runs as (which a hook may save) is exactly the
//     one PocketBase would have loaded; prepared once.
//
// Both are kept in memory until the database changes (internal/dbgen):
// whatever commits, in this process or another, the next call reads them
// again. The records returned are the caller's own (built or cloned).
func (s *Store) FindWithOwner(id string) (key, owner *core.Record, err error) {
	gen := s.lookup.generation()
	key, err = s.lookup.find(id, gen)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.app.FindCachedCollectionByNameOrId(key.GetString(FieldOwnerCollection))
	if err != nil || !s.IsOwnerCollection(c) {
		return nil, nil, ErrOwnerNotAllowed
	}
	owner, err = s.lookup.owner(c, key.GetString(FieldOwner), gen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, sql.ErrNoRows // the owner is gone
	}
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: read the key's owner: %w", err)
	}
	return key, owner, nil
}

// lookup reads a key row by id for FindWithOwner, on one of a few
// connections kept from PocketBase's read pool (internal/keptconns), where
// its statement stays prepared; when none may be kept, on the pool itself.
// And it reads owners.
//
// Why not one statement for both, a join? PocketBase builds a record from
// a row only in its own queries (core's newRecordFromNullStringMap, behind
// RecordQuery), which run on its pool; a record built from a row here
// differs in what Original() says of the password (PostScan reads it
// through the field's getter, which gives the plain password: none), and
// a hook saving that owner would make PocketBase think the password
// changed and drop the owner's MFA and auth-origin records.
type lookup struct {
	app       core.App
	conns     keptconns.Conns
	statement atomic.Pointer[lookupStatement]
	owners    sync.Map // owner collection id → *atomic.Pointer[ownerQuery]

	gen       *dbgen.Watch
	keys      *dbgen.Cache[cachedKey]   // by key id; nil: no cache
	ownerRecs *dbgen.Cache[cachedOwner] // by collection id + "/" + owner id
}

// cachedKey is a key's row as read with st.
type cachedKey struct {
	st  *lookupStatement
	row dbgen.Row
}

// cachedOwner is an owner as PocketBase read it, for the definition owners
// of its collection; callers get clones.
type cachedOwner struct {
	owners *core.Collection
	record *core.Record
}

// LookupConfig tunes the lookup. The zero value is useful: every zero
// field means its default. pbkeys' Config carries it as Tuning.Lookup.
type LookupConfig struct {
	// CacheSize is how many keys' rows are kept in memory between changes
	// of the database, in entries (a packed row each: about the size of the
	// row); owners are kept beside them, at most one per key. Negative: none
	// kept, every request reads the key row and its owner.
	CacheSize int
}

// defaultLookupCacheSize keeps a fleet of a hundred thousand active keys
// warm (the 100,000-key benchmark, make bench).
const defaultLookupCacheSize = 100_000

// newLookup returns the lookup of app, tuned by cfg, keeping what it reads
// for gen's generations.
func newLookup(app core.App, cfg LookupConfig, gen *dbgen.Watch) *lookup {
	size := cfg.CacheSize
	if size == 0 {
		size = defaultLookupCacheSize
	}
	return &lookup{app: app, gen: gen, keys: dbgen.NewCache[cachedKey](size), ownerRecs: dbgen.NewCache[cachedOwner](size)}
}

// generation is the database's generation now, 0 when nothing may be kept
// (no cache, or no connection to ask on).
func (l *lookup) generation() uint64 {
	if l.keys == nil {
		return 0
	}
	gen, ok := l.gen.Current()
	if !ok {
		return 0
	}
	return gen
}

// ownerQuery reads a record of owners by id, prepared for one definition
// of the collection.
type ownerQuery struct {
	owners *core.Collection
	query  *dbx.Query // a template: never run, only copied
}

// lookupStatement is the lookup's SQL for one definition of api_keys: when
// the collection changes, PocketBase caches a new *Collection, and the
// statement is written (and prepared) again.
type lookupStatement struct {
	keys *core.Collection
	sql  string
}

// find returns the key with id in generation gen (kept, or read and kept):
// sql.ErrNoRows when there is none.
func (l *lookup) find(id string, gen uint64) (*core.Record, error) {
	st, err := l.current()
	if err != nil {
		return nil, err
	}
	if k, ok := l.keys.Get(id, gen); ok && k.st == st {
		if key, err := recordFromRow(st.keys, k.row.Values()); err == nil {
			return key, nil
		}
	}
	db, err := concurrentDB(l.app)
	if err != nil {
		return nil, err
	}
	var key *core.Record
	kept, err := l.conns.Do(db.DB(), func(c *keptconns.Conn) error {
		stmt, err := c.Stmt(st.sql)
		if err != nil {
			return err
		}
		// No context: a read of one row by primary key; the connection's
		// busy_timeout bounds any wait for a lock. (With a context that can
		// be cancelled, the driver watches it from a goroutine per
		// statement.)
		rows, err := logged(db, st.sql, func() (*sql.Rows, error) { return stmt.Query(id) })
		if err != nil {
			return err
		}
		var values []sql.NullString
		key, values, err = st.scan(rows)
		if row, ok := dbgen.PackRow(values); ok && err == nil {
			l.keys.Set(id, gen, cachedKey{st: st, row: row})
		}
		return err
	})
	if kept && (err == nil || errors.Is(err, sql.ErrNoRows)) {
		return key, err
	}
	// PocketBase's own read: no connection may be kept, or the kept one
	// failed — broken, its statement outdated by a schema change that
	// PocketBase's collection cache did not show yet, or a row this
	// package's reading of records no longer builds the way PocketBase
	// does (recordFromRow): whatever it was, the answer is PocketBase's.
	return l.app.FindRecordById(st.keys, id)
}

// owner reads the record id of owners as FindRecordById does, with the
// statement prepared once per definition of owners. Any error but "no such
// row" (a statement closed by a concurrent schema change, say) is left to
// PocketBase's own FindRecordById.
//
// The owner is kept for generation gen and handed out as clones: a hook
// may change the record a request runs as.
func (l *lookup) owner(owners *core.Collection, id string, gen uint64) (*core.Record, error) {
	ref := owners.Id + "/" + id
	if o, ok := l.ownerRecs.Get(ref, gen); ok && o.owners == owners {
		return o.record.Clone(), nil
	}
	record, err := l.ownerOnce(owners, id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		record, err = l.app.FindRecordById(owners, id)
	}
	if err == nil {
		l.ownerRecs.Set(ref, gen, cachedOwner{owners: owners, record: record.Clone()})
	}
	return record, err
}

func (l *lookup) ownerOnce(owners *core.Collection, id string) (*core.Record, error) {
	p, err := l.ownerQuery(owners)
	if err != nil {
		return nil, err
	}
	// A copy shares the prepared statement (safe for concurrent use) and
	// PocketBase's hooks; Bind gives the copy its own parameters.
	q := *p.query
	record := &core.Record{}
	if err := q.Bind(dbx.Params{"id": id}).One(record); err != nil {
		return nil, err
	}
	return record, nil
}

// ownerQuery returns the owner query for the current definition of owners.
func (l *lookup) ownerQuery(owners *core.Collection) (*ownerQuery, error) {
	v, _ := l.owners.LoadOrStore(owners.Id, &atomic.Pointer[ownerQuery]{})
	slot := v.(*atomic.Pointer[ownerQuery])
	old := slot.Load()
	if old != nil && old.owners == owners {
		return old, nil
	}
	q := l.app.RecordQuery(owners).
		AndWhere(dbx.NewExp("[[" + owners.Name + ".id]] = {:id}")).
		Limit(1).Build().Prepare()
	if q.LastError != nil {
		return nil, q.LastError
	}
	p := &ownerQuery{owners: owners, query: q}
	if !slot.CompareAndSwap(old, p) {
		q.Close() // another request prepared it first: use theirs
		return l.ownerQuery(owners)
	}
	if old != nil {
		old.query.Close() // queries running on it finish first
	}
	return p, nil
}

// concurrentDB is PocketBase's read pool, ConcurrentDB, whatever driver
// the app was built with.
func concurrentDB(app core.App) (*dbx.DB, error) {
	db, ok := app.ConcurrentDB().(*dbx.DB)
	if !ok {
		return nil, fmt.Errorf("keystore: the app's ConcurrentDB is a %T, not a *dbx.DB", app.ConcurrentDB())
	}
	return db, nil
}

// logged runs query as PocketBase runs its own queries on db: through db's
// QueryLogFunc when there is one (PocketBase sets it in dev mode, to print
// every statement).
func logged(db *dbx.DB, sql string, query func() (*sql.Rows, error)) (*sql.Rows, error) {
	if db.QueryLogFunc == nil {
		return query()
	}
	start := time.Now()
	rows, err := query()
	db.QueryLogFunc(context.Background(), time.Since(start), sql, rows, err)
	return rows, err
}

// current returns the statement for the current definition of api_keys.
func (l *lookup) current() (*lookupStatement, error) {
	keys, err := l.app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil, err
	}
	if st := l.statement.Load(); st != nil && st.keys == keys {
		return st, nil
	}
	st := &lookupStatement{keys: keys, sql: lookupSQL(l.app.ConcurrentDB(), keys)}
	l.statement.Store(st)
	return st, nil
}

// lookupSQL is SELECT <the fields of keys> FROM api_keys WHERE id = ?: a
// search of its primary key.
func lookupSQL(q dbx.Builder, keys *core.Collection) string {
	columns := make([]string, len(keys.Fields))
	for i, f := range keys.Fields {
		columns[i] = q.QuoteSimpleColumnName(f.GetName())
	}
	return "SELECT " + strings.Join(columns, ", ") + " FROM " + q.QuoteSimpleTableName(keys.Name) +
		" WHERE " + q.QuoteSimpleColumnName(core.FieldNameId) + " = ?"
}

// scan builds the key from the lookup's rows and closes them.
// scan builds the key from the lookup's rows, closes them and returns the
// row's values too.
func (st *lookupStatement) scan(rows *sql.Rows) (*core.Record, []sql.NullString, error) {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("keystore: key lookup: %w", err)
		}
		return nil, nil, sql.ErrNoRows
	}
	values := make([]sql.NullString, len(st.keys.Fields))
	dest := make([]any, len(values))
	for i := range values {
		dest[i] = &values[i]
	}
	if err := rows.Scan(dest...); err != nil {
		return nil, nil, fmt.Errorf("keystore: key lookup: %w", err)
	}
	key, err := recordFromRow(st.keys, values)
	if err != nil {
		return nil, nil, err
	}
	return key, values, rows.Close()
}

// recordFromRow builds a record of c from the values of its fields, in
// c.Fields order, as PocketBase builds a record from a row it read (core's
// newRecordFromNullStringMap, which scans into sql.NullString too): each
// field's PrepareValue on the value as the database gave it (nil for
// NULL), then PostScan. PostScan takes the original values through the
// fields' getters, which for api_keys' kinds of fields (text, number,
// bool, date, JSON) are the values themselves; for a password field they
// would not be, which is why owners are read by PocketBase.
func recordFromRow(c *core.Collection, values []sql.NullString) (*core.Record, error) {
	record := core.NewRecord(c)
	for i, f := range c.Fields {
		var raw any
		if values[i].Valid {
			raw = values[i].String
		}
		value, err := f.PrepareValue(record, raw)
		if err != nil {
			return nil, fmt.Errorf("keystore: key lookup: %s.%s: %w", c.Name, f.GetName(), err)
		}
		record.SetRaw(f.GetName(), value)
	}
	if err := record.PostScan(); err != nil {
		return nil, err
	}
	return record, nil
}
