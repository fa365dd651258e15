package hooks_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// A key's row and its owner are kept in memory between requests
// (keystore's lookup, internal/dbgen) until the database changes. Each
// change that decides what a key may do applies to the very next request,
// whether this process or another one on the same pb_data makes it (the
// CLI is another process): each is made both ways here, after requests
// that filled the cache.

// whoamiPath answers the key's label and its owner's email and name as the
// request sees them (hooks.APIKeyFrom, e.Auth): what a stale copy would get
// wrong.
const whoamiPath = "/test/whoami"

func bindWhoami(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.GET(whoamiPath, func(e *core.RequestEvent) error {
			key := hooks.APIKeyFrom(e)
			if key == nil || e.Auth == nil {
				return e.UnauthorizedError("no key", nil)
			}
			return e.String(http.StatusOK, key.GetString(keystore.FieldLabel)+"|"+e.Auth.Email()+"|"+e.Auth.GetString("name"))
		})
		return se.Next()
	})
}

// cacheChange is a change made to a key or its owner, by env (this
// process's or another's).
type cacheChange struct {
	name   string
	apply  func(t *testing.T, env *hookstest.Env, o hookstest.Owner)
	status int    // of the next request
	body   string // what it answers
}

func mustSave(t *testing.T, app core.App, r core.Model) {
	t.Helper()
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
}

var cacheChanges = []cacheChange{
	{"the label changes", func(t *testing.T, env *hookstest.Env, o hookstest.Owner) {
		r := env.Record(t, keystore.Collection, o.KeyID)
		r.Set(keystore.FieldLabel, "renamed elsewhere")
		mustSave(t, env.App, r)
	}, 200, "renamed elsewhere|"},
	{"the key is disabled", func(t *testing.T, env *hookstest.Env, o hookstest.Owner) {
		if _, err := env.Store.SetDisabled(o.Record(t, env), o.KeyID, true); err != nil {
			t.Fatal(err)
		}
	}, 401, "The API key is disabled."},
	{"the key is revoked", func(t *testing.T, env *hookstest.Env, o hookstest.Owner) {
		if _, err := env.Store.Revoke(o.Record(t, env), o.KeyID); err != nil {
			t.Fatal(err)
		}
	}, 401, "The API key is invalid or has been revoked."},
	{"the key is rolled without grace", func(t *testing.T, env *hookstest.Env, o hookstest.Owner) {
		if _, _, err := env.Store.Roll(o.Record(t, env), o.KeyID, 0, keystore.Origin{Via: "test"}); err != nil {
			t.Fatal(err)
		}
	}, 401, "The API key has expired."},
	{"the key's allow-list leaves out the client", func(t *testing.T, env *hookstest.Env, o hookstest.Owner) {
		r := env.Record(t, keystore.Collection, o.KeyID)
		r.Set(keystore.FieldAllowedIPs, []string{"10.0.0.0/8", "2001:db8::/32"})
		mustSave(t, env.App, r)
	}, 403, "This API key cannot be used from this address."},
	{"the key's allow-list includes the client", func(t *testing.T, env *hookstest.Env, o hookstest.Owner) {
		r := env.Record(t, keystore.Collection, o.KeyID)
		r.Set(keystore.FieldAllowedIPs, []string{"10.0.0.0/8", "127.0.0.1"}) // the test server's client
		r.Set(keystore.FieldLabel, "allowed from loopback")
		mustSave(t, env.App, r)
	}, 200, "allowed from loopback|"},
	{"the owner changes", func(t *testing.T, env *hookstest.Env, o hookstest.Owner) {
		owner := o.Record(t, env)
		owner.Set("name", "Renamed Owner")
		mustSave(t, env.App, owner)
	}, 200, "|Renamed Owner"},
	{"the owner's collection gets an auth rule the owner fails", func(t *testing.T, env *hookstest.Env, o hookstest.Owner) {
		c, err := env.App.FindCollectionByNameOrId(o.Collection)
		if err != nil {
			t.Fatal(err)
		}
		c.AuthRule = types.Pointer("name = 'someone else'")
		mustSave(t, env.App, c)
	}, 401, "The API key's owner is not allowed to authenticate."},
	{"the owner is deleted", func(t *testing.T, env *hookstest.Env, o hookstest.Owner) {
		if err := env.App.Delete(o.Record(t, env)); err != nil {
			t.Fatal(err)
		}
	}, 401, "The API key is invalid or has been revoked."},
}

func TestEveryChangeAppliesToTheNextRequest(t *testing.T) {
	for _, o := range hookstest.Owners {
		for _, c := range cacheChanges {
			for _, elsewhere := range []bool{false, true} {
				where := "this process"
				if elsewhere {
					where = "another process"
				}
				t.Run(o.Kind+", "+where+": "+c.name, func(t *testing.T) {
					env := o.New(t)
					t.Cleanup(env.App.Cleanup)
					bindWhoami(env.App)
					srv := env.Serve(t)
					changer := env
					if elsewhere {
						changer = env.AnotherProcess(t)
					}
					for range 3 { // fill the cache, and use it
						if status, body := call(t, srv.URL, http.MethodGet, whoamiPath, "Bearer "+o.Key, ""); status != 200 || !strings.HasPrefix(body, o.KeyLabel+"|"+o.Email+"|") {
							t.Fatalf("before the change: %d %s", status, body)
						}
					}
					c.apply(t, changer, o)
					status, body := call(t, srv.URL, http.MethodGet, whoamiPath, "Bearer "+o.Key, "")
					if status != c.status || !strings.Contains(body, c.body) {
						t.Fatalf("the next request: %d %s, want %d with %q", status, body, c.status, c.body)
					}
				})
			}
		}
	}
}

// TestExpiryAppliesWithoutAChange: a key's expiry passes without anything
// committed, and the key kept in memory stops working at that moment.
func TestExpiryAppliesWithoutAChange(t *testing.T) {
	for _, o := range hookstest.Owners {
		env := o.New(t)
		t.Cleanup(env.App.Cleanup)
		bindWhoami(env.App)
		srv := env.Serve(t)
		r := env.Record(t, keystore.Collection, o.KeyID)
		expires := time.Now().Add(1500 * time.Millisecond)
		r.Set(keystore.FieldExpires, expires)
		mustSave(t, env.App, r)
		for range 3 {
			if status, body := call(t, srv.URL, http.MethodGet, whoamiPath, "Bearer "+o.Key, ""); status != 200 {
				t.Fatalf("%s: before the expiry: %d %s", o.Kind, status, body)
			}
		}
		time.Sleep(time.Until(expires) + 50*time.Millisecond)
		if status, body := call(t, srv.URL, http.MethodGet, whoamiPath, "Bearer "+o.Key, ""); status != 401 || !strings.Contains(body, "The API key has expired.") {
			t.Fatalf("%s: after the expiry: %d %s", o.Kind, status, body)
		}
	}
}
