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
func ReleaseLookupConns(s *Store) { s.lookup.conns.release() }

// BreakLookupConns closes the kept connections that are free under the
// lookup, as a failing driver would, leaving them where the lookup will
// take them next.
func BreakLookupConns(s *Store) int {
	p := &s.lookup.conns
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.set == nil {
		return 0
	}
	for _, c := range p.set.free {
		c.conn.Close()
	}
	return len(p.set.free)
}
