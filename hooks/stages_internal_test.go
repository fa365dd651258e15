package hooks

import (
	"net/http"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// The stages of a key request that are the front door's (make bench runs
// every BenchmarkStage; docs/performance.md has the table), for a key
// without restrictions viewing a record without expand, filter or sort.

func stageApp(b *testing.B) (core.App, *core.Collection, *core.Record) {
	b.Helper()
	app, err := tests.NewTestApp(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(app.Cleanup)
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		b.Fatal(err)
	}
	owner := core.NewRecord(users)
	owner.Id = "u1stage00000000"
	return app, users, owner
}

// BenchmarkStageKeyChecks: is the key usable (not paused or expired), and
// does its owner pass its collection's auth rule?
func BenchmarkStageKeyChecks(b *testing.B) {
	app, _, owner := stageApp(b)
	options := keystore.Options{Label: "stage"}
	b.ReportAllocs()
	for b.Loop() {
		if msg, err := keyRefusal(app, options, owner, http.MethodGet); msg != "" || err != nil {
			b.Fatal(msg, err)
		}
	}
}

// BenchmarkStageLogMeta: naming the key in the request's log entry.
func BenchmarkStageLogMeta(b *testing.B) {
	e := &core.RequestEvent{}
	b.ReportAllocs()
	for b.Loop() {
		e.Set(apis.RequestEventKeyLogMeta, &keyLogMeta{KeyID: "k1stage00000000"})
	}
}

// BenchmarkStagePolicy: the policy's decisions for a record view — on the
// route, and in the view's record hook, with the query PocketBase read.
func BenchmarkStagePolicy(b *testing.B) {
	app, users, owner := stageApp(b)
	g := &grant{keyID: "k1stage00000000"}
	attachGrant(owner, g)
	info := &core.RequestInfo{Method: http.MethodGet, Query: map[string]string{}, Auth: owner}
	b.ReportAllocs()
	for b.Loop() {
		if err := checkAccess(app, g, access{action: actionRoute, route: "/api/collections/{collection}/records/{id}", method: http.MethodGet, collection: users}); err != nil {
			b.Fatal(err)
		}
		if err := checkAccess(app, g, access{action: actionView, collection: users, info: info, record: owner}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageEnrichCheck: the check of a record about to leave.
func BenchmarkStageEnrichCheck(b *testing.B) {
	app, users, _ := stageApp(b)
	g := &grant{keyID: "k1stage00000000"}
	b.ReportAllocs()
	for b.Loop() {
		if err := checkAccess(app, g, access{action: actionReceive, collection: users}); err != nil {
			b.Fatal(err)
		}
	}
}
