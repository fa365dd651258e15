package keystore

import (
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// lookup reads a key row and its owner for the auth middleware, which does
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
type lookup struct {
	app    core.App
	keys   atomic.Pointer[preparedFind]
	owners sync.Map // owner collection id → *atomic.Pointer[preparedFind]
}

// preparedFind is "find one record of collection by id", prepared for one
// definition of the collection: when any collection changes, PocketBase
// caches new *Collection values and the query is prepared again.
type preparedFind struct {
	collection *core.Collection
	query      *dbx.Query // a template: never run, only copied
}

// ErrOwnerNotAllowed is returned by FindWithOwner for a key whose owner's
// collection is no longer one of the owner collections.
var ErrOwnerNotAllowed = errors.New("keystore: the key's owner collection may not own keys")

// FindWithOwner returns the key with id and the record that owns it, both
// read fresh from the database: revocation, expiry and owner changes are
// never cached. It returns sql.ErrNoRows when either does not exist.
func (s *Store) FindWithOwner(id string) (key, owner *core.Record, err error) {
	l := &s.lookup
	key, err = l.find(&l.keys, Collection, id)
	if err != nil {
		return nil, nil, err
	}
	collectionID := key.GetString(FieldOwnerCollection)
	c, err := l.app.FindCachedCollectionByNameOrId(collectionID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !s.IsOwnerCollection(c)) {
		return nil, nil, ErrOwnerNotAllowed
	}
	if err != nil {
		return nil, nil, err
	}
	slot, _ := l.owners.LoadOrStore(c.Id, &atomic.Pointer[preparedFind]{})
	owner, err = l.find(slot.(*atomic.Pointer[preparedFind]), c.Id, key.GetString(FieldOwner))
	if err != nil {
		return nil, nil, err
	}
	return key, owner, nil
}

// find reads one record by id, retrying once if a concurrent schema change
// closed the statement it used.
func (l *lookup) find(slot *atomic.Pointer[preparedFind], collection, id string) (*core.Record, error) {
	record, err := l.findOnce(slot, collection, id)
	if err != nil && strings.Contains(err.Error(), "statement is closed") {
		record, err = l.findOnce(slot, collection, id)
	}
	return record, err
}

func (l *lookup) findOnce(slot *atomic.Pointer[preparedFind], collection, id string) (*core.Record, error) {
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
func (l *lookup) prepared(slot *atomic.Pointer[preparedFind], name string) (*preparedFind, error) {
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
