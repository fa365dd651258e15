package keystore

import "github.com/pocketbase/pocketbase/core"

// LookupSQL is the key lookup's statement for owners, for tests of its
// query plan.
func LookupSQL(app core.App, owners *core.Collection) (string, error) {
	keys, err := app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return "", err
	}
	l := lookup{app: app}
	return l.statement(keys, owners).SQL(), nil
}
