package keystore

import (
	"database/sql"
	"errors"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Who may own keys: records of the configured owner collections (auth
// collections, never _superusers). A key refers to its owner as PocketBase's
// own _externalAuths records do, by record id and collection id.

const ownerFilter = FieldOwner + " = {:owner} && " + FieldOwnerCollection + " = {:ownerCollection}"

func ownerParams(owner *core.Record) dbx.Params {
	return dbx.Params{"owner": owner.Id, "ownerCollection": owner.Collection().Id}
}

func setOwner(key, owner *core.Record) {
	key.Set(FieldOwner, owner.Id)
	key.Set(FieldOwnerCollection, owner.Collection().Id)
}

func isNotFound(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// IsOwnerCollection reports whether records of c may own keys.
func (s *Store) IsOwnerCollection(c *core.Collection) bool {
	if c == nil || !c.IsAuth() || c.Name == core.CollectionNameSuperusers {
		return false
	}
	for _, name := range s.cfg.OwnerCollections {
		if strings.EqualFold(name, c.Name) || name == c.Id {
			return true
		}
	}
	return false
}

// OwnerCollections returns the owner collections that exist, in the
// configured order.
func (s *Store) OwnerCollections() []*core.Collection {
	var out []*core.Collection
	for _, name := range s.cfg.OwnerCollections {
		if c, err := s.app.FindCachedCollectionByNameOrId(name); err == nil && s.IsOwnerCollection(c) {
			out = append(out, c)
		}
	}
	return out
}

// Owner returns the record that owns key.
func (s *Store) Owner(key *core.Record) (*core.Record, error) {
	return s.app.FindRecordById(key.GetString(FieldOwnerCollection), key.GetString(FieldOwner))
}

// FindOwner returns the record of an owner collection with the given email
// or id, looking in the owner collections in their configured order.
func (s *Store) FindOwner(emailOrID string) (*core.Record, error) {
	for _, c := range s.OwnerCollections() {
		var r *core.Record
		var err error
		if strings.Contains(emailOrID, "@") {
			r, err = s.app.FindAuthRecordByEmail(c, emailOrID)
		} else {
			r, err = s.app.FindRecordById(c, emailOrID)
		}
		if err == nil {
			return r, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
	}
	return nil, sql.ErrNoRows
}

// CanAuthenticate reports whether record passes its collection's authRule
// for a request described by info (e.g. "verified = true", "banned =
// false"). Key auth asks it on every request, and the pages on sign-in and
// on every page: a key, unlike a JWT, has no expiry to bound a stale
// decision.
func CanAuthenticate(app core.App, record *core.Record, info *core.RequestInfo) (bool, error) {
	return app.CanAccessRecord(record, info, record.Collection().AuthRule)
}
