// Package hooks is pbkeys' front door: Register adds API keys to a
// PocketBase app, in the style of PocketBase's own plugins.
//
//	import pbkeys "github.com/pbkeys/pbkeys/hooks"
//
//	app := pocketbase.New()
//	pbkeys.MustRegister(app, pbkeys.Config{RootCmd: app.RootCmd})
//
// Importing the package registers pbkeys' migrations (the api_keys
// collection), which PocketBase applies on serve and in `migrate up`. The
// rest of the package is what pbkeys binds to the app; docs/design.md maps
// its files.
package hooks

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/internal/cli"
	"github.com/pbkeys/pbkeys/internal/dbgen"
	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/leaks"
	"github.com/pbkeys/pbkeys/internal/ownermail"
	"github.com/pbkeys/pbkeys/internal/ratelimit"
	"github.com/pbkeys/pbkeys/internal/reminders"
	"github.com/pbkeys/pbkeys/internal/secretscanning"
	"github.com/pbkeys/pbkeys/internal/usage"
	"github.com/pbkeys/pbkeys/internal/verifier"
	"github.com/pbkeys/pbkeys/internal/web"
	_ "github.com/pbkeys/pbkeys/migrations" // the api_keys collection
)

// verifierStoreKey is where Register keeps the verifier in the app's store.
const verifierStoreKey = "pbkeys.verifier"

// Register adds pbkeys to app: the key store and its record rules, key
// auth, the key policy, realtime and file-token handling, the REST routes,
// the leaked-key report endpoint (which answers 404 unless
// cfg.LeakReportKeys is set), the pages (unless cfg.NoPages), the "apikeys"
// command (when cfg.RootCmd is set), the owners' mails (expiry reminders
// included), the usage records and the keys' events.
func Register(app core.App, cfg Config) error {
	pagesPath := cfg.PagesPath
	if pagesPath == "" {
		pagesPath = web.DefaultPagesPath
	}
	mailPagesPath := pagesPath // the owners' mails link to the pages, if any
	if cfg.NoPages {
		mailPagesPath = ""
	}
	mail := ownermail.Register(app, mailPagesPath)
	generations := dbgen.New(app) // what the database's commits invalidate
	store, err := keystore.Register(app, keystore.Config{
		Argon2:           cfg.Tuning.Argon2,
		OwnerCollections: cfg.OwnerCollections,
		Notify:           mail,
		Lookup:           cfg.Tuning.Lookup,
		Generations:      generations,
	})
	if err != nil {
		return err
	}
	events.Register(app)
	reminders.Register(app, mail)
	// Hashes made with other parameters are upgraded after their next
	// successful verification, off the request path.
	keys, err := verifier.New(cfg.Tuning.Argon2, cfg.Tuning.Verifier, verifier.Rehash{
		Save: store.ReplaceHash,
		OnError: func(keyID string, err error) {
			app.Logger().Warn("API key: failed to re-hash with the current parameters", "keyId", keyID, "error", err)
		},
	})
	if err != nil {
		return err // e.g. a memory budget below one hash: a sentence, not a panic
	}
	app.Store().Set(verifierStoreKey, keys) // for tests that count argon2id runs
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		keys.Close() // before e.Next(): re-hashes being stored still have the database
		return e.Next()
	})

	var leakKeys *secretscanning.KeyFile // nil: the report endpoint answers 404
	if cfg.LeakReportKeys != "" {
		if leakKeys, err = secretscanning.OpenKeyFile(cfg.LeakReportKeys); err != nil {
			return fmt.Errorf("pbkeys: leaked-key reports (PBKEYS_LEAK_REPORT_KEYS): %w", err)
		}
	}

	auth := &authenticator{store: store, verifier: keys, usage: usage.Register(app, cfg.Tuning.Usage, generations)}
	limits := newRateLimits()
	revoker := leaks.New(app, store, keys, mail)
	reports := &leakReports{revoker: revoker, keys: leakKeys, limits: ratelimit.New()}

	// Request pipeline: our auth runs before PocketBase's token loader,
	// then the key's rate limit, then the key policy.
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "pbkeysRoutes",
		Func: func(se *core.ServeEvent) error {
			se.Router.Bind(auth.middleware(), limits.middleware(), policyMiddleware(), policyBodyMiddleware())
			bindKeyRoutes(se, store)
			se.Router.POST(leakReportPath, reports.handle)
			return se.Next()
		},
	})

	bindPolicy(app, limits)
	bindRealtimeHooks(app)
	bindFileHooks(app, auth)
	bindRecordHooks(app, store)

	if !cfg.NoPages {
		err := web.Register(app, store, web.Config{PagesPath: pagesPath, RedirectRoot: cfg.RedirectRoot, Tuning: cfg.Tuning.Pages})
		if err != nil {
			return err
		}
	}
	if cfg.RootCmd != nil {
		cfg.RootCmd.AddCommand(cli.NewAPIKeysCommand(app, store, revoker))
	}
	return nil
}

// IsCommandError reports whether err, as returned by the app's Start, comes
// from the apikeys command. Its text is a sentence for the operator: print
// it as it is (no log timestamp) and exit with status 1.
func IsCommandError(err error) bool {
	return cli.IsCommandError(err)
}

// MustRegister is Register that panics on error.
func MustRegister(app core.App, cfg Config) {
	if err := Register(app, cfg); err != nil {
		panic(err)
	}
}
