// Command hostapp is an existing PocketBase app — its own collection
// (migrations/) and its own route — that adds API keys with pbkeys.
package main

import (
	"log"
	"net/http"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	pbkeys "github.com/pbkeys/pbkeys/hooks"

	_ "example.com/hostapp/migrations"
)

func main() {
	app := pocketbase.New()
	if err := setup(app, pbkeys.Config{RootCmd: app.RootCmd}); err != nil {
		log.Fatal(err)
	}
	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}

// setup is the whole of the app: its route, and pbkeys.
func setup(app core.App, keys pbkeys.Config) error {
	// API keys: the api_keys collection, Bearer-key auth on every API,
	// the pages at /api-keys and "hostapp apikeys ..." for operators.
	if err := pbkeys.Register(app, keys); err != nil {
		return err
	}

	// The app's own route: whoever calls it, with a session or a key.
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.GET("/hello", func(e *core.RequestEvent) error {
			return e.JSON(http.StatusOK, map[string]string{"hello": e.Auth.Email()})
		}).Bind(apis.RequireAuth())
		return se.Next()
	})
	return nil
}
