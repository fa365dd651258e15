package keystore

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// The usage of keys in the database: the last use on the api_keys record
// (last_used, last_used_ip, last_used_user_agent) and requests per key and
// day in api_key_usage (migration 1764600000), both written by RecordUsage
// from what the UsageRecorder gathered.

// The api_key_usage collection: one row per key and day (UTC), unique.
const (
	UsageCollection    = "api_key_usage"
	UsageFieldKey      = "key"      // the api_keys record id
	UsageFieldDay      = "day"      // YYYY-MM-DD, UTC
	UsageFieldRequests = "requests" // requests made with the key that day
)

// Where the last use came from (migration 1764500000).
const (
	FieldLastUsedIP        = "last_used_ip"
	FieldLastUsedUserAgent = "last_used_user_agent"
)

// UsageDays is how many days of requests the pages' chart, the REST API
// and the CLI show: the last 30, today included.
const UsageDays = 30

// UsageRetention is how long daily counts are kept. Older rows are deleted
// once a day (PruneUsage), so the table stays small however many keys are
// busy; the last UsageDays are always there.
const UsageRetention = 90 * 24 * time.Hour

// IsKeysCollection reports whether name is one of pbkeys' own collections,
// which hold keys and what they did: no API key may touch or reach them, and
// no key may be scoped to them.
func IsKeysCollection(name string) bool {
	return name == Collection || name == UsageCollection
}

// upsertUsage adds a day's requests to the key's row, creating it if
// needed, unless the key has been deleted meanwhile.
const upsertUsage = "INSERT INTO {{" + UsageCollection + "}} ([[id]], [[key]], [[day]], [[requests]]) " +
	"SELECT {:id}, {:key}, {:day}, {:requests} " +
	"WHERE EXISTS (SELECT 1 FROM {{" + Collection + "}} WHERE [[id]] = {:key}) " +
	"ON CONFLICT ([[key]], [[day]]) DO UPDATE SET [[requests]] = [[requests]] + [[excluded.requests]]"

// RecordUsage writes the usage in batch in one transaction, without record
// hooks — it is bookkeeping, not an edit, so it neither bumps "updated" nor
// broadcasts a realtime event: each key's newest use (last_used and the
// client address and user agent of that use), and its requests per day,
// added to what is stored. It is the UsageRecorder's Write.
func (s *Store) RecordUsage(batch []Usage) error {
	return s.app.RunInTransaction(func(tx core.App) error {
		db := tx.NonconcurrentDB()
		for _, u := range batch {
			if !u.LastUsed.IsZero() {
				_, err := db.Update(Collection, dbx.Params{
					FieldLastUsed:          u.LastUsed.UTC().Format(types.DefaultDateLayout),
					FieldLastUsedIP:        clean(u.IP, maxIP),
					FieldLastUsedUserAgent: clean(u.UserAgent, MaxUserAgent),
				}, dbx.HashExp{"id": u.KeyID}).Execute()
				if err != nil {
					return err
				}
			}
			for _, d := range u.Days {
				_, err := db.NewQuery(upsertUsage).Bind(dbx.Params{
					"id": core.GenerateDefaultRandomId(), "key": u.KeyID, "day": d.Day, "requests": d.Requests,
				}).Execute()
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// clean makes a client-sent header value safe to store and show: valid
// UTF-8, no control characters, at most max bytes.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	for len(s) > max {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// Usage returns, for each key in ids, its requests on each of the days
// days ending with now's (UTC), oldest first, days without requests
// included, so a chart has a bar for every day.
func (s *Store) Usage(ids []string, days int, now time.Time) (map[string][]DayUsage, error) {
	out := make(map[string][]DayUsage, len(ids))
	if len(ids) == 0 || days <= 0 {
		return out, nil
	}
	today := dayOf(now)
	first := today - int64(days) + 1
	index := make(map[string]int, days)
	for i := range days {
		index[dayString(first+int64(i))] = i
	}
	for _, id := range ids {
		series := make([]DayUsage, days)
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
	err := s.app.DB().Select(UsageFieldKey, UsageFieldDay, UsageFieldRequests).
		From(UsageCollection).
		Where(dbx.In(UsageFieldKey, keys...)).
		AndWhere(dbx.NewExp("[["+UsageFieldDay+"]] >= {:first}", dbx.Params{"first": dayString(first)})).
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

// PruneUsage deletes the daily counts older than UsageRetention at now
// and returns how many rows went.
func (s *Store) PruneUsage(now time.Time) (int64, error) {
	cutoff := dayString(dayOf(now.Add(-UsageRetention)))
	res, err := s.app.NonconcurrentDB().Delete(UsageCollection,
		dbx.NewExp("[["+UsageFieldDay+"]] < {:cutoff}", dbx.Params{"cutoff": cutoff})).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Total is the sum of a series of daily counts.
func Total(series []DayUsage) int64 {
	var n int64
	for _, d := range series {
		n += d.Requests
	}
	return n
}
