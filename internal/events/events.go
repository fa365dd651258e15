// Package events is each API key's lifecycle record: what was done to the
// key, by whom, when, from which address and user agent, kept for
// Retention in the api_key_events collection (migration 1765000000).
//
// Who did it reaches the recorder on the key record itself: every path
// that changes a key states its actor once, as a keystore.Origin — the
// REST request hooks (batch and the dashboard included), the pages, the
// CLI, leak reports — and the keystore puts it on the record it saves or
// deletes (keystore.OriginKey). The record's after-success hooks, which run
// after the commit, read it and write the event (Register). A change
// nobody stated is the system's.
package events

import (
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/clientinfo"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// The actions an event records.
const (
	Created            = "created"
	Rolled             = "rolled"  // detail: replacedBy, expires (when the old key stops)
	Revoked            = "revoked" // detail: reason "owner deleted" for a key deleted with its owner
	Disabled           = "disabled"
	Enabled            = "enabled"
	PermissionsChanged = "permissions_changed" // detail: before and after, per changed field
	LeakRevoked        = "leak_revoked"        // detail: url, reportedBy
	Expired            = "expired"             // detail: expires
	Reminder7Days      = "expiry_reminder_7d"  // the owner was mailed; detail: expires
	Reminder1Day       = "expiry_reminder_1d"  //
)

// Actions are every action, in the order of a key's life.
var Actions = []string{Created, Disabled, Enabled, PermissionsChanged, Rolled,
	Reminder7Days, Reminder1Day, Expired, Revoked, LeakRevoked}

// OnceActions happen at most once per key: the migration's partial unique
// index on (key, action) holds for them, so writing one is claiming it
// (Write reports whether this call did).
var OnceActions = []string{Expired, Reminder7Days, Reminder1Day}

// The kinds of actor.
const (
	KindOwner      = "owner"       // the key's owner; id: the owner record's id
	KindSuperuser  = "superuser"   // id: the superuser's id
	KindAccount    = "account"     // another account the app's rules let act on the key; id: COLLECTION/ID
	KindCLI        = "cli"         // `pbkeys apikeys ...`; id: the operating system user
	KindLeakReport = "leak_report" // a leaked-key report; id: who reported it
	KindSystem     = "system"      // pbkeys itself (expiry, reminders), or a change nobody stated
)

// Actor is who did something to a key.
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// ActorOf says who auth is to a key of the owner ownerID in the collection
// ownerCollection (an id): the owner, a superuser, another account; nil is
// the system.
func ActorOf(auth *core.Record, ownerID, ownerCollection string) Actor {
	switch {
	case auth == nil:
		return Actor{Kind: KindSystem}
	case auth.IsSuperuser():
		return Actor{Kind: KindSuperuser, ID: auth.Id}
	case auth.Id == ownerID && auth.Collection().Id == ownerCollection:
		return Actor{Kind: KindOwner, ID: auth.Id}
	}
	return Actor{Kind: KindAccount, ID: auth.Collection().Name + "/" + auth.Id}
}

// RequestOrigin is the Origin of what auth does, through the request e
// (REST or a page) via via ("REST API", "API keys page"), to a key of
// ownerID in ownerCollection.
func RequestOrigin(e *core.RequestEvent, auth *core.Record, ownerID, ownerCollection, via string) keystore.Origin {
	a := ActorOf(auth, ownerID, ownerCollection)
	return keystore.Origin{Via: via, IP: e.RealIP(), UserAgent: e.Request.UserAgent(), Actor: a.Kind, ActorID: a.ID}
}

// leakKey is where MarkLeaked puts a leak on the key record it revokes.
// PocketBase never exports "@pbInternal" data.
const leakKey = "@pbInternalPbkeysLeak"

// leak is what a leak_revoked event says about where the key was found.
type leak struct {
	URL        string `json:"url,omitempty"`
	ReportedBy string `json:"reportedBy,omitempty"`
}

// maxURL bounds the "found at" address kept: reports come from outside.
const maxURL = 1000

// MarkLeaked says that key is about to be revoked because it was found
// exposed at url (may be empty), as reportedBy reported: its event is then
// leak_revoked rather than revoked. The actor is the Origin's, as for any
// revocation.
func MarkLeaked(key *core.Record, url, reportedBy string) {
	key.SetRaw(leakKey, leak{URL: clientinfo.Clean(url, maxURL), ReportedBy: clientinfo.Clean(reportedBy, maxField)})
}

// originOf returns the Origin a path put on key, if any.
func originOf(key *core.Record) (keystore.Origin, bool) {
	by, _ := key.GetRaw(keystore.OriginKey).([]keystore.Origin)
	if len(by) == 0 {
		return keystore.Origin{}, false
	}
	return by[0], true
}
