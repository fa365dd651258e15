package keystore

import (
	"database/sql"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/pocketbase/pocketbase/core"
)

// LookupSQL is the key lookup's statement, for tests of its query plan.
func LookupSQL(app core.App) (string, error) {
	keys, err := app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return "", err
	}
	return lookupSQL(app.ConcurrentDB(), keys), nil
}

// ReleaseLookupConns returns the lookup's kept connections and the
// generation watch's, as before the app's databases close.
func ReleaseLookupConns(s *Store) {
	s.lookup.conns.Release()
	s.lookup.gen.Release()
}

// CloseOwnerQueries closes the statements of the owner queries the lookup
// prepared, leaving the queries holding them, as a concurrent schema change
// leaves the copies of a query in flight while it closes the statement.
func CloseOwnerQueries(s *Store) {
	s.lookup.owners.Range(func(_, v any) bool {
		if q := v.(*atomic.Pointer[ownerQuery]).Load(); q != nil {
			// dbx keeps the statement unexported; a test may look
			stmt := reflect.ValueOf(q.query).Elem().FieldByName("stmt")
			(*sql.Stmt)(unsafe.Pointer(stmt.Pointer())).Close()
		}
		return true
	})
}
