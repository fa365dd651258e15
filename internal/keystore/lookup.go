package keystore

import (
	"strings"
	"sync/atomic"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Lookup reads a key row and its owner for the auth middleware, which does
// it on every key-authenticated request, at no more cost than PocketBase's
// own JWT auth reading its user.
//
// FindRecordById builds its SQL on every call (rewritten by regular
// expressions) and SQLite compiles it afresh; two such lookups per request
// (key, then owner) made key auth measurably slower than JWT auth, which
// needs one (see README, Performance). Lookup keeps, per collection, the
// query FindRecordById would run — PocketBase's RecordQuery, so records are
// built exactly as PocketBase builds them — as a prepared statement, and
// runs a copy of it per call: two lookups by primary key, each compiled
// once per connection.
type Lookup struct {
	app    core.App
	keys   atomic.Pointer[preparedFind]
	owners atomic.Pointer[preparedFind]
}

// preparedFind is "find one record of collection by id", prepared for one
// definition of the collection: when any collection changes, PocketBase
// caches new *Collection values and the query is prepared again.
type preparedFind struct {
	collection *core.Collection
	query      *dbx.Query // a template: never run, only copied
}

// NewLookup returns a Lookup reading from app.
func NewLookup(app core.App) *Lookup {
	return &Lookup{app: app}
}

// Find returns the key with id and the user who owns it, both read fresh
// from the database. It returns sql.ErrNoRows when either does not exist.
func (l *Lookup) Find(id string) (key, owner *core.Record, err error) {
	key, err = l.find(&l.keys, Collection, id)
	if err != nil {
		return nil, nil, err
	}
	owner, err = l.find(&l.owners, OwnerCollection, key.GetString(FieldUser))
	if err != nil {
		return nil, nil, err
	}
	return key, owner, nil
}

// find reads one record by id, retrying once if a concurrent schema change
// closed the statement it used.
func (l *Lookup) find(slot *atomic.Pointer[preparedFind], collection, id string) (*core.Record, error) {
	record, err := l.findOnce(slot, collection, id)
	if err != nil && strings.Contains(err.Error(), "statement is closed") {
		record, err = l.findOnce(slot, collection, id)
	}
	return record, err
}

func (l *Lookup) findOnce(slot *atomic.Pointer[preparedFind], collection, id string) (*core.Record, error) {
	p, err := l.prepared(slot, collection)
	if err != nil {
		return nil, err
	}
	// A copy shares the prepared statement (safe for concurrent use) and
	// PocketBase's hooks; Bind gives the copy its own parameters, and the
	// exec hook sets the copy's own timeout context.
	q := *p.query
	record := &core.Record{}
	if err := q.Bind(dbx.Params{"id": id}).One(record); err != nil {
		return nil, err
	}
	return record, nil
}

// prepared returns the prepared find for the collection's current definition.
func (l *Lookup) prepared(slot *atomic.Pointer[preparedFind], name string) (*preparedFind, error) {
	c, err := l.app.FindCachedCollectionByNameOrId(name)
	if err != nil {
		return nil, err
	}
	old := slot.Load()
	if old != nil && old.collection == c {
		return old, nil
	}
	q := l.app.RecordQuery(c).
		AndWhere(dbx.NewExp("[[" + c.Name + ".id]] = {:id}")).
		Limit(1).
		Build().
		Prepare()
	if q.LastError != nil {
		return nil, q.LastError
	}
	p := &preparedFind{collection: c, query: q}
	if !slot.CompareAndSwap(old, p) {
		q.Close() // another request prepared it first: use theirs
		return l.prepared(slot, name)
	}
	if old != nil {
		old.query.Close() // queries running on it finish first
	}
	return p, nil
}
