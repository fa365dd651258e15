package keystore

import (
	"database/sql"
	"strings"
	"sync/atomic"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Lookup reads a key row and its owner in one indexed query, for the auth
// middleware, which does it on every key-authenticated request.
//
// PocketBase's own JWT auth costs one record lookup by primary key plus
// parsing the token. Two FindRecordById calls (key, then owner) cost a
// second query, and every PocketBase query is rewritten by regular
// expressions and compiled by SQLite afresh; together that made key auth
// measurably slower than JWT auth (see README, Performance). Lookup runs
// one join on two primary keys — api_keys.id, then users.id — as a
// prepared statement, compiled once per connection.
type Lookup struct {
	app   core.App
	query atomic.Pointer[lookupQuery]
}

// lookupQuery is the statement for one pair of collection definitions:
// when any collection changes, PocketBase caches new *Collection values and
// the statement is prepared again.
type lookupQuery struct {
	keys, owners *core.Collection
	stmt         *sql.Stmt // nil when the app's DB is not a plain *dbx.DB
	sql          string    // the same query with a dbx placeholder, for that case
}

// NewLookup returns a Lookup reading from app.
func NewLookup(app core.App) *Lookup {
	return &Lookup{app: app}
}

// Find returns the key with id and the user who owns it, both as complete
// records, read fresh from the database. It returns sql.ErrNoRows when the
// key does not exist (or, which cascade deletion rules out, its owner does not).
func (l *Lookup) Find(id string) (key, owner *core.Record, err error) {
	for attempt := 0; ; attempt++ {
		key, owner, err = l.find(id)
		// a concurrent schema change may close the statement we loaded
		if err == nil || attempt > 0 || !isClosedStmt(err) {
			return key, owner, err
		}
	}
}

func (l *Lookup) find(id string) (key, owner *core.Record, err error) {
	q, err := l.prepared()
	if err != nil {
		return nil, nil, err
	}
	n := len(q.keys.Fields) + len(q.owners.Fields)
	values := make([]sql.NullString, n)
	if q.stmt != nil {
		dst := make([]any, n)
		for i := range values {
			dst[i] = &values[i]
		}
		// no request context: a cancellable one costs the SQLite driver a
		// goroutine per query, and a lookup by primary key is over in microseconds
		err = q.stmt.QueryRow(id).Scan(dst...)
	} else {
		row := dbx.NullStringMap{}
		err = l.app.DB().NewQuery(q.sql).Bind(dbx.Params{"id": id}).One(&row)
		for i, name := range columnAliases(q.keys, q.owners) {
			values[i] = row[name]
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if key, err = recordFromValues(q.keys, values[:len(q.keys.Fields)]); err != nil {
		return nil, nil, err
	}
	if owner, err = recordFromValues(q.owners, values[len(q.keys.Fields):]); err != nil {
		return nil, nil, err
	}
	return key, owner, nil
}

// prepared returns the statement for the current collection definitions.
func (l *Lookup) prepared() (*lookupQuery, error) {
	keys, err := l.app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil, err
	}
	owners, err := l.app.FindCachedCollectionByNameOrId(OwnerCollection)
	if err != nil {
		return nil, err
	}
	old := l.query.Load()
	if old != nil && old.keys == keys && old.owners == owners {
		return old, nil
	}
	q := &lookupQuery{keys: keys, owners: owners, sql: lookupSQL(keys, owners, "{:id}")}
	if db, ok := l.app.ConcurrentDB().(*dbx.DB); ok {
		if q.stmt, err = db.DB().Prepare(lookupSQL(keys, owners, "?")); err != nil {
			return nil, err
		}
	}
	if !l.query.CompareAndSwap(old, q) {
		// another request prepared it first: use theirs
		if q.stmt != nil {
			q.stmt.Close()
		}
		return l.prepared()
	}
	if old != nil && old.stmt != nil {
		old.stmt.Close() // queries running on it finish first
	}
	return q, nil
}

// lookupSQL selects every field column of the key, then of its owner:
//
//	SELECT k."id" AS "k_id", ..., u."id" AS "u_id", ...
//	FROM "api_keys" k JOIN "users" u ON u."id" = k."user"
//	WHERE k."id" = ? LIMIT 1
func lookupSQL(keys, owners *core.Collection, placeholder string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	aliases := columnAliases(keys, owners)
	i := 0
	for _, part := range []struct {
		table string
		c     *core.Collection
	}{{"k", keys}, {"u", owners}} {
		for _, f := range part.c.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(part.table + "." + quote(f.GetName()) + " AS " + quote(aliases[i]))
			i++
		}
	}
	b.WriteString(" FROM " + quote(keys.Name) + " k JOIN " + quote(owners.Name) + " u")
	b.WriteString(" ON u." + quote(core.FieldNameId) + " = k." + quote(FieldUser))
	b.WriteString(" WHERE k." + quote(core.FieldNameId) + " = " + placeholder + " LIMIT 1")
	return b.String()
}

// columnAliases names the selected columns so that the two records' fields
// never collide: "k_" + key field, then "u_" + owner field.
func columnAliases(keys, owners *core.Collection) []string {
	names := make([]string, 0, len(keys.Fields)+len(owners.Fields))
	for _, f := range keys.Fields {
		names = append(names, "k_"+f.GetName())
	}
	for _, f := range owners.Fields {
		names = append(names, "u_"+f.GetName())
	}
	return names
}

// quote quotes an SQLite identifier.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func isClosedStmt(err error) bool {
	return err != nil && strings.Contains(err.Error(), "statement is closed")
}

// recordFromValues builds a record of collection c from one value per field
// (in c.Fields order), the way PocketBase builds records it reads (each raw
// value through the field's PrepareValue), and marks it as loaded from the
// database (not new, nothing changed).
func recordFromValues(c *core.Collection, values []sql.NullString) (*core.Record, error) {
	r := core.NewRecord(c)
	for i, f := range c.Fields {
		var raw any
		if values[i].Valid {
			raw = values[i].String
		}
		value, err := f.PrepareValue(r, raw)
		if err != nil {
			return nil, err
		}
		r.SetRaw(f.GetName(), value)
	}
	if r.Id == "" {
		return nil, sql.ErrNoRows
	}
	return r, r.PostScan()
}
