// Command pbkeys is PocketBase with API keys: every PocketBase command and
// the dashboard at /_/ work as usual, plus the api_keys collection, Bearer
// API-key authentication and the /api-keys pages.
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/internal/cli"
	"github.com/pbkeys/pbkeys/internal/web"
	_ "github.com/pbkeys/pbkeys/migrations" // registers our schema; applied on serve
)

func main() {
	app := pocketbase.New()

	cfg, err := hooks.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	store, err := hooks.Register(app, cfg)
	if err != nil {
		log.Fatal(err) // e.g. an argon2 budget below one hash: a sentence, not a panic
	}
	web.MustRegister(app, store, web.DefaultConfig()) // /login and /api-keys pages

	// "pbkeys migrate up|down|history-sync" for operators; our migrations
	// are Go code compiled in, so nothing is generated at run time.
	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{Automigrate: false})

	// "pbkeys apikeys create|list|revoke|disable|enable|roll" for
	// operators: PocketBase opens the database before running it, like its
	// own "superuser" command.
	app.RootCmd.AddCommand(cli.NewAPIKeysCommand(app, store))

	if err := app.Start(); err != nil {
		if cli.IsCommandError(err) {
			// A sentence for the operator: print it as it is, without the
			// log timestamp PocketBase's own commands' errors get.
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		log.Fatal(err)
	}
}
