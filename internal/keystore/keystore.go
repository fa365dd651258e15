// Package keystore is where API keys meet PocketBase's storage: the
// api_keys collection's names and record rules, issuing a key into a
// record, rolling, pausing and revoking, and reading a key with its owner.
// The REST hooks, the pages and the CLI all go through a Store, so there is
// one implementation of each, and the record rules (Register binds them)
// hold for every save, whoever makes it.
package keystore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/dbgen"
	"github.com/pbkeys/pbkeys/internal/writetx"
)

// Collection and field names of the api_keys collection.
const (
	Collection    = "api_keys"
	FieldLabel    = "label"
	FieldKeyHash  = "key_hash"
	FieldLastUsed = "last_used"
	FieldCreated  = "created"
	FieldUpdated  = "updated"

	// The owner (migration 1764400000): a record of one of the owner
	// collections, by its id and its collection's id.
	FieldOwner           = "owner"
	FieldOwnerCollection = "owner_collection"

	// Lifecycle fields (migrations 1764100000, 1764900000); zero values
	// mean "as before".
	FieldExpires     = "expires"     // date; empty: never
	FieldPermissions = "permissions" // JSON, internal/permissions; null: full access
	FieldAllowedIPs  = "allowed_ips" // JSON, internal/addrlist; null: any address
	FieldRateLimit   = "rate_limit"  // requests per minute; 0: unlimited
	FieldDisabled    = "disabled"    // bool
	FieldReplacedBy  = "replaced_by" // id of the key a roll issued in its place

	// Where the last use came from (migration 1764500000).
	FieldLastUsedIP        = "last_used_ip"
	FieldLastUsedUserAgent = "last_used_user_agent"

	// RevealField is the non-persisted field that carries the plaintext key
	// in the one response that creates it.
	RevealField = "key"
)

// UsageCollection holds the requests per key and day (migration 1764600000; internal/usage),
// EventsCollection what was done to each key and by whom (1765000000; internal/events).
const UsageCollection, EventsCollection = "api_key_usage", "api_key_events"

// IsKeysCollection reports whether name is one of pbkeys' own collections,
// which hold keys and what they did: no API key may touch or reach them, and
// no key may be scoped to them.
func IsKeysCollection(name string) bool {
	return name == Collection || name == UsageCollection || name == EventsCollection
}

// What people set on a key, by field; every other field of api_keys is the
// server's (the hash, the roll's replacement, last use, the dates, the id).
// The REST API refuses any other field by name, so a typo or an option a
// client imagines never quietly makes a full-access key.
var (
	// OptionFields are set when a key is created (or rolled), besides its
	// owner.
	OptionFields = []string{FieldLabel, FieldExpires, FieldPermissions, FieldAllowedIPs, FieldRateLimit, FieldDisabled}

	// ChangeableFields are the only ones that change afterwards; the rest
	// is fixed (roll a key to change it).
	ChangeableFields = []string{FieldLabel, FieldDisabled, FieldPermissions, FieldAllowedIPs}

	// OwnerFields name a key's owner; who may set them is the REST API's
	// rule (callers own the keys they create, superusers name an owner).
	OwnerFields = []string{FieldOwner, FieldOwnerCollection}
)

// DefaultOwnerCollection is the collection whose records own keys when no
// other is configured.
const DefaultOwnerCollection = "users"

// Config configures a Store. The zero value is useful: every zero field
// means its default.
type Config struct {
	// Argon2 are the argon2id parameters new secrets are hashed with.
	// Zero: apikey.DefaultParams.
	Argon2 argon2id.Params

	// OwnerCollections are the auth collections whose records may own
	// keys, by name. Zero: users. _superusers is refused: a key must never
	// act as a superuser.
	OwnerCollections []string

	// Notify tells owners about their keys (internal/ownermail); nil: no
	// one is told.
	Notify Notifier

	// Lookup tunes how keys are found (lookup.go).
	Lookup LookupConfig

	// Generations tells when the database changed, for what the lookup
	// keeps in memory; nil: the store follows it itself.
	Generations *dbgen.Watch
}

// Notifier tells a key's owner that it was created, after the create is
// committed, without blocking (mail is sent in the background); Wait blocks
// until what it started is done.
type Notifier interface {
	KeyCreated(key *core.Record, origin Origin)
	Wait()
}

// Origin says who acted on a key and from where: for the owner's mail and (OriginKey) its events.
type Origin struct {
	Via            string // "REST API", "API keys page", "CLI"
	IP             string
	UserAgent      string
	Actor, ActorID string // who: an internal/events actor kind ("owner", "superuser", "cli"...) and its id
}

// OriginKey holds []Origin on a key record being saved or deleted, for internal/events (never exported).
const OriginKey = "@pbInternalPbkeysOrigin"

// Store issues, finds, rolls, pauses and revokes keys in an app.
type Store struct {
	app     core.App
	cfg     Config
	lookup  *lookup  // FindWithOwner
	origins sync.Map // record id → Origin of keys prepared but not yet committed
}

// Register returns a Store for app and binds the api_keys record rules
// (rules.go) to app, so they hold for every save: REST, pages, CLI.
func Register(app core.App, cfg Config) (*Store, error) {
	if cfg.Argon2 == (argon2id.Params{}) {
		cfg.Argon2 = apikey.DefaultParams
	}
	if len(cfg.OwnerCollections) == 0 {
		cfg.OwnerCollections = []string{DefaultOwnerCollection}
	}
	if cfg.Notify == nil {
		cfg.Notify = silent{}
	}
	for _, name := range cfg.OwnerCollections {
		if strings.EqualFold(name, core.CollectionNameSuperusers) {
			return nil, errors.New("keystore: superusers cannot own API keys")
		}
	}
	if cfg.Generations == nil {
		cfg.Generations = dbgen.New(app)
	}
	s := &Store{app: app, cfg: cfg, lookup: newLookup(app, cfg.Lookup, cfg.Generations)}
	s.bindRules()
	// Before the databases close: the lookup's kept connections go back to
	// PocketBase's pool.
	app.OnBootstrapClear().BindFunc(func(e *core.BootstrapEvent) error {
		s.lookup.conns.Release()
		return e.Next()
	})
	// The owner collections are checked once the app's migrations ran (they
	// may create them), before the server accepts a request: one that is
	// not an auth collection stops the start, with its name.
	app.OnServe().BindFunc(func(e *core.ServeEvent) error {
		missing, err := s.CheckOwnerCollections()
		if err != nil {
			return err
		}
		for _, name := range missing {
			e.App.Logger().Warn("API keys: an owner collection does not exist; its records can own keys once it is created as an auth collection", "collection", name)
		}
		return e.Next()
	})
	app.Store().Set(storeKey, s)
	return s, nil
}

// storeKey is where Register keeps the Store in the app's store.
const storeKey = "pbkeys.keystore"

// Of returns the Store registered with app, or nil: for code that builds on
// an app pbkeys was registered with (test fixtures, measuring tools).
func Of(app core.App) *Store {
	s, _ := app.Store().Get(storeKey).(*Store)
	return s
}

// Prepare turns a new, unsaved api_keys record into a key: it assigns the
// record id, generates the secret and stores only its hash on the record.
// It returns the plaintext key, which the caller shows once and forgets.
// Every path that creates keys (REST, pages, CLI, roll) goes through here;
// origin is remembered so that the owner is emailed once the record is
// committed, and never for a save that rolls back.
func (s *Store) Prepare(record *core.Record, origin Origin) (apikey.Key, error) {
	if record.Id == "" {
		record.Id = core.GenerateDefaultRandomId()
	}
	key, hash, err := apikey.Issue(record.Id, s.cfg.Argon2)
	if err != nil {
		return apikey.Key{}, fmt.Errorf("keystore: issue key: %w", err)
	}
	record.Set(FieldKeyHash, hash)
	record.SetRaw(OriginKey, []Origin{origin})
	s.origins.Store(record.Id, origin)
	return key, nil
}

// Issue creates and saves a key owned by owner with opts, returning the
// saved record and the plaintext key; the owner is emailed. Validation
// errors (e.g. an empty label, an expiry in the past) are PocketBase
// validation errors.
func (s *Store) Issue(owner *core.Record, opts Options, origin Origin) (*core.Record, apikey.Key, error) {
	return s.issue(s.app, owner, opts, origin)
}

func (s *Store) issue(app core.App, owner *core.Record, opts Options, origin Origin) (*core.Record, apikey.Key, error) {
	collection, err := app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil, apikey.Key{}, fmt.Errorf("keystore: %w", err)
	}
	// An empty list that is not nil allows no address (it is what an
	// unreadable stored list reads as: OptionsOf fails closed); stored, it
	// would be [], which reads as any address. Refused, not widened.
	if opts.AllowedIPs != nil && len(opts.AllowedIPs) == 0 {
		return nil, apikey.Key{}, validation.Errors{FieldAllowedIPs: validation.NewError("validation_allowed_ips",
			"The list of addresses allows none (a stored list that cannot be read reads so): give at least one address or range, or none for any address.")}
	}
	record := core.NewRecord(collection)
	setOwner(record, owner)
	opts.set(record)
	key, err := s.Prepare(record, origin)
	if err != nil {
		return nil, apikey.Key{}, err
	}
	if err := app.Save(record); err != nil {
		return nil, apikey.Key{}, err
	}
	return record, key, nil
}

// SetDisabled pauses (or resumes) owner's key id without losing it.
func (s *Store) SetDisabled(owner *core.Record, id string, disabled bool, by ...Origin) (*core.Record, error) {
	record, err := s.FindOwned(owner, id)
	if err != nil {
		return nil, err
	}
	record.Set(FieldDisabled, disabled)
	record.SetRaw(OriginKey, by)
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

// Roll issues a replacement for owner's key id with the same label, scopes
// and limits, and makes the old key expire after grace (at once when grace
// is 0; never later than it already would). The new key lives as long as
// the old one was issued for. It returns the new record and its plaintext
// key. A key can be rolled once (then roll its replacement): the error is
// an *AlreadyRolledError matching ErrAlreadyRolled.
func (s *Store) Roll(owner *core.Record, id string, grace time.Duration, origin Origin) (*core.Record, apikey.Key, error) {
	if grace < 0 {
		return nil, apikey.Key{}, fmt.Errorf("keystore: negative grace period")
	}
	var (
		created *core.Record
		key     apikey.Key
	)
	err := writetx.Run(s.app, func(tx core.App) error {
		old, err := findOwned(tx, owner, id)
		if err != nil {
			return err
		}
		if next := old.GetString(FieldReplacedBy); next != "" {
			return &AlreadyRolledError{ReplacedBy: next}
		}
		now := time.Now().UTC()
		opts := OptionsOf(old)
		opts.Disabled = false // the replacement starts working, whatever the old key's pause
		if !opts.ExpiresAt.IsZero() {
			lifetime := opts.ExpiresAt.Sub(old.GetDateTime(FieldCreated).Time())
			opts.ExpiresAt = now.Add(lifetime)
		}
		if created, key, err = s.issue(tx, owner, opts, origin); err != nil {
			return err
		}

		oldExpiry := old.GetDateTime(FieldExpires).Time()
		if end := now.Add(grace); oldExpiry.IsZero() || end.Before(oldExpiry) {
			old.Set(FieldExpires, end)
		}
		old.Set(FieldReplacedBy, created.Id)
		old.SetRaw(OriginKey, []Origin{origin})
		return tx.Save(old)
	})
	if err != nil {
		return nil, apikey.Key{}, err
	}
	return created, key, nil
}

// UndoRoll revokes the key a roll just issued and gives the rolled key back
// its expiry, in one transaction.
func (s *Store) UndoRoll(oldID, newID string, oldExpires types.DateTime) error {
	return writetx.Run(s.app, func(tx core.App) error {
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

// Find returns the key record with the given id.
func (s *Store) Find(id string) (*core.Record, error) {
	return s.app.FindRecordById(Collection, id)
}

// List returns owner's keys, newest first.
func (s *Store) List(owner *core.Record) ([]*core.Record, error) {
	return s.app.FindRecordsByFilter(Collection, ownerFilter, "-"+FieldCreated+",-id", 0, 0, ownerParams(owner))
}

// CountOwned returns how many keys owner has.
func (s *Store) CountOwned(owner *core.Record) (int, error) {
	n, err := s.app.CountRecords(Collection, dbx.HashExp{FieldOwner: owner.Id, FieldOwnerCollection: owner.Collection().Id})
	return int(n), err
}

// ListAll returns every key, newest first.
func (s *Store) ListAll() ([]*core.Record, error) {
	var keys []*core.Record
	err := s.app.RecordQuery(Collection).OrderBy(FieldCreated+" DESC", "id DESC").All(&keys)
	return keys, err
}

// FindOwned returns the key with id only if owner owns it; otherwise it
// returns sql.ErrNoRows, as if the key did not exist.
func (s *Store) FindOwned(owner *core.Record, id string) (*core.Record, error) {
	return findOwned(s.app, owner, id)
}

func findOwned(app core.App, owner *core.Record, id string) (*core.Record, error) {
	params := ownerParams(owner)
	params["id"] = id
	return app.FindFirstRecordByFilter(Collection, "id = {:id} && "+ownerFilter, params)
}

// Revoke deletes the key with id if owner owns it.
func (s *Store) Revoke(owner *core.Record, id string, by ...Origin) (*core.Record, error) {
	record, err := s.FindOwned(owner, id)
	if err != nil {
		return nil, err
	}
	record.SetRaw(OriginKey, by)
	// PocketBase's delete reads (cascades) before it writes: see writetx.
	return record, writetx.Run(s.app, func(tx core.App) error { return tx.Delete(record) })
}

// RevokeAll deletes every key of owner in one transaction and returns how
// many were deleted.
func (s *Store) RevokeAll(owner *core.Record, by ...Origin) (int, error) {
	var n int
	err := writetx.Run(s.app, func(tx core.App) error {
		var err error
		n, err = deleteKeys(tx, dbx.HashExp{FieldOwner: owner.Id, FieldOwnerCollection: owner.Collection().Id}, by...)
		return err
	})
	return n, err
}

// MissingKeysError names the ids RevokeIDs found no key for.
type MissingKeysError struct{ IDs []string }

func (e *MissingKeysError) Error() string {
	return "keystore: no key with the ids " + strings.Join(e.IDs, ", ")
}

// RevokeIDs deletes the keys with ids — of owner, when owner is not nil —
// in one transaction: all of them, or none when any id matches no key (a
// *MissingKeysError naming them). It returns the revoked records.
func (s *Store) RevokeIDs(ids []string, owner *core.Record, by ...Origin) ([]*core.Record, error) {
	var revoked []*core.Record
	err := writetx.Run(s.app, func(tx core.App) error {
		var missing []string
		for _, id := range ids {
			var r *core.Record
			var err error
			if owner != nil {
				r, err = findOwned(tx, owner, id)
			} else {
				r, err = tx.FindRecordById(Collection, id)
			}
			switch {
			case err == nil:
				revoked = append(revoked, r)
			case isNotFound(err):
				missing = append(missing, id)
			default:
				return err
			}
		}
		if len(missing) > 0 {
			return &MissingKeysError{IDs: missing}
		}
		for _, r := range revoked {
			r.SetRaw(OriginKey, by)
			if err := tx.Delete(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return revoked, nil
}

// deleteKeys deletes, through app (hooks run: realtime streams end, the
// deletion is logged), the keys matching where, and returns how many.
func deleteKeys(app core.App, where dbx.Expression, by ...Origin) (int, error) {
	records, err := app.FindAllRecords(Collection, where)
	if err != nil {
		return 0, err
	}
	for _, r := range records {
		r.SetRaw(OriginKey, by)
		if err := app.Delete(r); err != nil {
			return 0, err
		}
	}
	return len(records), nil
}

// Grace is how long a rolled key keeps working, by the name the REST API,
// the pages and the CLI accept.
type Grace struct {
	Name   string
	Period time.Duration
}

// Graces are the grace periods a roll offers, shortest first.
var Graces = []Grace{
	{"now", 0},
	{"1h", time.Hour},
	{"24h", 24 * time.Hour},
	{"7d", 7 * 24 * time.Hour},
}

// DefaultGrace is preselected on the page and the CLI's default: a day is
// enough to redeploy most apps with the new key without an outage, and
// short enough that a key rolled because it leaked does not stay usable
// for long.
const DefaultGrace = "24h"

// GraceNamed returns the grace period called name.
func GraceNamed(name string) (time.Duration, bool) {
	for _, g := range Graces {
		if g.Name == name {
			return g.Period, true
		}
	}
	return 0, false
}

// GraceNames lists the grace periods' names, shortest first.
func GraceNames() []string {
	names := make([]string, len(Graces))
	for i, g := range Graces {
		names[i] = g.Name
	}
	return names
}

// WaitNotifications blocks until the owners' mails started so far are sent
// or have failed: the CLI waits before exiting.
func (s *Store) WaitNotifications() {
	s.cfg.Notify.Wait()
}

// silent is the Notifier of a store that tells no one.
type silent struct{}

func (silent) KeyCreated(*core.Record, Origin) {}
func (silent) Wait()                           {}
