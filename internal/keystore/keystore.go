// Package keystore is where API keys meet PocketBase's storage: the
// api_keys collection's names, issuing a key into a record, and revoking.
// The REST hooks, the pages and the CLI all issue and revoke keys here, so
// there is one implementation of each.
package keystore

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

// Collection and field names of the api_keys collection.
const (
	Collection    = "api_keys"
	FieldUser     = "user"
	FieldLabel    = "label"
	FieldKeyHash  = "key_hash"
	FieldLastUsed = "last_used"
	FieldCreated  = "created"
	FieldUpdated  = "updated"

	// Lifecycle fields (migration 1764100000); zero values mean "as before".
	FieldExpires     = "expires"     // date; empty: never
	FieldReadOnly    = "read_only"   // bool
	FieldCollections = "collections" // JSON array of collection names; empty: all
	FieldRateLimit   = "rate_limit"  // requests per minute; 0: unlimited
	FieldDisabled    = "disabled"    // bool
	FieldReplacedBy  = "replaced_by" // id of the key a roll issued in its place

	// OwnerCollection is the only collection whose records may own keys.
	OwnerCollection = "users"

	// RevealField is the non-persisted field that carries the plaintext key
	// in the one response that creates it.
	RevealField = "key"
)

// Store issues, finds and revokes keys in an app.
type Store struct {
	app     core.App
	params  argon2id.Params
	pending sync.WaitGroup // notifications being sent
	origins sync.Map       // record id → Origin of keys prepared but not yet committed
}

// New returns a Store hashing new secrets with params.
func New(app core.App, params argon2id.Params) *Store {
	return &Store{app: app, params: params}
}

// Prepare turns a new, unsaved api_keys record into a key: it assigns the
// record id, generates the secret and stores only its hash on the record.
// It returns the plaintext key, which the caller shows once and forgets.
// Every path that creates keys (REST, pages, CLI, roll) goes through here;
// origin is remembered so that the owner is emailed once the record is
// committed (see Created), and never for a save that rolls back.
func (s *Store) Prepare(record *core.Record, origin Origin) (apikey.Key, error) {
	if record.Id == "" {
		record.Id = core.GenerateDefaultRandomId()
	}
	key, hash, err := apikey.Issue(record.Id, s.params)
	if err != nil {
		return apikey.Key{}, fmt.Errorf("keystore: issue key: %w", err)
	}
	record.Set(FieldKeyHash, hash)
	s.origins.Store(record.Id, origin)
	return key, nil
}

// Issue creates and saves an unrestricted key owned by ownerID.
func (s *Store) Issue(ownerID, label string) (*core.Record, apikey.Key, error) {
	return s.IssueWith(ownerID, Options{Label: label}, Origin{})
}

// Options are what a new key is limited to; the zero value (besides the
// label) is an unrestricted key.
type Options struct {
	Label         string
	ExpiresAt     time.Time // zero: never
	ReadOnly      bool
	Collections   []string // empty: all
	RatePerMinute int      // 0: unlimited
}

// Set writes the options onto an api_keys record.
func (o Options) Set(record *core.Record) {
	record.Set(FieldLabel, o.Label)
	if o.ExpiresAt.IsZero() {
		record.Set(FieldExpires, "")
	} else {
		record.Set(FieldExpires, o.ExpiresAt)
	}
	record.Set(FieldReadOnly, o.ReadOnly)
	if len(o.Collections) == 0 {
		record.Set(FieldCollections, nil)
	} else {
		record.Set(FieldCollections, o.Collections)
	}
	record.Set(FieldRateLimit, o.RatePerMinute)
}

// IssueWith creates and saves a key owned by ownerID with opts, returning
// the saved record and the plaintext key; the owner is emailed.
// Validation errors (e.g. an empty label, an expiry in the past) are
// PocketBase validation errors.
func (s *Store) IssueWith(ownerID string, opts Options, origin Origin) (*core.Record, apikey.Key, error) {
	collection, err := s.app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil, apikey.Key{}, fmt.Errorf("keystore: %w", err)
	}
	record := core.NewRecord(collection)
	record.Set(FieldUser, ownerID)
	opts.Set(record)
	key, err := s.Prepare(record, origin)
	if err != nil {
		return nil, apikey.Key{}, err
	}
	if err := s.app.Save(record); err != nil {
		return nil, apikey.Key{}, err
	}
	return record, key, nil
}

// OptionsOf reads the options back from a record.
func OptionsOf(record *core.Record) Options {
	var collections []string
	_ = record.UnmarshalJSONField(FieldCollections, &collections)
	return Options{
		Label:         record.GetString(FieldLabel),
		ExpiresAt:     record.GetDateTime(FieldExpires).Time(),
		ReadOnly:      record.GetBool(FieldReadOnly),
		Collections:   collections,
		RatePerMinute: record.GetInt(FieldRateLimit),
	}
}

// PolicyOf returns what the key with this record may do.
func PolicyOf(record *core.Record) apikey.Policy {
	o := OptionsOf(record)
	return apikey.Policy{
		ExpiresAt:     o.ExpiresAt,
		Disabled:      record.GetBool(FieldDisabled),
		ReadOnly:      o.ReadOnly,
		Collections:   o.Collections,
		RatePerMinute: o.RatePerMinute,
	}
}

// SetDisabled pauses (or resumes) ownerID's key id without losing it.
func (s *Store) SetDisabled(ownerID, id string, disabled bool) (*core.Record, error) {
	record, err := s.FindOwned(ownerID, id)
	if err != nil {
		return nil, err
	}
	record.Set(FieldDisabled, disabled)
	return record, s.app.Save(record)
}

// ErrAlreadyRolled is returned by Roll for a key that was rolled before.
var ErrAlreadyRolled = errors.New("keystore: key already rolled")

// AlreadyRolledError says which key replaced the one asked to roll.
type AlreadyRolledError struct{ ReplacedBy string }

func (e *AlreadyRolledError) Error() string {
	return "This key was already rolled; roll its replacement " + e.ReplacedBy + " instead."
}

// Is makes errors.Is(err, ErrAlreadyRolled) true.
func (e *AlreadyRolledError) Is(target error) bool { return target == ErrAlreadyRolled }

// Roll issues a replacement for ownerID's key id with the same label,
// scopes and limits, and makes the old key expire after grace (at once
// when grace is 0; never later than it already would). The new key lives
// as long as the old one was issued for. It returns the new record and its
// plaintext key. A key can be rolled once (then roll its replacement):
// the error is an *AlreadyRolledError matching ErrAlreadyRolled.
func (s *Store) Roll(ownerID, id string, grace time.Duration, origin Origin) (*core.Record, apikey.Key, error) {
	if grace < 0 {
		return nil, apikey.Key{}, fmt.Errorf("keystore: negative grace period")
	}
	var (
		created *core.Record
		key     apikey.Key
	)
	err := s.app.RunInTransaction(func(tx core.App) error {
		old, err := tx.FindFirstRecordByFilter(Collection, "id = {:id} && "+FieldUser+" = {:owner}", dbx.Params{"id": id, "owner": ownerID})
		if err != nil {
			return err
		}
		if next := old.GetString(FieldReplacedBy); next != "" {
			return &AlreadyRolledError{ReplacedBy: next}
		}
		now := time.Now().UTC()
		opts := OptionsOf(old)
		if !opts.ExpiresAt.IsZero() {
			lifetime := opts.ExpiresAt.Sub(old.GetDateTime(FieldCreated).Time())
			opts.ExpiresAt = now.Add(lifetime)
		}

		collection, err := tx.FindCachedCollectionByNameOrId(Collection)
		if err != nil {
			return err
		}
		created = core.NewRecord(collection)
		created.Set(FieldUser, ownerID)
		opts.Set(created)
		if key, err = s.Prepare(created, origin); err != nil {
			return err
		}
		if err := tx.Save(created); err != nil {
			return err
		}

		oldExpiry := old.GetDateTime(FieldExpires).Time()
		if end := now.Add(grace); oldExpiry.IsZero() || end.Before(oldExpiry) {
			old.Set(FieldExpires, end)
		}
		old.Set(FieldReplacedBy, created.Id)
		return tx.Save(old)
	})
	if err != nil {
		return nil, apikey.Key{}, err
	}
	return created, key, nil
}

// Find returns the key record with the given id.
func (s *Store) Find(id string) (*core.Record, error) {
	return s.app.FindRecordById(Collection, id)
}

// ListByOwner returns ownerID's keys, newest first.
func (s *Store) ListByOwner(ownerID string) ([]*core.Record, error) {
	return s.app.FindRecordsByFilter(Collection, FieldUser+" = {:owner}", "-"+FieldCreated+",-id", 0, 0, dbx.Params{"owner": ownerID})
}

// FindOwned returns the key with id only if ownerID owns it; otherwise it
// returns an error as if the key did not exist.
func (s *Store) FindOwned(ownerID, id string) (*core.Record, error) {
	return s.app.FindFirstRecordByFilter(Collection, "id = {:id} && "+FieldUser+" = {:owner}", dbx.Params{"id": id, "owner": ownerID})
}

// Revoke deletes the key with id if ownerID owns it.
func (s *Store) Revoke(ownerID, id string) (*core.Record, error) {
	record, err := s.FindOwned(ownerID, id)
	if err != nil {
		return nil, err
	}
	return record, s.app.Delete(record)
}

// RevokeAll deletes every key of ownerID in one transaction and returns how
// many were deleted.
func (s *Store) RevokeAll(ownerID string) (int, error) {
	var n int
	err := s.app.RunInTransaction(func(tx core.App) error {
		records, err := tx.FindAllRecords(Collection, dbx.HashExp{FieldUser: ownerID})
		if err != nil {
			return err
		}
		for _, r := range records {
			if err := tx.Delete(r); err != nil {
				return err
			}
		}
		n = len(records)
		return nil
	})
	return n, err
}

// TouchLastUsed writes each key's last use (key id → time) in one
// transaction, without going through record hooks: it is bookkeeping, not
// an edit, so it neither bumps "updated" nor broadcasts a realtime event.
// One statement is prepared for the batch: built and compiled per row, the
// UPDATE cost several times the write itself.
func (s *Store) TouchLastUsed(uses map[string]time.Time) error {
	return s.app.RunInTransaction(func(tx core.App) error {
		// quoted as dbx's Update quotes it, so logs read the same
		q := tx.NonconcurrentDB().NewQuery(
			"UPDATE `" + Collection + "` SET `" + FieldLastUsed + "` = {:at} WHERE `id` = {:id}").Prepare()
		defer q.Close()
		for id, usedAt := range uses {
			_, err := q.Bind(dbx.Params{"at": usedAt.UTC().Format(types.DefaultDateLayout), "id": id}).Execute()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// UndoRoll revokes the key a roll just issued and gives the rolled key back
// its expiry, in one transaction.
func (s *Store) UndoRoll(oldID, newID string, oldExpires types.DateTime) error {
	return s.app.RunInTransaction(func(tx core.App) error {
		created, err := tx.FindRecordById(Collection, newID)
		if err != nil {
			return err
		}
		if err := tx.Delete(created); err != nil {
			return err
		}
		old, err := tx.FindRecordById(Collection, oldID)
		if err != nil {
			return err
		}
		if old.GetString(FieldReplacedBy) != newID {
			return nil // rolled again meanwhile: leave it
		}
		if oldExpires.IsZero() {
			old.Set(FieldExpires, "")
		} else {
			old.Set(FieldExpires, oldExpires)
		}
		old.Set(FieldReplacedBy, "")
		return tx.Save(old)
	})
}

// GracePeriods are the choices for how long a rolled key keeps working,
// by the name the REST API, the pages and the CLI accept.
var GracePeriods = map[string]time.Duration{
	"now": 0,
	"1h":  time.Hour,
	"24h": 24 * time.Hour,
	"7d":  7 * 24 * time.Hour,
}

// GraceNames lists GracePeriods' names from shortest to longest.
var GraceNames = []string{"now", "1h", "24h", "7d"}

// ReplaceHash stores newHash as key id's hash if its stored hash is still
// oldHash, and reports whether it did. The verifier calls it to upgrade a
// hash made with other argon2id parameters.
//
// It is a raw UPDATE, not app.Save: the same secret hashed again is
// bookkeeping, not an edit, so it neither bumps "updated", nor runs record
// hooks, nor broadcasts a realtime event; and Save writes every column, so
// a roll, disable or label change committed since the verifier read the row
// would be overwritten. The WHERE on the old hash makes it a compare-and-set:
// a key revoked (no row) or re-hashed by someone else meanwhile is left alone.
func (s *Store) ReplaceHash(id, oldHash, newHash string) (bool, error) {
	res, err := s.app.NonconcurrentDB().Update(Collection,
		dbx.Params{FieldKeyHash: newHash},
		dbx.HashExp{"id": id, FieldKeyHash: oldHash},
	).Execute()
	if err != nil {
		return false, fmt.Errorf("keystore: replace hash: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
