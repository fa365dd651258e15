// Package hooks is pbkeys' front door: Register adds API keys to a
// PocketBase app, in the style of PocketBase's own plugins.
//
//	import pbkeys "github.com/pbkeys/pbkeys/hooks"
//
//	app := pocketbase.New()
//	pbkeys.MustRegister(app, pbkeys.Config{RootCmd: app.RootCmd})
//
// Importing the package registers pbkeys' migrations (the api_keys
// collection), which PocketBase applies on serve and in `migrate up`.
//
// The rest of the package is what pbkeys binds to the app:
//
//	auth.go         Authorization header → API key → e.Auth = the key's owner
//	autherrors.go   verification failures → 401 / 429 / 503
//	grant.go        the key's grant, carried on the owner record
//	policy.go       what a key may do: the one answer (checkAccess)
//	reach.go        which collections expand, filter and sort reach, by PocketBase's parse
//	enforce.go      where the policy is asked: router, record hooks, enrich
//	ratelimit.go    each key's own requests per minute
//	realtime.go     key-subscribed realtime clients: topics, revocation
//	files.go        file tokens bound to the key that asked for them
//	records.go      the api_keys REST API: issue on create, reveal once
//	routes.go       key actions beyond CRUD (roll, usage)
//	leaked.go       GitHub's leaked-key reports: verify, revoke, answer
package hooks

import (
	"fmt"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/cli"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/ratelimit"
	"github.com/pbkeys/pbkeys/internal/secretscanning"
	"github.com/pbkeys/pbkeys/internal/web"
	_ "github.com/pbkeys/pbkeys/migrations" // the api_keys collection
)

// verifierStoreKey is where Register keeps the verifier in the app's store,
// for tests and tools that measure it (as keystore.Of does for the store).
const verifierStoreKey = "pbkeys.verifier"

// DefaultPagesPath is where the pages live unless Config.PagesPath says
// otherwise.
const DefaultPagesPath = web.DefaultPrefix

// Register adds pbkeys to app: the key store and its record rules, key
// auth, the key policy, realtime and file-token handling, the REST routes,
// the leaked-key report endpoint (which answers 404 unless
// cfg.LeakReportKeys is set), the pages (unless cfg.NoPages), the "apikeys"
// command (when cfg.RootCmd is set), and the usage flush on terminate.
func Register(app core.App, cfg Config) error {
	pagesPath := cfg.PagesPath
	if pagesPath == "" {
		pagesPath = DefaultPagesPath
	}
	managePath := pagesPath
	if cfg.NoPages {
		managePath = ""
	}
	store, err := keystore.Register(app, keystore.Config{
		Argon2:           cfg.Argon2,
		OwnerCollections: cfg.OwnerCollections,
		ManagePath:       managePath,
	})
	if err != nil {
		return err
	}
	verifier, err := apikey.NewVerifier(apikey.VerifierConfig{
		Params:          cfg.Argon2,
		MemoryBudgetKiB: cfg.Argon2MemoryBudgetKiB,
		MaxWait:         cfg.Argon2MaxWait,
		MaxQueued:       cfg.Argon2MaxQueued,
		CacheSize:       cfg.VerifyCacheSize,
		CacheTTL:        cfg.VerifyCacheTTL,
		Throttle: apikey.ThrottleConfig{
			Window:                   cfg.ThrottleWindow,
			MaxKeyFailuresPerClient:  cfg.ThrottleKeyFailures,
			YieldAfterClientFailures: cfg.ThrottleClientFailures,
			Delay:                    cfg.ThrottleDelay,
			MaxDelayed:               cfg.ThrottleMaxDelayed,
			MaxTracked:               cfg.ThrottleMaxTracked,
		},
		// hashes made with other parameters are upgraded after their
		// next successful verification, off the request path
		Rehash: store.ReplaceHash,
		RehashError: func(keyID string, err error) {
			app.Logger().Warn("API key: failed to re-hash with the current parameters", "keyId", keyID, "error", err)
		},
	})
	if err != nil {
		return err // e.g. a memory budget below one hash: a sentence, not a panic
	}
	app.Store().Set(verifierStoreKey, verifier)

	var leakKeys *secretscanning.KeyFile // nil: the report endpoint answers 404
	if cfg.LeakReportKeys != "" {
		if leakKeys, err = secretscanning.OpenKeyFile(cfg.LeakReportKeys); err != nil {
			return fmt.Errorf("pbkeys: leaked-key reports (%s): %w", EnvLeakReportKeys, err)
		}
	}

	// Last use (time, client address, user agent) and requests per day,
	// gathered in memory and written together, at most once a minute per
	// key (keystore.UsageRecorder).
	usage := keystore.NewUsageRecorder(keystore.UsageConfig{
		Write:            store.RecordUsage,
		FlushInterval:    cfg.LastUsedFlushInterval,
		MinWriteInterval: cfg.LastUsedMinInterval,
		OnError: func(keys int, err error) {
			app.Logger().Warn("API keys: failed to record usage; retrying", "keys", keys, "error", err)
		},
	})
	// Daily counts are kept for keystore.UsageRetention; older ones go once a day.
	app.Cron().MustAdd("pbkeysUsageRetention", "17 3 * * *", func() {
		if _, err := store.PruneUsage(time.Now()); err != nil {
			app.Logger().Warn("API keys: failed to delete old usage counts", "error", err)
		}
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		// before e.Next(): the database is still open here
		verifier.Close() // re-hashes being stored
		usage.Close()
		return e.Next() // the keystore's mails finish before the databases close
	})

	auth := &authenticator{store: store, verifier: verifier, usage: usage}
	limits := newRateLimits()
	leaks := &leakReports{store: store, verifier: verifier, keys: leakKeys, limits: ratelimit.New()}

	// Request pipeline: our auth runs before PocketBase's token loader,
	// then the key's rate limit, then the key policy.
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "pbkeysRoutes",
		Func: func(se *core.ServeEvent) error {
			se.Router.Bind(auth.middleware(), limits.middleware(), policyMiddleware(), policyBodyMiddleware())
			bindKeyRoutes(se, store)
			se.Router.POST(LeakReportPath, leaks.handle)
			return se.Next()
		},
	})

	bindPolicy(app, limits)
	bindRealtimeHooks(app)
	bindFileHooks(app, auth)
	bindRecordHooks(app, store)

	if !cfg.NoPages {
		if err := web.Register(app, store, web.Config{Prefix: pagesPath, RedirectRoot: cfg.RedirectRoot}); err != nil {
			return err
		}
	}
	if cfg.RootCmd != nil {
		cfg.RootCmd.AddCommand(cli.NewAPIKeysCommand(app, store, verifier))
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
