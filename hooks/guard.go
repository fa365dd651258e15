package hooks

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"pbkeys/internal/keystore"
)

// What a request authenticated by an API key may not do.
//
// A key acts as its owner, but it is a credential that gets pasted into CI
// settings and scripts, so it leaks more often than a password. Each rule
// below stops a leaked key from turning into something worse than itself:
// more keys, a login, a changed password, or a destroyed account.
//
// Route rules live in routeGuard (a router middleware right after our auth).
// Record rules live in record request hooks, because /api/batch runs its
// sub-requests through those hooks but not through router middlewares.

const (
	// GuardMiddlewareID identifies the route guard.
	GuardMiddlewareID = "pbkeysAPIKeyGuard"

	// GuardMiddlewarePriority runs the guard right after the key auth.
	GuardMiddlewarePriority = AuthMiddlewarePriority + 1

	// guardHookPriority runs the record guards before any other record hook.
	guardHookPriority = -1000
)

// forbiddenAuthActions are the auth routes (/api/collections/{c}/<action>)
// a key may not call, with the reason a user reads.
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

func routeGuard() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       GuardMiddlewareID,
		Priority: GuardMiddlewarePriority,
		Func: func(e *core.RequestEvent) error {
			if APIKeyFrom(e) == nil {
				return e.Next()
			}
			path := e.Request.URL.Path
			if readsKeys(e.App, collectionOfPath(path), e.Request.URL.Query()) {
				return e.ForbiddenError(msgNoKeyReading, nil)
			}
			if strings.HasPrefix(path, "/api/collections/") {
				action := path[strings.LastIndexByte(path, '/')+1:]
				if msg, ok := forbiddenAuthActions[action]; ok && e.Request.Method == http.MethodPost {
					return e.ForbiddenError(msg, nil)
				}
			}
			return e.Next()
		},
	}
}

// Messages of the record guards.
const (
	msgNoKeyManagement = "API keys cannot manage API keys; sign in to the API keys page instead."
	msgNoKeyReading    = "API keys cannot read API keys, not even through expand, filter or sort."
	msgNoCredentials   = "API keys cannot change email, email visibility, password, verification or token key; sign in with a password instead."
	msgNoAccountDelete = "API keys cannot delete the account they belong to."
)

// credentialFields are auth-record fields that decide who can sign in, or
// (emailVisibility) who can see the address it is reached at.
var credentialFields = []string{
	core.FieldNameEmail,
	core.FieldNameEmailVisibility,
	core.FieldNameVerified,
	core.FieldNameTokenKey,
}

func bindRecordGuards(app core.App) {
	// No access at all to api_keys: a leaked key could otherwise mint new
	// keys (persistence after revocation) or delete its siblings.
	denyKeys := func(e *core.RecordRequestEvent) error {
		if APIKeyFrom(e) != nil {
			return e.ForbiddenError(msgNoKeyManagement, nil)
		}
		return e.Next()
	}
	for _, h := range []*hook.TaggedHook[*core.RecordRequestEvent]{
		app.OnRecordViewRequest(keystore.Collection),
		app.OnRecordCreateRequest(keystore.Collection),
		app.OnRecordUpdateRequest(keystore.Collection),
		app.OnRecordDeleteRequest(keystore.Collection),
	} {
		h.Bind(&hook.Handler[*core.RecordRequestEvent]{Priority: guardHookPriority, Func: denyKeys})
	}
	app.OnRecordsListRequest(keystore.Collection).Bind(&hook.Handler[*core.RecordsListRequestEvent]{
		Priority: guardHookPriority,
		Func: func(e *core.RecordsListRequestEvent) error {
			if APIKeyFrom(e) != nil {
				return e.ForbiddenError(msgNoKeyManagement, nil)
			}
			return e.Next()
		},
	})

	// Nor through another collection: ?expand=api_keys_via_user, a filter
	// on a back-relation or @collection.api_keys would read the sibling
	// keys (labels, scopes, last use). Checked here too for batch.
	for _, h := range []*hook.TaggedHook[*core.RecordRequestEvent]{
		app.OnRecordViewRequest(), app.OnRecordCreateRequest(), app.OnRecordUpdateRequest(), app.OnRecordDeleteRequest(),
	} {
		h.Bind(&hook.Handler[*core.RecordRequestEvent]{Priority: guardHookPriority, Func: func(e *core.RecordRequestEvent) error {
			if APIKeyFrom(e) != nil && readsKeys(e.App, e.Collection.Name, e.Request.URL.Query()) {
				return e.ForbiddenError(msgNoKeyReading, nil)
			}
			return e.Next()
		}})
	}
	app.OnRecordsListRequest().Bind(&hook.Handler[*core.RecordsListRequestEvent]{Priority: guardHookPriority, Func: func(e *core.RecordsListRequestEvent) error {
		if APIKeyFrom(e) != nil && readsKeys(e.App, e.Collection.Name, e.Request.URL.Query()) {
			return e.ForbiddenError(msgNoKeyReading, nil)
		}
		return e.Next()
	}})

	// No credential changes through a record update, on any auth record
	// the owner can manage: email, password, verified and tokenKey decide
	// who can sign in.
	app.OnRecordUpdateRequest().Bind(&hook.Handler[*core.RecordRequestEvent]{
		Priority: guardHookPriority,
		Func: func(e *core.RecordRequestEvent) error {
			if APIKeyFrom(e) != nil && e.Collection.IsAuth() && changesCredentials(e.Record) {
				return e.ForbiddenError(msgNoCredentials, nil)
			}
			return e.Next()
		},
	})

	// No deleting the owner's own account: a leaked key must not be able
	// to destroy the account it belongs to.
	app.OnRecordDeleteRequest().Bind(&hook.Handler[*core.RecordRequestEvent]{
		Priority: guardHookPriority,
		Func: func(e *core.RecordRequestEvent) error {
			if APIKeyFrom(e) != nil && e.Auth != nil &&
				e.Record.Id == e.Auth.Id && e.Collection.Id == e.Auth.Collection().Id {
				return e.ForbiddenError(msgNoAccountDelete, nil)
			}
			return e.Next()
		},
	})
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

// readsKeys reports whether a request's expand, filter or sort (on the
// collection named, "" when unknown) would read api_keys records: through a
// back-relation (api_keys_via_user), @collection.api_keys, the collection's
// id, or a relation field that points at api_keys.
func readsKeys(app core.App, collectionName string, query url.Values) bool {
	expand, filter, sort := query.Get("expand"), query.Get("filter"), query.Get("sort")
	if expand == "" && filter == "" && sort == "" {
		return false
	}
	keys, err := app.FindCachedCollectionByNameOrId(keystore.Collection)
	if err != nil {
		return false
	}
	text := strings.ToLower(expand + " " + filter + " " + sort)
	if strings.Contains(text, keystore.Collection) || strings.Contains(text, strings.ToLower(keys.Id)) {
		return true
	}
	collection, err := app.FindCachedCollectionByNameOrId(collectionName)
	if err != nil {
		return false
	}
	for _, name := range expandTargets(app, collection, expand) {
		if name == keystore.Collection {
			return true
		}
	}
	for _, f := range collection.Fields {
		if rel, ok := f.(*core.RelationField); ok && rel.CollectionId == keys.Id &&
			strings.Contains(text, strings.ToLower(rel.Name)) {
			return true
		}
	}
	return false
}
