package writetx_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/internal/writetx"
)

// twoProcesses returns an app with a "notes" collection holding one record,
// and a second app on the same data directory (its own connections, as
// another process would have).
func twoProcesses(t *testing.T) (app, other core.App, note *core.Record) {
	t.Helper()
	test, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(test.Cleanup)
	notes := core.NewBaseCollection("notes")
	notes.Fields.Add(&core.TextField{Name: "title"})
	if err := test.Save(notes); err != nil {
		t.Fatal(err)
	}
	note = core.NewRecord(notes)
	note.Set("title", "first")
	if err := test.Save(note); err != nil {
		t.Fatal(err)
	}
	second := core.NewBaseApp(core.BaseAppConfig{DataDir: test.DataDir(), EncryptionEnv: "pb_test_env"})
	if err := second.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.ResetBootstrapState() })
	return test, second, note
}

// race is a transaction that reads the note and appends to its title;
// on its first call, another process adds a note while the transaction is
// between its read and its write. otherCommitted reports whether that
// insert committed there, rather than waiting for the transaction.
type race struct {
	other          core.App
	noteID         string
	calls          int
	otherCommitted bool
	otherDone      chan error
}

func (r *race) transaction(tx core.App) error {
	r.calls++
	note, err := tx.FindRecordById("notes", r.noteID)
	if err != nil {
		return err
	}
	if r.calls == 1 {
		r.otherDone = make(chan error, 1)
		go func() {
			notes, err := r.other.FindCollectionByNameOrId("notes")
			if err == nil {
				added := core.NewRecord(notes)
				added.Set("title", "added by the other process")
				err = r.other.Save(added)
			}
			r.otherDone <- err
		}()
		select {
		case err := <-r.otherDone:
			r.otherCommitted = true
			r.otherDone <- err
		case <-time.After(500 * time.Millisecond): // waiting for the write lock
		}
	}
	note.Set("title", note.GetString("title")+", this one")
	return tx.Save(note)
}

// TestAnotherProcessesCommitFailsADeferredTransaction: the failure writetx
// exists for, as PocketBase's own RunInTransaction meets it.
func TestAnotherProcessesCommitFailsADeferredTransaction(t *testing.T) {
	app, other, note := twoProcesses(t)
	r := &race{other: other, noteID: note.Id}
	err := app.RunInTransaction(r.transaction)
	if err == nil || !strings.Contains(err.Error(), "(517)") {
		t.Fatalf("RunInTransaction: %v, want SQLITE_BUSY_SNAPSHOT (517)", err)
	}
	if err := <-r.otherDone; err != nil || !r.otherCommitted {
		t.Fatalf("the other process: %v, committed between the read and the write: %t", err, r.otherCommitted)
	}
}

// TestRunWaitsForTheOtherWriter: with the write lock taken first, the other
// process's insert waits for the transaction to commit; both changes are
// stored and the transaction ran once.
func TestRunWaitsForTheOtherWriter(t *testing.T) {
	app, other, note := twoProcesses(t)
	r := &race{other: other, noteID: note.Id}
	if err := writetx.Run(app, r.transaction); err != nil {
		t.Fatal(err)
	}
	if err := <-r.otherDone; err != nil {
		t.Fatalf("the other process: %v", err)
	}
	if r.otherCommitted || r.calls != 1 {
		t.Fatalf("the other process committed between the read and the write: %t; the transaction ran %d times, want once",
			r.otherCommitted, r.calls)
	}
	stored, err := app.FindRecordById("notes", note.Id)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stored.GetString("title"), "first, this one"; got != want {
		t.Fatalf("stored title %q, want %q", got, want)
	}
	if n, err := app.CountRecords("notes"); err != nil || n != 2 {
		t.Fatalf("%d notes (%v), want 2", n, err)
	}
}

// TestRunInsideATransaction: inside another transaction, Run joins it.
func TestRunInsideATransaction(t *testing.T) {
	app, _, note := twoProcesses(t)
	err := app.RunInTransaction(func(tx core.App) error {
		return writetx.Run(tx, func(inner core.App) error {
			r, err := inner.FindRecordById("notes", note.Id)
			if err != nil {
				return err
			}
			r.Set("title", "inner")
			return inner.Save(r)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored, _ := app.FindRecordById("notes", note.Id); stored.GetString("title") != "inner" {
		t.Fatalf("stored title %q, want inner", stored.GetString("title"))
	}
}
