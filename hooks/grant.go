package hooks

import (
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// grant is what an API key gave a request: which key, and what its owner
// limited it to. The auth middleware attaches it to the owner record it
// makes the request's auth, because that record is the one thing PocketBase
// carries everywhere the key's requests go: e.Auth, batch sub-requests, the
// RequestInfo that enrich hooks receive, and the realtime client that
// stores the subscriber's auth. So every check can tell a key from a
// session without PocketBase knowing about keys.
type grant struct {
	keyID   string
	options keystore.Options
}

// grantDataKey is where a grant is kept in the owner record's data. Field
// names cannot start with "@", so it never meets a real field, and custom
// data is not serialized unless asked for.
const grantDataKey = "@pbkeysGrant"

// grantOf returns the grant attached to auth, or nil when auth is not a
// key's owner record (a session, a guest, or a record loaded elsewhere).
func grantOf(auth *core.Record) *grant {
	if auth == nil {
		return nil
	}
	g, _ := auth.GetRaw(grantDataKey).(*grant)
	return g
}

// attachGrant marks owner, the record a key authenticates as, with g.
func attachGrant(owner *core.Record, g *grant) {
	owner.SetRaw(grantDataKey, g)
}

// Permits reports whether the API key that authenticated e permits level
// ("read" or "write") on the named collection: a Go route the app adds
// asks it before reading or writing a collection on the caller's behalf.
// A request not made with a key is permitted (PocketBase's rules decide,
// as they do for the key's owner); an unknown level, and pbkeys' own
// collections, never are.
//
//	if !pbkeys.Permits(e, "orders", "read") {
//		return e.ForbiddenError("This API key cannot read orders.", nil)
//	}
func Permits(e *core.RequestEvent, collection, level string) bool {
	need, ok := permissions.ParseLevel(level)
	if !ok || need == permissions.None {
		return false
	}
	g := grantOf(e.Auth)
	if g == nil {
		return true
	}
	return !keystore.IsKeysCollection(collection) && g.options.Permissions.Allows(collection, need)
}
