// Package keystore is where API keys meet PocketBase's storage: the
// api_keys collection's names, issuing a key into a record, and revoking.
// The REST hooks, the pages and the CLI all issue and revoke keys here, so
// there is one implementation of each.
package keystore

import (
	"fmt"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"pbkeys/internal/apikey"
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

	// OwnerCollection is the only collection whose records may own keys.
	OwnerCollection = "users"

	// RevealField is the non-persisted field that carries the plaintext key
	// in the one response that creates it.
	RevealField = "key"
)

// Store issues, finds and revokes keys in an app.
type Store struct {
	app    core.App
	params argon2id.Params
}

// New returns a Store hashing new secrets with params.
func New(app core.App, params argon2id.Params) *Store {
	return &Store{app: app, params: params}
}

// Prepare turns a new, unsaved api_keys record into a key: it assigns the
// record id, generates the secret and stores only its hash on the record.
// It returns the plaintext key, which the caller shows once and forgets.
// Every path that creates keys (REST, pages, CLI) goes through here.
func (s *Store) Prepare(record *core.Record) (apikey.Key, error) {
	if record.Id == "" {
		record.Id = core.GenerateDefaultRandomId()
	}
	key, hash, err := apikey.Issue(record.Id, s.params)
	if err != nil {
		return apikey.Key{}, fmt.Errorf("keystore: issue key: %w", err)
	}
	record.Set(FieldKeyHash, hash)
	return key, nil
}

// Issue creates and saves a key owned by ownerID, returning the saved
// record and the plaintext key. Validation errors (e.g. an empty label) are
// returned as PocketBase's validation errors.
func (s *Store) Issue(ownerID, label string) (*core.Record, apikey.Key, error) {
	collection, err := s.app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil, apikey.Key{}, fmt.Errorf("keystore: %w", err)
	}
	record := core.NewRecord(collection)
	record.Set(FieldUser, ownerID)
	record.Set(FieldLabel, label)
	key, err := s.Prepare(record)
	if err != nil {
		return nil, apikey.Key{}, err
	}
	if err := s.app.Save(record); err != nil {
		return nil, apikey.Key{}, err
	}
	return record, key, nil
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

// TouchLastUsed writes usedAt as the key's last use without going through
// record hooks: it is bookkeeping, not an edit, so it neither bumps
// "updated" nor broadcasts a realtime event.
func (s *Store) TouchLastUsed(id string, usedAt time.Time) error {
	_, err := s.app.NonconcurrentDB().Update(Collection,
		dbx.Params{FieldLastUsed: usedAt.UTC().Format(types.DefaultDateLayout)},
		dbx.HashExp{"id": id},
	).Execute()
	return err
}
