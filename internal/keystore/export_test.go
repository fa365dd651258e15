package keystore

import "github.com/pocketbase/pocketbase/core"

// LookupSQL is the key lookup's statement, for tests of its query plan.
func LookupSQL(app core.App) (string, error) {
	keys, err := app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return "", err
	}
	return lookupSQL(app.ConcurrentDB(), keys), nil
}

// ReleaseLookupConns returns the lookup's kept connections, as before the
// app's databases close.
func ReleaseLookupConns(s *Store) { s.lookup.conns.Release() }
