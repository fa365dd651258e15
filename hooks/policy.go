package hooks

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/list"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// What may an API key do? checkAccess answers, for every path a key's
// request can take; enforce.go calls it from each of them: the router
// middleware, the record request hooks (which /api/batch sub-requests go
// through without the router), realtime subscriptions, the enrich hook
// (every record about to leave the server, expanded ones and realtime
// events included) and downloads with a file token minted by a key.
//
// A key acts as its owner, and the owner's API rules always apply. The
// rules here only take away, for two reasons: a key is a credential that
// gets pasted into CI settings and scripts, so it leaks more often than a
// password, and a leaked key must not turn into something worse than
// itself; and the owner may have narrowed the key: a permission per
// collection (none, read, write) and one for the routes the app adds
// (internal/permissions).
//
// Every decision is made on what PocketBase itself makes of the request:
// the route it matched, the collection it resolved, the records it loaded,
// and — for expand, filter and sort — the collections its own parser and
// resolver reach (reach.go). Nothing here matches request text.

// action is what a request does, in PocketBase's terms.
type action string

const (
	actionRoute     action = ""          // a router request, before PocketBase's handler
	actionList      action = "list"      // record hooks: the five record requests
	actionView      action = "view"      //
	actionCreate    action = "create"    //
	actionUpdate    action = "update"    //
	actionDelete    action = "delete"    //
	actionSubscribe action = "subscribe" // one realtime topic
	actionReceive   action = "receive"   // a record about to be sent (enrich)
	actionDownload  action = "download"  // a protected file, with a key's file token
)

// access is one thing a key is about to do.
type access struct {
	action action

	// route and method: the router's matched pattern without its method
	// ("/api/collections/{collection}/auth-refresh") and the request
	// method; only for actionRoute.
	route, method string

	// collection is the collection touched, nil for none.
	collection *core.Collection

	// info carries the query (expand, filter, sort) as PocketBase reads
	// it, and the auth record; nil when the access reads no query.
	info *core.RequestInfo

	// record is the record of a record request: for an update with the
	// submitted changes loaded.
	record *core.Record
}

// PocketBase's routes that the rules single out, as matched patterns.
const (
	routeCollectionPrefix = "/api/collections/{collection}/" // records and auth routes
	routeFiles            = "/api/files/{collection}/{recordId}/{filename}"
	routeFileToken        = "/api/files/token"
	routeRealtime         = "/api/realtime"
	routeBatch            = "/api/batch"
	routeKeysPrefix       = "/api/api-keys/" // ours: key management beyond CRUD
)

// Messages of the refusals. Those starting "API keys cannot" hold for every
// key; those starting "This API key" are the owner's narrowing.
const (
	msgNoKeyManagement = "API keys cannot manage API keys; sign in to the API keys page instead."
	msgNoKeyReading    = "API keys cannot read API keys, not even through expand, filter or sort."
	msgNoUsage         = "API keys cannot read or change the usage of API keys; sign in to the API keys page instead."
	msgNoEvents        = "API keys cannot read or change the events of API keys; sign in to the API keys page instead."
	msgNoCredentials   = "API keys cannot change email, email visibility, password, verification or token key; sign in with a password instead."
	msgNoAccountDelete = "API keys cannot delete the account they belong to."
	msgNoAuthMethods   = "API keys cannot add, change or remove sign-in methods (OAuth2 links, sign-in origins, MFA or one-time passwords); sign in with a password instead."
	msgNoRoutes        = "This API key cannot call routes the app adds: its permissions do not include them (\"@routes\")."
	msgReadRoutes      = "This API key can only read routes the app adds (GET, HEAD and OPTIONS): its permission for them (\"@routes\") is read."
)

// forbiddenAuthActions are the auth routes a key may not call, by the
// route's last part, with the reason a user reads.
var forbiddenAuthActions = map[string]string{
	// PocketBase uses e.Auth as the fallback record and would link an
	// attacker's OAuth2 identity to the owner, returning a refreshable JWT.
	"auth-with-oauth2": "API keys cannot link OAuth2 accounts; sign in with a password instead.",

	// Changing the email is the first step of taking the account over.
	"request-email-change": "API keys cannot change the account's email; sign in with a password instead.",

	// A key must not be exchanged for a session token, and PocketBase would
	// answer with the presented key as "token": the secret would appear in
	// a response other than the one that revealed it.
	"auth-refresh": "API keys cannot be refreshed or exchanged for a token; send the key itself with each request.",
}

// passThroughRoutes are PocketBase's routes that name no collection and
// that a key with permissions may call whatever they are, because what
// they reach is checked on its way: realtime (each topic on subscribe,
// each record sent), file tokens (each download), batch (each
// sub-request), health (nothing).
var passThroughRoutes = []string{routeRealtime, routeFileToken, routeBatch, "/api/health"}

// credentialFields are auth-record fields that decide who can sign in, or
// (emailVisibility) who can see the address it is reached at.
var credentialFields = []string{
	core.FieldNameEmail,
	core.FieldNameEmailVisibility,
	core.FieldNameVerified,
	core.FieldNameTokenKey,
}

// authMethodCollections hold how an account signs in: linked OAuth2
// identities, known sign-in origins, MFA and one-time-password state.
var authMethodCollections = []string{
	core.CollectionNameExternalAuths,
	core.CollectionNameAuthOrigins,
	core.CollectionNameMFAs,
	core.CollectionNameOTPs,
}

// checkAccess returns nil when the key described by g may do a, or the
// 403 to answer. It is the one answer to "what may this key do?".
func checkAccess(app core.App, g *grant, a access) error {
	// Our own key-management routes (roll): a leaked key must not be able
	// to outlive its revocation by minting a successor.
	if a.action == actionRoute && strings.HasPrefix(a.route, routeKeysPrefix) {
		return apis.NewForbiddenError(msgNoKeyManagement, nil)
	}

	if a.collection != nil {
		keysMsg := msgNoKeyManagement
		if a.action == actionReceive {
			keysMsg = msgNoKeyReading
		}
		if err := checkCollection(g, a.collection, keysMsg, a.needs(), "access"); err != nil {
			return err
		}
	} else if a.action == actionRoute {
		if err := checkRoute(g, a); err != nil {
			return err
		}
	}

	// What expand, filter and sort make PocketBase read is read too: no
	// api_keys record through a back-relation or @collection, nothing the
	// key has no read permission on.
	if a.info != nil && a.collection != nil {
		withSort := a.action != actionSubscribe
		for _, c := range reachedCollections(app, a.collection, a.info, withSort) {
			if err := checkCollection(g, c, msgNoKeyReading, permissions.Read, "reach"); err != nil {
				return err
			}
		}
	}

	// Setting a relation reaches its target collection: linking a record
	// of a collection the key may not reach is refused before PocketBase
	// validates the ids, so the answer never says whether one exists.
	if (a.action == actionCreate || a.action == actionUpdate) && a.info != nil && a.collection != nil {
		if err := checkLinks(app, g, a.collection, a.info); err != nil {
			return err
		}
	}

	if a.action == actionRoute && a.method == http.MethodPost {
		if msg, ok := forbiddenAuthActions[strings.TrimPrefix(a.route, routeCollectionPrefix)]; ok {
			return apis.NewForbiddenError(msg, nil)
		}
	}

	if a.record != nil && a.action.writes() {
		return checkRecordWrite(a)
	}
	return nil
}

// writes reports whether the action changes a record.
func (act action) writes() bool {
	return act == actionCreate || act == actionUpdate || act == actionDelete
}

// needs returns the permission a on its collection needs: write to change a
// record (on the router: any method but GET, HEAD and OPTIONS, which
// covers the auth routes too), read for anything else.
func (a access) needs() permissions.Level {
	if a.action.writes() || (a.action == actionRoute && !safeMethod(a.method)) {
		return permissions.Write
	}
	return permissions.Read
}

func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// checkRoute decides a route that names no collection: the routes the app
// adds (and PocketBase's settings and other superuser routes, which no key
// passes anyway) need the key's permission for routes; PocketBase's routes
// that check what they reach on the way pass (passThroughRoutes).
func checkRoute(g *grant, a access) error {
	perms := g.options.Permissions
	if perms.Full() || slices.Contains(passThroughRoutes, a.route) {
		return nil
	}
	need := permissions.Read
	if !safeMethod(a.method) {
		need = permissions.Write
	}
	switch have := perms.RoutesLevel(); {
	case have >= need:
		return nil
	case have == permissions.Read:
		return apis.NewForbiddenError(msgReadRoutes, nil)
	}
	return apis.NewForbiddenError(msgNoRoutes, nil)
}

// checkCollection refuses api_keys to every key (with keysMsg: managing
// keys, or reading them through another collection), api_key_usage and
// api_key_events, and
// a collection where the key's permission is below need, for what verb
// says the key was about to do there ("access", "reach" through expand,
// filter or sort, "link to records of").
//
// No key may see or touch API keys: a leaked key could otherwise mint new
// keys (persistence after revocation), delete its siblings, or list them
// (labels, permissions, last use). Nor their usage or events: they say
// which keys exist, when, how much and from where they are used and by
// whom they are managed, and a key could forge them.
func checkCollection(g *grant, c *core.Collection, keysMsg string, need permissions.Level, verb string) error {
	switch c.Name {
	case keystore.Collection:
		return apis.NewForbiddenError(keysMsg, nil)
	case keystore.UsageCollection:
		return apis.NewForbiddenError(msgNoUsage, nil)
	case keystore.EventsCollection:
		return apis.NewForbiddenError(msgNoEvents, nil)
	}
	have := g.options.Permissions.Of(c.Name)
	if have >= need {
		return nil
	}
	what := fmt.Sprintf("%s the %q collection", verb, c.Name)
	if verb == "reach" {
		what += " through expand, filter or sort"
	}
	if have == permissions.Read {
		return apis.NewForbiddenError(fmt.Sprintf("This API key can only read the %q collection: it cannot create, update or delete its records.", c.Name), nil)
	}
	return apis.NewForbiddenError(fmt.Sprintf("This API key cannot %s: it has no permission on it.", what), nil)
}

// checkLinks refuses a body (info.Body, as PocketBase reads it) that sets
// a relation of c — plainly or with PocketBase's "+"/"-" modifiers, as its
// RelationField.FindSetter reads the names — to records of a collection
// the key may not read: pbkeys' own collections for every key,
// collections its permissions do not give read. Whatever the ids, existing
// or not. Linking the key's own owner record is not reaching anything: the
// key acts as that record.
func checkLinks(app core.App, g *grant, c *core.Collection, info *core.RequestInfo) error {
	for name, value := range info.Body {
		ids := list.ToUniqueStringSlice(value)
		if len(ids) == 0 {
			continue // clearing a relation reaches nothing
		}
		for _, f := range c.Fields {
			rel, ok := f.(*core.RelationField)
			if !ok || rel.FindSetter(name) == nil {
				continue
			}
			target, err := app.FindCachedCollectionByNameOrId(rel.CollectionId)
			if err != nil {
				continue // a broken relation field: PocketBase refuses the value
			}
			if auth := info.Auth; auth != nil && target.Id == auth.Collection().Id && len(ids) == 1 && ids[0] == auth.Id {
				continue
			}
			if err := checkCollection(g, target, msgNoKeyManagement, permissions.Read, "link to records of"); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRecordWrite refuses record writes that would outlast the key.
func checkRecordWrite(a access) error {
	c, r := a.collection, a.record
	var auth *core.Record
	if a.info != nil {
		auth = a.info.Auth
	}

	// Sign-in methods: linking an OAuth2 identity or removing one (and MFA,
	// OTP and origin records) changes how the account signs in.
	if c.System && slices.Contains(authMethodCollections, c.Name) {
		return apis.NewForbiddenError(msgNoAuthMethods, nil)
	}

	// Credentials of any auth record the owner may manage: email,
	// password, verified and tokenKey decide who can sign in.
	if a.action == actionUpdate && c.IsAuth() && changesCredentials(r) {
		return apis.NewForbiddenError(msgNoCredentials, nil)
	}

	// A leaked key must not be able to destroy the account it belongs to.
	if a.action == actionDelete && auth != nil && r.Id == auth.Id && c.Id == auth.Collection().Id {
		return apis.NewForbiddenError(msgNoAccountDelete, nil)
	}
	return nil
}

// changesCredentials reports whether the submitted update touches a
// credential field. The request data is already loaded into record.
func changesCredentials(record *core.Record) bool {
	original := record.Original()
	for _, name := range credentialFields {
		if record.Get(name) != original.Get(name) {
			return true
		}
	}
	hash := core.FieldNamePassword + ":hash"
	return record.GetString(hash) != original.GetString(hash)
}
