package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(createPageSessions, dropPageSessions)
}

// _pbkeys_page_sessions holds the pages' sign-ins, one row per signed-in
// browser (internal/web, pagesessions.go), so that signing out ends a
// session in every process that serves the same pb_data. It is a plain
// table, not a collection: no REST route, realtime topic, filter, expand,
// API key or dashboard list knows it, and PocketBase refuses a collection
// of the same name. It never holds a secret:
//
//	id             hex SHA-256 of the random secret in the browser's cookie
//	collection_id  the account: its collection's id…
//	record_id      …and its record id
//	auth_stamp     HMAC of the account's tokenKey under its collection's
//	               token secret at sign-in: a password change or PocketBase's
//	               "invalidate all tokens" changes it and so ends the session
//	created        PocketBase's date layout (UTC), which sorts as text…
//	expires        …so the daily prune compares it in SQL
func createPageSessions(app core.App) error {
	_, err := app.DB().NewQuery(`
		CREATE TABLE {{_pbkeys_page_sessions}} (
			[[id]]            TEXT PRIMARY KEY NOT NULL,
			[[collection_id]] TEXT NOT NULL,
			[[record_id]]     TEXT NOT NULL,
			[[auth_stamp]]    TEXT NOT NULL,
			[[created]]       TEXT NOT NULL,
			[[expires]]       TEXT NOT NULL
		) WITHOUT ROWID;
		CREATE INDEX {{idx__pbkeys_page_sessions_expires}} ON {{_pbkeys_page_sessions}} ([[expires]]);
	`).Execute()
	return err
}

func dropPageSessions(app core.App) error {
	_, err := app.DB().NewQuery("DROP TABLE {{_pbkeys_page_sessions}}").Execute()
	return err
}
