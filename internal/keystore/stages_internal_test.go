package keystore

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	_ "github.com/pbkeys/pbkeys/migrations" // the api_keys collection
)

// The stages of a key request that are the keystore's (make bench runs
// every BenchmarkStage; docs/performance.md has the table): asking whether
// the database changed, and finding the key and its owner — kept in memory
// or read.

// stageStore is a store with one key of one user.
func stageStore(b *testing.B) (s *Store, owner, key *core.Record) {
	b.Helper()
	app, err := tests.NewTestApp(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(app.Cleanup)
	if s, err = Register(app, Config{}); err != nil {
		b.Fatal(err)
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		b.Fatal(err)
	}
	owner = core.NewRecord(users)
	owner.SetEmail("stage@example.com")
	owner.SetPassword("a long password 1")
	if err := app.Save(owner); err != nil {
		b.Fatal(err)
	}
	if key, _, err = s.Issue(owner, Options{Label: "stage"}, Origin{}); err != nil {
		b.Fatal(err)
	}
	return s, owner, key
}

// BenchmarkStageFreshness: has the database changed since the last
// request? (PRAGMA data_version on a kept connection.)
func BenchmarkStageFreshness(b *testing.B) {
	s, _, _ := stageStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if s.lookup.generation() == 0 {
			b.Fatal("no generation")
		}
	}
}

// BenchmarkStageKeyFromMemory: the key kept in memory, built into the
// record the request carries.
func BenchmarkStageKeyFromMemory(b *testing.B) {
	s, _, key := stageStore(b)
	gen := s.lookup.generation()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.lookup.find(key.Id, gen); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageOwnerFromMemory: the owner kept in memory, cloned for the
// request to run as.
func BenchmarkStageOwnerFromMemory(b *testing.B) {
	s, owner, _ := stageStore(b)
	gen := s.lookup.generation()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.lookup.owner(owner.Collection(), owner.Id, gen); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageKeyRowRead: the key's row read from SQLite, as after a
// change of the database (generation 0 keeps nothing).
func BenchmarkStageKeyRowRead(b *testing.B) {
	s, _, key := stageStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.lookup.find(key.Id, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageOwnerRowRead: the owner read by PocketBase's record query,
// as after a change of the database.
func BenchmarkStageOwnerRowRead(b *testing.B) {
	s, owner, _ := stageStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.lookup.owner(owner.Collection(), owner.Id, 0); err != nil {
			b.Fatal(err)
		}
	}
}
