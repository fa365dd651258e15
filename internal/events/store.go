package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/internal/clientinfo"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Fields of the api_key_events collection (keystore.EventsCollection).
const (
	fieldKey             = "key" // the api_keys record id, as text: keys are deleted, events stay
	fieldLabel           = "label"
	fieldOwner           = "owner"
	fieldOwnerCollection = "owner_collection"
	fieldAction          = "action"
	fieldActorKind       = "actor_kind"
	fieldActorID         = "actor_id"
	fieldIP              = "ip"
	fieldUserAgent       = "user_agent"
	fieldDetail          = "detail"
	fieldCreated         = "created"
)

// Retention is how long events are kept. Older ones are deleted once a day
// (Prune).
const Retention = 90 * 24 * time.Hour

// MaxList is the most events a list returns, newest first.
const MaxList = 1000

// Bounds of what is kept, in bytes, as the migration's fields take them.
const (
	maxField  = 255
	maxDetail = 16384
)

// Entry is an event to write.
type Entry struct {
	Key, Label             string
	Owner, OwnerCollection string // ids
	Action                 string
	Actor                  Actor
	IP, UserAgent          string
	Detail                 any       // marshalled to JSON; nil: none
	At                     time.Time // zero: now
}

// EntryFor is an entry of action on key, the key's fields filled in.
func EntryFor(key *core.Record, action string) Entry {
	return Entry{
		Key:             key.Id,
		Label:           key.GetString(keystore.FieldLabel),
		Owner:           key.GetString(keystore.FieldOwner),
		OwnerCollection: key.GetString(keystore.FieldOwnerCollection),
		Action:          action,
		Actor:           Actor{Kind: KindSystem},
	}
}

// insertEvent writes an event unless it is one of OnceActions already
// written for the key (the partial unique index): the insert is the claim.
// Events are bookkeeping, written like the usage counts: no record hooks,
// no realtime message.
const insertEvent = "INSERT INTO {{" + keystore.EventsCollection + "}} ([[id]], [[" + fieldKey + "]], [[" + fieldLabel + "]], " +
	"[[" + fieldOwner + "]], [[" + fieldOwnerCollection + "]], [[" + fieldAction + "]], [[" + fieldActorKind + "]], [[" + fieldActorID + "]], " +
	"[[" + fieldIP + "]], [[" + fieldUserAgent + "]], [[" + fieldDetail + "]], [[" + fieldCreated + "]]) " +
	"VALUES ({:id}, {:key}, {:label}, {:owner}, {:ownerCollection}, {:action}, {:actorKind}, {:actorID}, {:ip}, {:userAgent}, {:detail}, {:created}) " +
	"ON CONFLICT DO NOTHING"

// Write writes e and reports whether it did: false for one of OnceActions
// that was written for the key before, by this process or another.
func Write(app core.App, e Entry) (bool, error) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	var detail any // NULL
	if e.Detail != nil {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return false, fmt.Errorf("events: detail of %s: %w", e.Action, err)
		}
		if len(b) > maxDetail {
			b = []byte(`{"truncated":true}`)
		}
		detail = string(b)
	}
	res, err := app.NonconcurrentDB().NewQuery(insertEvent).Bind(dbx.Params{
		"id":              core.GenerateDefaultRandomId(),
		"key":             e.Key,
		"label":           clientinfo.Clean(e.Label, maxField),
		"owner":           e.Owner,
		"ownerCollection": e.OwnerCollection,
		"action":          e.Action,
		"actorKind":       e.Actor.Kind,
		"actorID":         clientinfo.Clean(e.Actor.ID, maxField),
		"ip":              clientinfo.Clean(e.IP, clientinfo.MaxIP),
		"userAgent":       clientinfo.Clean(e.UserAgent, clientinfo.MaxUserAgent),
		"detail":          detail,
		"created":         e.At.UTC().Format(types.DefaultDateLayout),
	}).Execute()
	if err != nil {
		return false, fmt.Errorf("events: write %s of key %s: %w", e.Action, e.Key, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Event is one event as the REST API, the CLI (--json) and the pages read
// it.
type Event struct {
	ID        string          `json:"id"`
	Key       string          `json:"key"`
	Label     string          `json:"label"` // the key's label at the time
	Action    string          `json:"action"`
	Actor     Actor           `json:"actor"`
	IP        string          `json:"ip"`
	UserAgent string          `json:"userAgent"`
	Detail    json.RawMessage `json:"detail,omitempty"`
	Created   types.DateTime  `json:"created"`
}

// Page is what GET /api/api-keys/{id}/events answers and `apikeys events
// --json` prints.
type Page struct {
	Items []Event `json:"items"`
}

// List returns the events of the key with id, newest first, at most
// MaxList; with owner, only those of that owner's key (its events outlive
// it, so a revoked key's are found by its owner too).
func List(app core.App, key string, owner *core.Record) ([]Event, error) {
	var rows []struct {
		ID        string         `db:"id"`
		Key       string         `db:"key"`
		Label     string         `db:"label"`
		Action    string         `db:"action"`
		ActorKind string         `db:"actor_kind"`
		ActorID   string         `db:"actor_id"`
		IP        string         `db:"ip"`
		UserAgent string         `db:"user_agent"`
		Detail    types.JSONRaw  `db:"detail"`
		Created   types.DateTime `db:"created"`
	}
	q := app.DB().Select("id", fieldKey, fieldLabel, fieldAction, fieldActorKind, fieldActorID, fieldIP, fieldUserAgent, fieldDetail, fieldCreated).
		From(keystore.EventsCollection).
		Where(dbx.HashExp{fieldKey: key})
	if owner != nil {
		q.AndWhere(dbx.HashExp{fieldOwner: owner.Id, fieldOwnerCollection: owner.Collection().Id})
	}
	// rowid: events written in the same millisecond, in the order written
	if err := q.OrderBy(fieldCreated+" DESC", "rowid DESC").Limit(MaxList).All(&rows); err != nil {
		return nil, fmt.Errorf("events: list key %s: %w", key, err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{
			ID: r.ID, Key: r.Key, Label: r.Label, Action: r.Action,
			Actor: Actor{Kind: r.ActorKind, ID: r.ActorID},
			IP:    r.IP, UserAgent: r.UserAgent, Created: r.Created,
		}
		if len(r.Detail) > 0 && string(r.Detail) != "null" {
			out[i].Detail = json.RawMessage(r.Detail)
		}
	}
	return out, nil
}

// Prune deletes the events older than Retention at now and returns how
// many went.
func Prune(app core.App, now time.Time) (int64, error) {
	cutoff := now.Add(-Retention).UTC().Format(types.DefaultDateLayout)
	res, err := app.NonconcurrentDB().Delete(keystore.EventsCollection,
		dbx.NewExp("[["+fieldCreated+"]] < {:cutoff}", dbx.Params{"cutoff": cutoff})).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
