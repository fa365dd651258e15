package keystore

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// lookup reads a key and its owner for the auth middleware, which does it
// on every key-authenticated request: one statement, as PocketBase's own
// JWT auth reads its user with one. (Each SQLite statement opens a read
// transaction, and in profiles that was half the cost of key auth when
// the key and the owner were read by two.)
//
// The statement is prepared once per owner collection. Its first row is
// the owner, selected through PocketBase's RecordQuery, so PocketBase's
// own code builds the owner record from it (the record a request then
// runs as, which a hook may save: it must be exactly what PocketBase would
// have loaded). Its second row (UNION ALL) carries the key's columns packed
// into one string in the owner's id column (packedColumns), from which the
// key record is built field by field (recordFromColumns). Nothing is
// cached but the statement: both rows are read on every request.
type lookup struct {
	app   core.App
	joins sync.Map // owner collection id → *atomic.Pointer[preparedJoin]
}

// preparedJoin reads a key and its owner of one owner collection, prepared
// for one definition of both collections: when a collection changes,
// PocketBase caches new *Collection values and the query is prepared again.
type preparedJoin struct {
	keys, owners *core.Collection
	query        *dbx.Query // a template: never run, only copied
}

// ErrOwnerNotAllowed is returned by FindWithOwner for a key whose owner's
// collection is no longer one of the owner collections.
var ErrOwnerNotAllowed = errors.New("keystore: the key's owner collection may not own keys")

// FindWithOwner returns the key with id and the record that owns it, both
// read fresh from the database: revocation, expiry and owner changes are
// never cached. It returns sql.ErrNoRows when either does not exist.
//
// The owner collections are tried in order: with one (the usual case) a
// key costs one statement; a key of the n-th costs n.
func (s *Store) FindWithOwner(id string) (key, owner *core.Record, err error) {
	for _, name := range s.cfg.OwnerCollections {
		c, err := s.app.FindCachedCollectionByNameOrId(name)
		if err != nil || !s.IsOwnerCollection(c) {
			continue
		}
		key, owner, err = s.lookup.find(c, id)
		if !errors.Is(err, sql.ErrNoRows) {
			return key, owner, err
		}
	}
	// No key of an owner collection: a key whose owner's collection was
	// taken off the list says so; a missing key or owner is just missing.
	if k, err := s.Find(id); err == nil {
		if c, err := s.app.FindCachedCollectionByNameOrId(k.GetString(FieldOwnerCollection)); err != nil || !s.IsOwnerCollection(c) {
			return nil, nil, ErrOwnerNotAllowed
		}
	}
	return nil, nil, sql.ErrNoRows
}

// find reads the key with id owned by a record of owners, retrying once if
// a concurrent schema change closed the statement it used.
func (l *lookup) find(owners *core.Collection, id string) (key, owner *core.Record, err error) {
	key, owner, err = l.findOnce(owners, id)
	if err != nil && strings.Contains(err.Error(), "statement is closed") {
		key, owner, err = l.findOnce(owners, id)
	}
	return key, owner, err
}

func (l *lookup) findOnce(owners *core.Collection, id string) (key, owner *core.Record, err error) {
	p, err := l.prepared(owners)
	if err != nil {
		return nil, nil, err
	}
	// A copy shares the prepared statement (safe for concurrent use) and
	// PocketBase's hooks; Bind gives the copy its own parameters.
	q := *p.query
	var rows []*core.Record
	if err := q.Bind(dbx.Params{"id": id, "ownerCollection": owners.Id}).All(&rows); err != nil {
		return nil, nil, err
	}
	if len(rows) != 2 {
		return nil, nil, sql.ErrNoRows // no such key, or its owner is gone
	}
	// Which row is which: the key's row decodes into the key asked for,
	// owned by the other row's record. (An owner's id that happened to be
	// a packed key row of this very key is not possible: the row holds the
	// key's hash, made after the owner existed, with a random salt.)
	for i, r := range rows {
		other := rows[1-i]
		if !strings.HasPrefix(r.Id, packedPrefix) {
			continue
		}
		k, err := recordFromColumns(p.keys, r.Id)
		if err == nil && k.Id == id && k.GetString(FieldOwner) == other.Id {
			return k, other, nil
		}
	}
	return nil, nil, errors.New("keystore: the key lookup returned rows it cannot tell apart")
}

// prepared returns the statement for the current definitions of api_keys
// and owners, without a lock on the way of requests once it is prepared.
func (l *lookup) prepared(owners *core.Collection) (*preparedJoin, error) {
	keys, err := l.app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil, err
	}
	v, _ := l.joins.LoadOrStore(owners.Id, &atomic.Pointer[preparedJoin]{})
	slot := v.(*atomic.Pointer[preparedJoin])
	old := slot.Load()
	if old != nil && old.keys == keys && old.owners == owners {
		return old, nil
	}
	q := l.statement(keys, owners).Prepare()
	if q.LastError != nil {
		return nil, q.LastError
	}
	p := &preparedJoin{keys: keys, owners: owners, query: q}
	if !slot.CompareAndSwap(old, p) {
		q.Close() // another request prepared it first: use theirs
		return l.prepared(owners)
	}
	if old != nil {
		old.query.Close() // queries running on it finish first
	}
	return p, nil
}

// statement is, for a key {:id} of an owner of collection owners:
//
//	SELECT o.<owner fields> FROM owners o JOIN api_keys k ON k.owner = o.id
//	  WHERE <k is the key>
//	UNION ALL
//	SELECT <packed key columns>, NULL, ... FROM api_keys k WHERE <k is the key>
//
// as PocketBase's RecordQuery of owners, whose hooks build owner records
// from its rows. "k is the key" is
//
//	k.rowid = (SELECT rowid FROM api_keys WHERE id = {:id})
//	  AND +k.owner_collection = {:ownerCollection}
//
// so that SQLite reads the key row by rowid whatever its statistics say.
// Asked for k.id = {:id} directly, it read k through the list's index on
// owner_collection, which covers what the join reads, when its statistics
// (PocketBase runs PRAGMA optimize after migrations and at midnight) said
// the table was small: every key of the collection visited on every
// request, 100,000 with 100,000 keys. (The unary + keeps that term from
// choosing an index.)
func (l *lookup) statement(keys, owners *core.Collection) *dbx.Query {
	isKey := dbx.NewExp("[[k.rowid]] = (SELECT [[rowid]] FROM {{" + keys.Name + "}} WHERE [[id]] = {:id})" +
		" AND +[[k." + FieldOwnerCollection + "]] = {:ownerCollection}")
	ownerColumns := make([]string, len(owners.Fields))
	keyColumns := make([]string, len(owners.Fields))
	for i, f := range owners.Fields {
		ownerColumns[i] = "[[o." + f.GetName() + "]]"
		keyColumns[i] = "(NULL)" // parenthesised, or dbx quotes it as a column name
		if f.GetName() == core.FieldNameId {
			keyColumns[i] = packedColumns(keys, "k")
		}
	}
	keyRow := l.app.ConcurrentDB().Select(keyColumns...).From(keys.Name + " k").Where(isKey).Build()
	return l.app.RecordQuery(owners).
		Select(ownerColumns...).
		From(owners.Name+" o").
		InnerJoin(keys.Name+" k", dbx.NewExp("[[k."+FieldOwner+"]] = [[o.id]]")).
		Where(isKey).
		UnionAll(keyRow).
		Build()
}

// packedPrefix starts a packed key row.
const packedPrefix = "pbkeys:"

// packedColumns is the SQL expression that packs the columns of c's
// fields, of the table aliased alias, into one string: packedPrefix, then
// per field in c.Fields order "n" for NULL, or the value's length in bytes,
// ":" and the value as text. Length-prefixed, so any bytes may be in a
// value; a JSON object (json_object) said the same, but decoding it was
// most of the cost of building the key record on every request.
func packedColumns(c *core.Collection, alias string) string {
	parts := []string{"'" + packedPrefix + "'"}
	for _, f := range c.Fields {
		col := "[[" + alias + "." + f.GetName() + "]]"
		// NULL's length is NULL, so is the concatenation: ifnull says 'n'.
		parts = append(parts, "ifnull(length(CAST("+col+" AS BLOB))||':'||"+col+",'n')")
	}
	return strings.Join(parts, "||")
}

// recordFromColumns builds a record of c from the packed columns of one of
// its rows (packedColumns), as PocketBase builds a record from a row it
// read (core's newRecordFromNullStringMap): each field's PrepareValue on
// the value as the database gave it (nil for NULL), then PostScan.
// PostScan takes the original values through the fields' getters, which
// for api_keys' kinds of fields (text, number, bool, date, JSON, relation)
// are the values themselves.
func recordFromColumns(c *core.Collection, packed string) (*core.Record, error) {
	rest, ok := strings.CutPrefix(packed, packedPrefix)
	if !ok {
		return nil, errMalformedPacked
	}
	record := core.NewRecord(c)
	for _, f := range c.Fields {
		var raw any
		if strings.HasPrefix(rest, "n") {
			rest = rest[1:]
		} else {
			size, tail, ok := strings.Cut(rest, ":")
			n, err := strconv.Atoi(size)
			if !ok || err != nil || n < 0 || n > len(tail) {
				return nil, errMalformedPacked
			}
			raw, rest = tail[:n], tail[n:]
		}
		value, err := f.PrepareValue(record, raw)
		if err != nil {
			return nil, err
		}
		record.SetRaw(f.GetName(), value)
	}
	if rest != "" {
		return nil, errMalformedPacked
	}
	if err := record.PostScan(); err != nil {
		return nil, err
	}
	return record, nil
}

var errMalformedPacked = errors.New("keystore: malformed packed key row")
