package hooks

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/search"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Query parameters whose values make PocketBase read other collections.
const (
	paramExpand = "expand"
	paramFilter = "filter"
	paramSort   = "sort"
)

// reachedCollections returns every collection, other than base itself,
// that PocketBase would read to answer a request on base with the expand,
// filter and sort in query (as PocketBase reads its query: the first value
// of each parameter, or a realtime subscription's options).
//
// It does not read the text. It runs PocketBase's own code on it — the
// expand of core.ExpandRecords and the filter and sort resolver of
// core.RecordFieldResolver — and records which collections that code
// looks up. So every spelling PocketBase accepts (spaces, case, ids for
// names, ".rel", the legacy "rel(field)", nested paths, @collection,
// @request.auth relations) is decided on what PocketBase makes of it, and a
// spelling a future release adds is covered the day it runs.
//
// withSort is false for realtime subscriptions, which PocketBase never sorts.
func reachedCollections(app core.App, base *core.Collection, info *core.RequestInfo, withSort bool) []*core.Collection {
	var reached []*core.Collection
	seen := func(c *core.Collection) {
		if c != nil && c.Id != base.Id {
			reached = append(reached, c)
		}
	}
	query := info.Query

	if raw := query[paramExpand]; raw != "" {
		expandReach(app, base, strings.Split(raw, ","), seen)
	}

	filter := query[paramFilter]
	sort := ""
	if withSort {
		sort = query[paramSort]
	}
	if filter == "" && sort == "" {
		return reached
	}
	// The resolver PocketBase builds for client filters and sorts, on an
	// app that tells us each collection it loads. Hidden fields are not
	// filterable for a key, as for any non-superuser.
	observer := &collectionObserver{App: app, seen: seen}
	resolver := core.NewRecordFieldResolver(observer, base, info, false)
	if filter != "" {
		// Errors mean PocketBase refuses the filter too (400); what it
		// looked up before failing is still counted.
		_, _ = search.FilterData(filter).BuildExprWithLimit(resolver, search.DefaultFilterExprLimit)
	}
	for _, field := range search.ParseSortFromString(sort) {
		_, _ = field.BuildExpr(resolver)
	}
	return reached
}

// expandReach runs PocketBase's expand on an empty stand-in record of base
// with a fetch function that records the collection of every relation the
// expand would fetch and hands back an empty stand-in of it, so that nested
// paths are followed exactly as PocketBase follows them. Back-relations
// cost one query each (PocketBase looks up the ids that point back); no
// record is read.
func expandReach(app core.App, base *core.Collection, expands []string, seen func(*core.Collection)) {
	fetch := func(c *core.Collection, _ []string) ([]*core.Record, error) {
		seen(c)
		return []*core.Record{core.NewRecord(c)}, nil
	}
	app.ExpandRecords([]*core.Record{core.NewRecord(base)}, expands, fetch)
}

// collectionObserver is the app handed to PocketBase's filter resolver: it
// answers collection lookups as the app does and reports each one. The
// resolver finds every collection other than its base this way (relations,
// back-relations, @collection, @request.auth fields).
type collectionObserver struct {
	core.App
	seen func(*core.Collection)
}

func (o *collectionObserver) FindCachedCollectionByNameOrId(nameOrID string) (*core.Collection, error) {
	c, err := o.App.FindCachedCollectionByNameOrId(nameOrID)
	if err == nil {
		o.seen(c)
	}
	return c, err
}

func (o *collectionObserver) FindCollectionByNameOrId(nameOrID string) (*core.Collection, error) {
	c, err := o.App.FindCollectionByNameOrId(nameOrID)
	if err == nil {
		o.seen(c)
	}
	return c, err
}

// readsKeyHash reports whether the filter (and, withSort, the sort) in
// info, on base, reads api_keys' hash: a hash is never returned, not even
// to superusers, so it must not be searchable one prefix at a time either.
// It is decided by PocketBase's own resolver, as superusers' filters are
// resolved (hidden fields allowed), twice: on the app, and on a view of it
// where api_keys has no key_hash field. A filter or sort that resolves on
// the first and not on the second reads the hash, by whatever path: the
// api_keys list itself, a back-relation, @collection.
func readsKeyHash(app core.App, base *core.Collection, info *core.RequestInfo, withSort bool) bool {
	filter, sort := info.Query[paramFilter], ""
	if withSort {
		sort = info.Query[paramSort]
	}
	if filter == "" && sort == "" {
		return false
	}
	resolves := func(app core.App, base *core.Collection) bool {
		resolver := core.NewRecordFieldResolver(app, base, info, true)
		if filter != "" {
			if _, err := search.FilterData(filter).BuildExprWithLimit(resolver, search.DefaultFilterExprLimit); err != nil {
				return false
			}
		}
		if sort == "" {
			return true
		}
		for _, field := range search.ParseSortFromString(sort) {
			if _, err := field.BuildExpr(resolver); err != nil {
				return false
			}
		}
		return true
	}
	if !resolves(app, base) {
		return false // PocketBase refuses it too
	}
	hashless := &withoutKeyHash{App: app}
	return !resolves(hashless, hashless.strip(base))
}

// withoutKeyHash is the app as the filter resolver sees it, but for
// api_keys, which has no key_hash field in it.
type withoutKeyHash struct {
	core.App
}

func (a *withoutKeyHash) FindCachedCollectionByNameOrId(nameOrID string) (*core.Collection, error) {
	c, err := a.App.FindCachedCollectionByNameOrId(nameOrID)
	return a.strip(c), err
}

func (a *withoutKeyHash) FindCollectionByNameOrId(nameOrID string) (*core.Collection, error) {
	c, err := a.App.FindCollectionByNameOrId(nameOrID)
	return a.strip(c), err
}

// strip returns c, or for api_keys a copy without its key_hash field.
func (a *withoutKeyHash) strip(c *core.Collection) *core.Collection {
	if c == nil || c.Name != keystore.Collection {
		return c
	}
	stripped := *c
	stripped.Fields = make(core.FieldsList, 0, len(c.Fields))
	for _, f := range c.Fields {
		if f.GetName() != keystore.FieldKeyHash {
			stripped.Fields = append(stripped.Fields, f)
		}
	}
	return &stripped
}
