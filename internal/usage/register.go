package usage

import (
	"context"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/internal/dbgen"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Register starts app's usage recorder (Close flushes it on terminate,
// while the database is still open), prunes daily counts older than
// Retention once a day, and deletes a key's counts with the key. The
// recorder writes as gen's own bookkeeping (dbgen.Watch.OwnWrite), so what
// the keystore keeps in memory stays valid through it.
func Register(app core.App, cfg Config, gen *dbgen.Watch) *Recorder {
	write := func(batch []KeyUsage) error { return gen.OwnWrite(context.Background(), writeBatch(app, batch)) }
	recorder := NewRecorder(cfg, write,
		func(keys int, err error) {
			app.Logger().Warn("API keys: failed to record usage; retrying", "keys", keys, "error", err)
		})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		recorder.Close() // before e.Next(): the database is still open here
		return e.Next()
	})
	app.Cron().MustAdd("pbkeysUsageRetention", "17 3 * * *", func() {
		if _, err := Prune(app, time.Now()); err != nil {
			app.Logger().Warn("API keys: failed to delete old usage counts", "error", err)
		}
	})

	// A key's daily counts go with it, in its delete transaction (PocketBase
	// opens it at priority 99, so e.App is the transaction here), by one
	// statement: they are bookkeeping, with no hooks to run (a cascading
	// relation would delete them one record at a time).
	app.OnRecordDeleteExecute(keystore.Collection).Bind(&hook.Handler[*core.RecordEvent]{
		Func: func(e *core.RecordEvent) error {
			if err := e.Next(); err != nil {
				return err
			}
			_, err := e.App.NonconcurrentDB().Delete(keystore.UsageCollection, dbx.HashExp{fieldKey: e.Record.Id}).Execute()
			return err
		},
		Priority: 100,
	})
	return recorder
}
