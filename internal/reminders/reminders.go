// Package reminders tells owners that their keys expire soon — one mail 7
// days and one 1 day before — and records each key's expiry as an event.
// Each happens once per key, across restarts and with several processes on
// the same data: it is claimed by writing its event (internal/events'
// OnceActions, guarded by a unique index), and mailed only by the process
// whose write claimed it.
package reminders

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Reminder is a mail sent Before a key expires, recorded as Action.
type Reminder struct {
	Action string
	Before time.Duration
}

// Due are the reminders, earliest first. The last one is due until the key
// expires; each other one until the next is due (a server that was down
// sends the nearer one only).
var Due = []Reminder{
	{events.Reminder7Days, 7 * 24 * time.Hour},
	{events.Reminder1Day, 24 * time.Hour},
}

// ExpiredWindow is how long after its expiry a key's "expired" event is
// still recorded (a server down meanwhile records it when it is back).
// Keys that expired longer ago are left alone: their event would be older
// than anything worth saying now, and a pruned "expired" event must not
// come back.
const ExpiredWindow = 7 * 24 * time.Hour

// cronJob is the id of the job that runs the reminders (PocketBase's
// dashboard lists it under Crons); every 5 minutes.
const (
	cronJob  = "pbkeysExpiryReminders"
	cronSpec = "*/5 * * * *"
)

// Mailer mails the owner of key that it expires soon (internal/ownermail),
// in the background.
type Mailer interface {
	KeyExpiring(key *core.Record, now time.Time)
}

// Reminders sends app's expiry reminders.
type Reminders struct {
	app  core.App
	mail Mailer
}

// Register runs the reminders for app every 5 minutes while it serves,
// mailing through mail.
func Register(app core.App, mail Mailer) *Reminders {
	r := &Reminders{app: app, mail: mail}
	app.Cron().MustAdd(cronJob, cronSpec, func() {
		if _, err := r.Run(time.Now()); err != nil {
			app.Logger().Warn("API keys: failed to send expiry reminders", "error", err)
		}
	})
	app.Store().Set(storeKey, r)
	return r
}

// storeKey is where Register keeps the Reminders in the app's store.
const storeKey = "pbkeys.reminders"

// Of returns the Reminders registered with app, or nil: for tests, which
// run them at the time they choose.
func Of(app core.App) *Reminders {
	r, _ := app.Store().Get(storeKey).(*Reminders)
	return r
}

// Result is what a Run did.
type Result struct {
	Reminded int // mails started
	Expired  int // "expired" events recorded
}

// candidate is a key whose expiry is near, with the once-actions already
// recorded for it.
type candidate struct {
	ID         string         `db:"id"`
	Expires    types.DateTime `db:"expires"`
	Created    types.DateTime `db:"created"`
	Disabled   bool           `db:"disabled"`
	ReplacedBy string         `db:"replaced_by"`
	Done       string         `db:"done"` // recorded once-actions, comma-separated
}

// Run sends the reminders due at now and records the keys expired by
// then, each once. It is the cron job's work; now is the clock (tests
// pass their own). A key gets no reminder when it is disabled or rolled
// (replaced_by set) — revoked keys are gone —, nor one whose moment came
// before the key was created (a key made with 3 days left gets the 1-day
// mail only).
func (r *Reminders) Run(now time.Time) (Result, error) {
	var res Result
	keys, err := r.candidates(now)
	if err != nil {
		return res, err
	}
	for _, k := range keys {
		done := strings.Split(k.Done, ",")
		exp := k.Expires.Time()
		if !exp.After(now) {
			if slices.Contains(done, events.Expired) {
				continue
			}
			key, err := r.claim(k.ID, events.Expired, now)
			if err != nil {
				return res, err
			}
			if key != nil {
				res.Expired++
			}
			continue
		}
		if k.Disabled || k.ReplacedBy != "" {
			continue
		}
		rem, ok := due(exp, k.Created.Time(), now)
		if !ok || slices.Contains(done, rem.Action) {
			continue
		}
		key, err := r.claim(k.ID, rem.Action, now)
		if err != nil {
			return res, err
		}
		if key != nil {
			r.mail.KeyExpiring(key, now)
			res.Reminded++
		}
	}
	return res, nil
}

// due returns the reminder due at now for a key created at created that
// expires at exp, if any.
func due(exp, created, now time.Time) (Reminder, bool) {
	for i, rem := range Due {
		moment := exp.Add(-rem.Before)
		if now.Before(moment) || moment.Before(created) {
			continue
		}
		if i+1 < len(Due) && !now.Before(exp.Add(-Due[i+1].Before)) {
			continue // the next one is due: this one is too late
		}
		return rem, true
	}
	return Reminder{}, false
}

// candidates reads the keys expiring within the first reminder's reach
// after now or expired within ExpiredWindow before it, with what was
// recorded once for them (the partial index on (key, action) answers).
func (r *Reminders) candidates(now time.Time) ([]candidate, error) {
	at := func(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }
	once := make([]string, len(events.OnceActions))
	for i, a := range events.OnceActions {
		once[i] = "'" + a + "'"
	}
	var out []candidate
	err := r.app.DB().NewQuery(
		"SELECT k.[[id]] AS id, k.[[" + keystore.FieldExpires + "]] AS expires, k.[[" + keystore.FieldCreated + "]] AS created, " +
			"k.[[" + keystore.FieldDisabled + "]] AS disabled, k.[[" + keystore.FieldReplacedBy + "]] AS replaced_by, " +
			"COALESCE((SELECT GROUP_CONCAT(ev.[[action]]) FROM {{" + keystore.EventsCollection + "}} ev " +
			"WHERE ev.[[key]] = k.[[id]] AND ev.[[action]] IN (" + strings.Join(once, ", ") + ")), '') AS done " +
			"FROM {{" + keystore.Collection + "}} k " +
			"WHERE k.[[" + keystore.FieldExpires + "]] > {:from} AND k.[[" + keystore.FieldExpires + "]] <= {:to}",
	).Bind(dbx.Params{
		"from": at(now.Add(-ExpiredWindow)),
		"to":   at(now.Add(Due[0].Before)),
	}).All(&out)
	if err != nil {
		return nil, fmt.Errorf("reminders: read keys expiring soon: %w", err)
	}
	return out, nil
}

// claim writes the action event of the key with id and returns the key
// when this call wrote it (and so owns what follows); nil when it was
// written before, by this process or another, or the key is gone.
func (r *Reminders) claim(id, action string, now time.Time) (*core.Record, error) {
	key, err := r.app.FindRecordById(keystore.Collection, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // revoked meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("reminders: read key %s: %w", id, err)
	}
	e := events.EntryFor(key, action)
	e.Detail = map[string]string{"expires": key.GetString(keystore.FieldExpires)}
	e.At = now
	claimed, err := events.Write(r.app, e)
	if err != nil || !claimed {
		return nil, err
	}
	return key, nil
}
