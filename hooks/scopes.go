package hooks

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"pbkeys/internal/apikey"
	"pbkeys/internal/keystore"
)

// Scopes and rate limits: what the owner chose to narrow a key to. They
// only ever narrow: a request that passes them still meets the owner's API
// rules. Like the guard, they are checked on routes (a router middleware
// after our auth) and again in record request hooks, which /api/batch
// sub-requests go through.

const (
	// ScopeMiddlewareID identifies the scope and rate-limit middleware.
	ScopeMiddlewareID = "pbkeysAPIKeyScopes"

	// ScopeMiddlewarePriority runs it right after the guard.
	ScopeMiddlewarePriority = GuardMiddlewarePriority + 1
)

const msgReadOnly = "This API key is read-only: it can only make GET and HEAD requests and subscribe to realtime events."

// readOnlyExceptions are POST routes a read-only key may still call,
// because they read: setting realtime subscriptions, and getting a
// short-lived token to download protected files.
var readOnlyExceptions = map[string]bool{
	"/api/realtime":    true,
	"/api/files/token": true,
}

// scopes enforces key policies on requests.
type scopes struct {
	limiter *apikey.RateLimiter
	now     func() time.Time
}

func (s *scopes) middleware() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       ScopeMiddlewareID,
		Priority: ScopeMiddlewarePriority,
		Func:     s.check,
	}
}

func (s *scopes) check(e *core.RequestEvent) error {
	record := APIKeyFrom(e)
	if record == nil {
		return e.Next()
	}
	policy := keystore.PolicyOf(record)

	// The rate limit counts every request the key makes, refused or not;
	// a batch counts once here and once more per sub-request (see
	// bindHooks), so batching does not multiply the limit.
	if err := s.allow(e, record.Id, policy); err != nil {
		return err
	}
	if e.Request.URL.Path == batchPath {
		e.Set(requestKeyInBatch, true)
	}

	if !policy.Restricted() {
		return e.Next()
	}

	path := e.Request.URL.Path
	if !policy.AllowsMethod(e.Request.Method) && !readOnlyExceptions[path] {
		return e.ForbiddenError(msgReadOnly, nil)
	}

	if name := collectionOfPath(path); name != "" && len(policy.Collections) > 0 {
		collection, err := e.App.FindCachedCollectionByNameOrId(name)
		if err != nil {
			return e.Next() // unknown collection: PocketBase answers 404
		}
		if err := checkCollection(e.App, policy, collection, e.Request.URL.Query().Get("expand")); err != "" {
			return e.ForbiddenError(err, nil)
		}
	}
	return e.Next()
}

const (
	batchPath = "/api/batch"
	// requestKeyInBatch marks a key's batch request; sub-requests copy the
	// event store, so record hooks can tell a sub-request from a request.
	requestKeyInBatch = "pbkeysInBatch"
)

// allow applies the key's rate limit: 429 with Retry-After when over it.
func (s *scopes) allow(e *core.RequestEvent, keyID string, policy apikey.Policy) error {
	wait := s.limiter.Allow(keyID, policy.RatePerMinute, s.now())
	if wait <= 0 {
		return nil
	}
	seconds := int(math.Ceil(wait.Seconds()))
	e.Response.Header().Set("Retry-After", strconv.Itoa(seconds))
	return e.TooManyRequestsError(fmt.Sprintf(
		"This API key is limited to %d requests per minute; retry in %d s.", policy.RatePerMinute, seconds), nil)
}

// collectionOfPath returns the collection name or id of record, auth and
// file routes: /api/collections/{c}/... and /api/files/{c}/{record}/{file}.
func collectionOfPath(path string) string {
	for _, prefix := range []string{"/api/collections/", "/api/files/"} {
		if rest, ok := strings.CutPrefix(path, prefix); ok {
			name, tail, _ := strings.Cut(rest, "/")
			if prefix == "/api/files/" && tail == "" {
				return "" // /api/files/token
			}
			return name
		}
	}
	return ""
}

// checkCollection returns why policy may not touch collection (also
// through ?expand), or "" when it may.
func checkCollection(app core.App, policy apikey.Policy, collection *core.Collection, expand string) string {
	if !policy.AllowsCollection(collection.Name) {
		return fmt.Sprintf("This API key cannot access the %q collection.", collection.Name)
	}
	for _, name := range expandTargets(app, collection, expand) {
		if !policy.AllowsCollection(name) {
			return fmt.Sprintf("This API key cannot expand into the %q collection.", name)
		}
	}
	return ""
}

var backRelation = regexp.MustCompile(`^(\w+)_via_\w+$`)

// expandTargets returns the collections an expand expression such as
// "owner,comments_via_post.author" would read, following each dotted path
// from collection. Unknown names are skipped (PocketBase ignores them).
func expandTargets(app core.App, collection *core.Collection, expand string) []string {
	var names []string
	for _, path := range strings.Split(expand, ",") {
		current := collection
		for _, segment := range strings.Split(strings.TrimSpace(path), ".") {
			if current == nil || segment == "" {
				break
			}
			var next *core.Collection
			if f, ok := current.Fields.GetByName(segment).(*core.RelationField); ok {
				next, _ = app.FindCachedCollectionByNameOrId(f.CollectionId)
			} else if m := backRelation.FindStringSubmatch(segment); m != nil {
				next, _ = app.FindCachedCollectionByNameOrId(m[1])
			}
			if next != nil {
				names = append(names, next.Name)
			}
			current = next
		}
	}
	return names
}

// bindHooks re-checks scopes and counts the rate limit where batch
// sub-requests pass, and checks realtime subscriptions.
func (s *scopes) bindHooks(app core.App) {
	recordCheck := func(e *core.RequestEvent, collection *core.Collection, write bool) error {
		record := APIKeyFrom(e)
		if record == nil {
			return nil
		}
		policy := keystore.PolicyOf(record)
		if inBatch, _ := e.Get(requestKeyInBatch).(bool); inBatch {
			if err := s.allow(e, record.Id, policy); err != nil {
				return err
			}
		}
		if write && policy.ReadOnly {
			return e.ForbiddenError(msgReadOnly, nil)
		}
		if msg := checkCollection(e.App, policy, collection, e.Request.URL.Query().Get("expand")); msg != "" {
			return e.ForbiddenError(msg, nil)
		}
		return nil
	}
	for _, h := range []struct {
		hook  *hook.TaggedHook[*core.RecordRequestEvent]
		write bool
	}{
		{app.OnRecordViewRequest(), false},
		{app.OnRecordCreateRequest(), true},
		{app.OnRecordUpdateRequest(), true},
		{app.OnRecordDeleteRequest(), true},
	} {
		h.hook.Bind(&hook.Handler[*core.RecordRequestEvent]{
			Priority: guardHookPriority,
			Func: func(e *core.RecordRequestEvent) error {
				if err := recordCheck(e.RequestEvent, e.Collection, h.write); err != nil {
					return err
				}
				return e.Next()
			},
		})
	}
	app.OnRecordsListRequest().Bind(&hook.Handler[*core.RecordsListRequestEvent]{
		Priority: guardHookPriority,
		Func: func(e *core.RecordsListRequestEvent) error {
			if err := recordCheck(e.RequestEvent, e.Collection, false); err != nil {
				return err
			}
			return e.Next()
		},
	})

	// Realtime: a subscription to a collection outside the allow-list is
	// refused (not silently empty), including through expand options.
	app.OnRealtimeSubscribeRequest().BindFunc(func(e *core.RealtimeSubscribeRequestEvent) error {
		record := APIKeyFrom(e)
		if record == nil {
			return e.Next()
		}
		policy := keystore.PolicyOf(record)
		if len(policy.Collections) == 0 {
			return e.Next()
		}
		for _, topic := range e.Subscriptions {
			name, query := topicCollection(topic)
			collection, err := e.App.FindCachedCollectionByNameOrId(name)
			if err != nil {
				continue // not a collection topic
			}
			if msg := checkCollection(e.App, policy, collection, query.Get("expand")); msg != "" {
				return e.ForbiddenError(msg, nil)
			}
		}
		return e.Next()
	})
}

// topicCollection splits a realtime topic "notes/*?options={...}" into its
// collection and the query of its options (expand, filter...).
func topicCollection(topic string) (collection string, query url.Values) {
	head, rawQuery, _ := strings.Cut(topic, "?")
	collection, _, _ = strings.Cut(head, "/")
	query = url.Values{}
	if rawQuery == "" {
		return collection, query
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return collection, query
	}
	var options struct {
		Query map[string]string `json:"query"`
	}
	if json.Unmarshal([]byte(q.Get("options")), &options) == nil {
		for k, v := range options.Query {
			query.Set(k, v)
		}
	}
	return collection, query
}
