package keystore

import (
	"database/sql"
	"errors"
	"fmt"
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

// OwnerCollectionsError names the configured owner collections that exist
// but cannot own keys, because they are not auth collections: a key acts
// as its owner, and only auth records can be a request's auth.
type OwnerCollectionsError struct {
	NotAuth []*core.Collection
}

func (e *OwnerCollectionsError) Error() string {
	names := make([]string, len(e.NotAuth))
	for i, c := range e.NotAuth {
		names[i] = fmt.Sprintf("%s (a %s collection)", c.Name, c.Type)
	}
	return "pbkeys: owner collections must be auth collections, so " + strings.Join(names, ", ") +
		" cannot own API keys: remove them from the owner collections (PBKEYS_OWNER_COLLECTIONS, or Config.OwnerCollections in a Go app)"
}

// CheckOwnerCollections returns an *OwnerCollectionsError when a configured
// owner collection exists but is not an auth collection, and the names of
// those that do not exist (yet): an operator may configure a collection
// before creating it, so those are only worth a warning. The server checks
// at start (after migrations), the CLI before each command.
func (s *Store) CheckOwnerCollections() (missing []string, err error) {
	var notAuth []*core.Collection
	for _, name := range s.cfg.OwnerCollections {
		c, err := s.app.FindCachedCollectionByNameOrId(name)
		switch {
		case err != nil:
			missing = append(missing, name)
		case !c.IsAuth():
			notAuth = append(notAuth, c)
		}
	}
	if len(notAuth) > 0 {
		return missing, &OwnerCollectionsError{NotAuth: notAuth}
	}
	return missing, nil
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

// Collection returns the collection with the name or id (cached).
func (s *Store) Collection(nameOrID string) (*core.Collection, error) {
	return s.app.FindCachedCollectionByNameOrId(nameOrID)
}

// Owner returns the record that owns key.
func (s *Store) Owner(key *core.Record) (*core.Record, error) {
	return s.app.FindRecordById(key.GetString(FieldOwnerCollection), key.GetString(FieldOwner))
}

// FindOwner returns the record of an owner collection with the given email
// or id, looking in the owner collections in their configured order.
func (s *Store) FindOwner(emailOrID string) (*core.Record, error) {
	for _, c := range s.OwnerCollections() {
		r, err := s.FindOwnerIn(c, emailOrID)
		if err == nil || !isNotFound(err) {
			return r, err
		}
	}
	return nil, sql.ErrNoRows
}

// FindOwnerIn returns the record of the owner collection c with the given
// email or id.
func (s *Store) FindOwnerIn(c *core.Collection, emailOrID string) (*core.Record, error) {
	if !s.IsOwnerCollection(c) {
		return nil, sql.ErrNoRows
	}
	if strings.Contains(emailOrID, "@") {
		return s.app.FindAuthRecordByEmail(c, emailOrID)
	}
	return s.app.FindRecordById(c, emailOrID)
}

// NotOwnerCollectionError is returned by FindOwnerRef for a reference
// naming a collection whose records cannot own keys.
type NotOwnerCollectionError struct{ Name string }

func (e *NotOwnerCollectionError) Error() string {
	return "keystore: " + e.Name + " is not an owner collection"
}

// FindOwnerRef returns the owner a person named: "EMAIL_OR_ID", looked up
// in the owner collections in their order (FindOwner), or
// "COLLECTION/EMAIL_OR_ID" (collection by name or id), looked up in that
// owner collection only. It returns sql.ErrNoRows when there is no such
// record, and a *NotOwnerCollectionError when COLLECTION is not an owner
// collection.
func (s *Store) FindOwnerRef(ref string) (*core.Record, error) {
	name, emailOrID, ok := strings.Cut(ref, "/")
	if !ok {
		return s.FindOwner(ref)
	}
	c, err := s.app.FindCachedCollectionByNameOrId(name)
	if err != nil || !s.IsOwnerCollection(c) {
		return nil, &NotOwnerCollectionError{Name: name}
	}
	return s.FindOwnerIn(c, emailOrID)
}

// OwnerRef names owner the way FindOwnerRef reads it, for people: its
// email (its id when it has none), prefixed with its collection when that
// is not the first owner collection ("service_accounts/bot@example.com").
func (s *Store) OwnerRef(owner *core.Record) string {
	name := owner.Email()
	if name == "" {
		name = owner.Id
	}
	if owners := s.OwnerCollections(); len(owners) > 0 && owners[0].Id == owner.Collection().Id {
		return name
	}
	return owner.Collection().Name + "/" + name
}

// CanAuthenticate reports whether record passes its collection's authRule
// for a request described by info (e.g. "verified = true", "banned =
// false"). Key auth asks it on every request, and the pages on sign-in and
// on every page: a key, unlike a JWT, has no expiry to bound a stale
// decision.
func CanAuthenticate(app core.App, record *core.Record, info *core.RequestInfo) (bool, error) {
	return app.CanAccessRecord(record, info, record.Collection().AuthRule)
}
