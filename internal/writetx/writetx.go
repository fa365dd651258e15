// Package writetx runs PocketBase transactions that hold SQLite's write
// lock from their first statement, so that another process's commit cannot
// make them fail half-way.
//
// PocketBase begins transactions deferred: the first read takes a
// snapshot, and the first write must then upgrade it. When another
// connection — another process on the same pb_data, such as the CLI beside
// a running server, or the server's usage writes beside the CLI — commits
// in between, SQLite refuses the write with SQLITE_BUSY_SNAPSHOT ("database
// is locked (517)"), which no waiting can cure (PocketBase retries the
// statement for about 7 s, then gives up). Within one process PocketBase
// has a single write connection, so this happens only across processes.
// Taking the write lock first — what SQLite's BEGIN IMMEDIATE does — makes
// the transaction wait for the other writer (within the busy timeout) and
// then read what it wrote.
package writetx

import (
	"github.com/pocketbase/pocketbase/core"
)

// takeWriteLock changes nothing, but as a write it makes SQLite take the
// write lock, waiting for another writer within the busy timeout. _params
// is PocketBase's own table, present in every app.
const takeWriteLock = "UPDATE _params SET id = id WHERE 0"

// Run runs fn in a transaction of app, as app.RunInTransaction does, with
// the write lock taken before fn runs. A transaction already in progress
// (app is a transaction's app) is joined as PocketBase joins it.
func Run(app core.App, fn func(tx core.App) error) error {
	return app.RunInTransaction(func(tx core.App) error {
		if _, err := tx.NonconcurrentDB().NewQuery(takeWriteLock).Execute(); err != nil {
			return err
		}
		return fn(tx)
	})
}
