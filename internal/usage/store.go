package usage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/internal/clientinfo"
	"github.com/pbkeys/pbkeys/internal/dbgen"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// The usage of keys in the database: the last use on the api_keys record
// (last_used, last_used_ip, last_used_user_agent) and requests per key and
// day in api_key_usage (migration 1764600000), both written by Write from
// what the Recorder gathered.

// Fields of the api_key_usage collection (keystore.UsageCollection): one
// row per key and day (UTC), unique.
const (
	fieldKey      = "key"      // the api_keys record id
	fieldDay      = "day"      // YYYY-MM-DD, UTC
	fieldRequests = "requests" // requests made with the key that day
)

// Window is how many days of requests the pages' chart, the REST API and
// the CLI show: the last 30, today included.
const Window = 30

// Retention is how long daily counts are kept. Older rows are deleted once
// a day (Prune), so the table stays small however many keys are busy; the
// last Window days are always there.
const Retention = 90 * 24 * time.Hour

// The statements of a write. api_keys is updated without record hooks: a
// use is bookkeeping, not an edit, so it neither bumps "updated" nor
// broadcasts a realtime event. A day's requests are added to the key's
// row, created if needed, unless the key has been deleted meanwhile.
const (
	updateLastUse = "UPDATE {{" + keystore.Collection + "}} SET [[" + keystore.FieldLastUsed + "]] = {:lastUsed}, " +
		"[[" + keystore.FieldLastUsedIP + "]] = {:ip}, [[" + keystore.FieldLastUsedUserAgent + "]] = {:userAgent} WHERE [[id]] = {:key}"
	upsertUsage = "INSERT INTO {{" + keystore.UsageCollection + "}} ([[id]], [[" + fieldKey + "]], [[" + fieldDay + "]], [[" + fieldRequests + "]]) " +
		"SELECT {:id}, {:key}, {:day}, {:requests} " +
		"WHERE EXISTS (SELECT 1 FROM {{" + keystore.Collection + "}} WHERE [[id]] = {:key}) " +
		"ON CONFLICT ([[" + fieldKey + "]], [[" + fieldDay + "]]) DO UPDATE SET [[" + fieldRequests + "]] = [[" + fieldRequests + "]] + [[excluded." + fieldRequests + "]]"
)

// Write writes the usage in batch in one transaction: each key's newest
// use (last_used and the client address and user agent of that use), and
// its requests per day, added to what is stored.
func Write(app core.App, batch []KeyUsage) error {
	return dbgen.Write(context.Background(), app, writeBatch(app, batch))
}

// writeBatch is the statements writing batch, run on the write connection
// in a transaction, written and logged as PocketBase's own queries (dev
// mode prints them).
func writeBatch(app core.App, batch []KeyUsage) func(conn *sql.Conn) error {
	return func(conn *sql.Conn) error {
		db, ok := app.NonconcurrentDB().(*dbx.DB)
		if !ok {
			return fmt.Errorf("usage: the write pool is a %T, not a *dbx.DB", app.NonconcurrentDB())
		}
		on := connExecutor{conn}
		for _, u := range batch {
			if !u.LastUsed.IsZero() {
				_, err := dbx.NewQuery(db, on, updateLastUse).Bind(dbx.Params{
					"lastUsed":  u.LastUsed.UTC().Format(types.DefaultDateLayout),
					"ip":        clientinfo.Clean(u.IP, clientinfo.MaxIP),
					"userAgent": clientinfo.Clean(u.UserAgent, clientinfo.MaxUserAgent),
					"key":       u.KeyID,
				}).Execute()
				if err != nil {
					return err
				}
			}
			for _, d := range u.Days {
				_, err := dbx.NewQuery(db, on, upsertUsage).Bind(dbx.Params{
					"id": core.GenerateDefaultRandomId(), "key": u.KeyID, "day": d.Day, "requests": d.Requests,
				}).Execute()
				if err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// connExecutor runs dbx's queries on one connection.
type connExecutor struct{ *sql.Conn }

func (c connExecutor) Exec(query string, args ...any) (sql.Result, error) {
	return c.ExecContext(context.Background(), query, args...)
}

func (c connExecutor) Query(query string, args ...any) (*sql.Rows, error) {
	return c.QueryContext(context.Background(), query, args...)
}

func (c connExecutor) Prepare(query string) (*sql.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// Daily returns, for each key in ids, its requests on each of the Window
// days ending with now's (UTC), oldest first, days without requests
// included, so a chart has a bar for every day.
func Daily(app core.App, ids []string, now time.Time) (map[string][]Day, error) {
	const days = Window
	out := make(map[string][]Day, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	today := dayOf(now)
	first := today - int64(days) + 1
	index := make(map[string]int, days)
	for i := range days {
		index[dayString(first+int64(i))] = i
	}
	for _, id := range ids {
		series := make([]Day, days)
		for i := range series {
			series[i].Day = dayString(first + int64(i))
		}
		out[id] = series
	}

	var rows []struct {
		Key      string `db:"key"`
		Day      string `db:"day"`
		Requests int64  `db:"requests"`
	}
	keys := make([]any, len(ids))
	for i, id := range ids {
		keys[i] = id
	}
	err := app.DB().Select(fieldKey, fieldDay, fieldRequests).
		From(keystore.UsageCollection).
		Where(dbx.In(fieldKey, keys...)).
		AndWhere(dbx.NewExp("[["+fieldDay+"]] >= {:first}", dbx.Params{"first": dayString(first)})).
		All(&rows)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if i, ok := index[r.Day]; ok && out[r.Key] != nil {
			out[r.Key][i].Requests = r.Requests
		}
	}
	return out, nil
}

// Prune deletes the daily counts older than Retention at now and returns
// how many rows went.
func Prune(app core.App, now time.Time) (int64, error) {
	cutoff := dayString(dayOf(now.Add(-Retention)))
	res, err := app.NonconcurrentDB().Delete(keystore.UsageCollection,
		dbx.NewExp("[["+fieldDay+"]] < {:cutoff}", dbx.Params{"cutoff": cutoff})).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Total is the sum of a series of daily counts.
func Total(series []Day) int64 {
	var n int64
	for _, d := range series {
		n += d.Requests
	}
	return n
}
