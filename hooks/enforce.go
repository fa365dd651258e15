package hooks

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Where checkAccess is asked. A key's request can reach data along five
// paths; each asks the same question before PocketBase acts:
//
//	router     every HTTP request, before PocketBase's handler (policyMiddleware)
//	records    record request hooks: the router's record requests again,
//	           and /api/batch sub-requests, which skip the router
//	realtime   each topic of a subscription (realtime.go)
//	enrich     every record about to leave: lists, views, expands at any
//	           depth, realtime events, batch results
//	files      downloads with a file token minted by a key (files.go)

const (
	// policyMiddlewareID identifies the key policy middleware.
	policyMiddlewareID = "pbkeysAPIKeyPolicy"

	// policyMiddlewarePriority runs it after the key auth and rate limit,
	// before PocketBase's own handlers and limits.
	policyMiddlewarePriority = rateLimitMiddlewarePriority + 1

	// policyBodyMiddlewareID identifies the key policy's check of record
	// write bodies (the relations they set).
	policyBodyMiddlewareID = "pbkeysAPIKeyPolicyBody"

	// policyBodyMiddlewarePriority runs it right after PocketBase's body
	// limit, so the body it reads is bounded.
	policyBodyMiddlewarePriority = apis.DefaultBodyLimitMiddlewarePriority + 1

	// policyHookID identifies the policy's record and enrich hooks.
	policyHookID = "pbkeysAPIKeyPolicy"

	// policyHookPriority runs the policy hooks before any other hook, so
	// that nothing is done for a request that is refused.
	policyHookPriority = -1000
)

// policyMiddleware checks a key's request on the route PocketBase matched.
func policyMiddleware() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       policyMiddlewareID,
		Priority: policyMiddlewarePriority,
		Func: func(e *core.RequestEvent) error {
			if e.Request.Pattern == routeRecordList && e.Request.URL.RawQuery != "" {
				if err := checkHashSearch(e); err != nil {
					return err
				}
			}
			g := grantOf(e.Auth)
			if g == nil {
				return e.Next()
			}
			a := access{action: actionRoute, route: routePath(e.Request.Pattern), method: e.Request.Method}
			if strings.HasPrefix(a.route, routeCollectionPrefix) || a.route == routeFiles {
				// The collection as PocketBase's handlers resolve it: the
				// path value, by name (any case) or id.
				c, err := e.App.FindCachedCollectionByNameOrId(e.Request.PathValue("collection"))
				if err != nil {
					return e.Next() // PocketBase answers 404
				}
				a.collection = c
				if e.Request.URL.RawQuery != "" { // no query: no expand, filter or sort
					a.info = queryInfo(e)
				}
			}
			if err := checkAccess(e.App, g, a); err != nil {
				return err
			}
			return e.Next()
		},
	}
}

// PocketBase's record routes that the policy reads more of, as matched
// patterns: the list's filter and sort (checkHashSearch), the writes'
// bodies, which may set relations (policyBodyMiddleware).
const (
	routeRecordList   = "GET /api/collections/{collection}/records"
	routeRecordCreate = "POST /api/collections/{collection}/records"
	routeRecordUpdate = "PATCH /api/collections/{collection}/records/{id}"
)

// msgNoHashSearch refuses a filter or sort on api_keys' hash.
const msgNoHashSearch = "API keys' key_hash cannot be used in a filter or a sort, not even by superusers: it is never returned, so it must not be searchable either."

// checkHashSearch refuses a records list whose filter or sort reads
// api_keys' key_hash, whoever asks: a key, a session, a superuser, a
// guest (readsKeyHash). Batch sub-requests never list or filter, and
// realtime topics are checked on subscribe (realtime.go).
func checkHashSearch(e *core.RequestEvent) error {
	c, err := e.App.FindCachedCollectionByNameOrId(e.Request.PathValue("collection"))
	if err != nil {
		return nil // PocketBase answers 404
	}
	if readsKeyHash(e.App, c, queryInfo(e), true) {
		return e.BadRequestError(msgNoHashSearch, nil)
	}
	return nil
}

// policyBodyMiddleware checks the relations a key's record create or update
// sets (checkLinks), on the body as PocketBase reads it, before PocketBase's
// handler: the handler checks the collection's create or update rule first,
// and a rule may read the related record, so a check in the record hooks
// would come after an answer that depends on whether the id exists. It
// runs after PocketBase's body limit.
func policyBodyMiddleware() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       policyBodyMiddlewareID,
		Priority: policyBodyMiddlewarePriority,
		Func: func(e *core.RequestEvent) error {
			g := grantOf(e.Auth)
			if g == nil {
				return e.Next()
			}
			act := actionCreate
			switch e.Request.Pattern {
			case routeRecordCreate:
			case routeRecordUpdate:
				act = actionUpdate
			default:
				return e.Next()
			}
			c, err := e.App.FindCachedCollectionByNameOrId(e.Request.PathValue("collection"))
			if err != nil {
				return e.Next() // PocketBase answers 404
			}
			info, err := e.RequestInfo()
			if err != nil {
				return e.Next() // PocketBase answers 400 for a body it cannot read
			}
			if err := checkAccess(e.App, g, access{action: act, collection: c, info: info}); err != nil {
				return err
			}
			return e.Next()
		},
	}
}

// routePath returns the path of a route pattern ("GET /api/x/{id}" →
// "/api/x/{id}"): the route PocketBase's router matched.
func routePath(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return pattern[i+1:]
	}
	return pattern
}

// queryInfo is the RequestInfo PocketBase builds for e (query and headers
// by their first value, the auth record), without the body: the router
// check runs before PocketBase's body limit, and what a client-side
// filter may read of the body (@request.body) is refused to everyone but
// superusers anyway.
func queryInfo(e *core.RequestEvent) *core.RequestInfo {
	info := &core.RequestInfo{
		Context: core.RequestInfoContextDefault,
		Method:  e.Request.Method,
		Query:   map[string]string{},
		Headers: map[string]string{},
		Auth:    e.Auth,
	}
	for k, v := range e.Request.URL.Query() {
		if len(v) > 0 {
			info.Query[k] = v[0]
		}
	}
	return info
}

// bindPolicy asks checkAccess on the paths that do not go through the
// router middleware: record requests (batch), and records about to leave.
func bindPolicy(app core.App, limits *rateLimits) {
	check := func(e *core.RequestEvent, c *core.Collection, r *core.Record, act action) error {
		g := grantOf(e.Auth)
		if g == nil {
			return nil
		}
		if err := limits.subRequest(e, g); err != nil {
			return err
		}
		info, err := e.RequestInfo()
		if err != nil {
			return e.BadRequestError("", err)
		}
		return checkAccess(e.App, g, access{action: act, collection: c, info: info, record: r})
	}
	for act, h := range map[action]*hook.TaggedHook[*core.RecordRequestEvent]{
		actionView:   app.OnRecordViewRequest(),
		actionCreate: app.OnRecordCreateRequest(),
		actionUpdate: app.OnRecordUpdateRequest(),
		actionDelete: app.OnRecordDeleteRequest(),
	} {
		h.Bind(&hook.Handler[*core.RecordRequestEvent]{
			Id:       policyHookID,
			Priority: policyHookPriority,
			Func: func(e *core.RecordRequestEvent) error {
				if err := check(e.RequestEvent, e.Collection, e.Record, act); err != nil {
					return err
				}
				return e.Next()
			},
		})
	}
	app.OnRecordsListRequest().Bind(&hook.Handler[*core.RecordsListRequestEvent]{
		Id:       policyHookID,
		Priority: policyHookPriority,
		Func: func(e *core.RecordsListRequestEvent) error {
			if err := check(e.RequestEvent, e.Collection, nil, actionList); err != nil {
				return err
			}
			return e.Next()
		},
	})

	// Batch: the relations every sub-request sets are checked before any
	// of them runs (PocketBase checks each create or update rule before
	// the record hooks). A sub-request is matched as PocketBase's batch
	// matches it, and its body is what PocketBase will read: the JSON body
	// and, since it is sent on as a form, the URL query.
	app.OnBatchRequest().Bind(&hook.Handler[*core.BatchRequestEvent]{
		Id:       policyHookID,
		Priority: policyHookPriority,
		Func: func(e *core.BatchRequestEvent) error {
			g := grantOf(e.Auth)
			if g == nil {
				return e.Next()
			}
			for i, ir := range e.Batch {
				act, collection := batchWrite(ir)
				c, err := e.App.FindCachedCollectionByNameOrId(collection)
				if act == "" || err != nil {
					continue // not a record write, or PocketBase answers 404
				}
				info := &core.RequestInfo{Method: ir.Method, Body: batchBody(ir), Auth: e.Auth}
				if err := checkAccess(e.App, g, access{action: act, collection: c, info: info}); err != nil {
					return batchRefusal(e.RequestEvent, i, err)
				}
			}
			return e.Next()
		},
	})

	// What leaves, whatever asked for it: independently of the request
	// checks, a record of api_keys or of a collection the key may not read
	// is never sent to a key. A main record refused here fails the request (403);
	// an expanded one is left out of the expand; a realtime event is not
	// sent.
	app.OnRecordEnrich().Bind(&hook.Handler[*core.RecordEnrichEvent]{
		Id:       policyHookID,
		Priority: policyHookPriority,
		Func: func(e *core.RecordEnrichEvent) error {
			if g := grantOf(e.RequestInfo.Auth); g != nil {
				if err := checkAccess(e.App, g, access{action: actionReceive, collection: e.Record.Collection()}); err != nil {
					return err
				}
			}
			return e.Next()
		},
	})
}

// batchWrite returns what a batch sub-request does, matched by
// PocketBase's own patterns (apis.ValidBatchActions): actionCreate or
// actionUpdate (an upsert may be either: both are checked alike) and its
// collection path value, or "" for a delete or no match.
func batchWrite(ir *core.InternalRequest) (action, string) {
	full := strings.ToUpper(ir.Method) + " " + ir.URL
	for re := range apis.ValidBatchActions {
		m := re.FindStringSubmatch(full)
		if m == nil {
			continue
		}
		collection := m[re.SubexpIndex("collection")]
		switch strings.ToUpper(ir.Method) {
		case http.MethodPost, http.MethodPut:
			return actionCreate, collection
		case http.MethodPatch:
			return actionUpdate, collection
		}
		return "", collection
	}
	return "", ""
}

// batchBody is a sub-request's fields as PocketBase's handler will read
// them: the sub-request is sent on as a form, and a form is read together
// with the URL's query, so both count.
func batchBody(ir *core.InternalRequest) map[string]any {
	body := make(map[string]any, len(ir.Body))
	if _, query, ok := strings.Cut(ir.URL, "?"); ok {
		values, _ := url.ParseQuery(query)
		for k, v := range values {
			body[k] = v
		}
	}
	for k, v := range ir.Body {
		body[k] = v
	}
	return body
}

// batchRefusal answers a batch whose sub-request i is refused in the shape
// PocketBase gives a failed sub-request, so clients (the SDKs) find the
// refusal where they look for it: data.requests.<i>.response.
func batchRefusal(e *core.RequestEvent, i int, err error) error {
	return e.BadRequestError("Batch transaction failed.", validation.Errors{
		"requests": validation.Errors{strconv.Itoa(i): &refusedSubRequest{response: router.ToApiError(err)}},
	})
}

// refusedSubRequest is a batch sub-request refused by the key policy, as
// PocketBase's apis.BatchResponseError shows a failed one.
type refusedSubRequest struct{ response *router.ApiError }

func (r *refusedSubRequest) Error() string { return "Batch request failed." }
func (r *refusedSubRequest) Code() string  { return "batch_request_failed" }

// Resolve adds the sub-request's own answer, as PocketBase does.
func (r *refusedSubRequest) Resolve(data map[string]any) any {
	data["response"] = r.response
	return data
}
