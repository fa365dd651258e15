// Package hooks is the PocketBase side of pbkeys: what it binds to the app.
//
//	auth.go       Authorization header → API key → e.Auth = owning user
//	grant.go      the key's grant, carried on the owner record
//	policy.go     what a key may do: the one answer (checkAccess)
//	reach.go      which collections expand, filter and sort reach, by PocketBase's parse
//	enforce.go    where the policy is asked: router, record hooks, enrich
//	ratelimit.go  each key's own requests per minute
//	realtime.go   key-subscribed realtime clients: topics, revocation
//	files.go      file tokens bound to the key that asked for them
//	records.go    api_keys record hooks: issue on create, hide the hash, log
//	routes.go     key actions beyond CRUD (roll)
package hooks

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Register binds pbkeys to app and returns the key store that pages and the
// CLI use to issue and revoke keys. The verifier and the usage recorder
// live as long as app: the recorder is flushed in OnTerminate.
func Register(app core.App, cfg Config) (*keystore.Store, error) {
	store := keystore.New(app, cfg.Argon2)
	if cfg.Argon2MemoryBudgetKiB < cfg.Argon2.Memory {
		return nil, fmt.Errorf("pbkeys: the argon2 memory budget (%d KiB) is smaller than one hash (%d KiB)",
			cfg.Argon2MemoryBudgetKiB, cfg.Argon2.Memory)
	}
	vcfg := cfg.verifierConfig()
	vcfg.Rehash = store.ReplaceHash // upgrades hashes made with other parameters
	vcfg.RehashError = func(keyID string, err error) {
		app.Logger().Warn("API key: failed to re-hash with the current parameters", "keyId", keyID, "error", err)
	}
	verifier, err := apikey.NewVerifier(vcfg)
	if err != nil {
		return nil, err
	}

	usage := apikey.NewUsageRecorder(apikey.UsageConfig{
		Write:            store.TouchLastUsed,
		FlushInterval:    cfg.LastUsedFlushInterval,
		MinWriteInterval: cfg.LastUsedMinInterval,
		OnError: func(keys int, err error) {
			app.Logger().Warn("API key: failed to record last use", "keys", keys, "error", err)
		},
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		// before e.Next(): the database is still open here
		verifier.Close() // re-hashes being stored
		usage.Close()
		store.WaitNotifications()
		return e.Next()
	})

	auth := &authenticator{lookup: keystore.NewLookup(app), verifier: verifier, usage: usage}
	limits := newRateLimits()

	// Request pipeline: our auth runs before PocketBase's token loader,
	// then the key's rate limit, then the key policy.
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "pbkeysRoutes",
		Func: func(se *core.ServeEvent) error {
			se.Router.Bind(auth.middleware(), limits.middleware(), policyMiddleware())
			bindKeyRoutes(se, store)
			return se.Next()
		},
	})

	bindPolicy(app, limits)
	bindRealtimeHooks(app)
	bindFileHooks(app, auth)
	bindRecordHooks(app, store)

	return store, nil
}

// MustRegister is Register that panics on error, for main.
func MustRegister(app core.App, cfg Config) *keystore.Store {
	store, err := Register(app, cfg)
	if err != nil {
		panic(err)
	}
	return store
}
