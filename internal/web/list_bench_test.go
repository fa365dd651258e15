package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
)

// BenchmarkKeysPage5000 is the list page of a user with 5,000 keys, each
// used on every one of the last 30 days (150,000 daily counts), served by
// the full router over loopback to a signed-in browser-like client:
//
//	go test -run '^$' -bench KeysPage5000 -benchtime 100x ./internal/web/
//
// One op is one page: the first, the last (page 100), and a filtered one.
func BenchmarkKeysPage5000(b *testing.B) {
	srv := pagestest.Start(b)
	seedKeys(b, srv.Env, hookstest.AliceOwner, 5000)
	c := srv.Client(b)
	c.Login(hookstest.AliceEmail, hookstest.Password)
	admin := srv.Client(b)
	admin.Login(hookstest.SuperuserEmail, hookstest.Password)

	for _, page := range []struct {
		name   string
		client *pagestest.Client
		path   string
		rows   int
	}{
		{"first page", c, pagestest.Paths.Keys, 50},
		{"last page", c, pagestest.Paths.Keys + "?page=100", 50},
		{"label and state filter", c, pagestest.Paths.Keys + "?q=device+04&state=active", 50},
		{"administrator, every owner", admin, pagestest.Paths.Keys, 50},
	} {
		b.Run(page.name, func(b *testing.B) {
			if res := page.client.Get(page.path); res.StatusCode != 200 || len(rowIDs(res.Body)) != page.rows {
				b.Fatalf("%s: %d with %d rows", page.path, res.StatusCode, len(rowIDs(res.Body)))
			}
			for b.Loop() {
				page.client.Get(page.path)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
		})
	}
}

// seedKeys gives o n keys ("device 0000"...), each used on every one of the
// last 30 days, written in one transaction straight to the tables (the
// keys share one hash: only their rows matter here).
func seedKeys(b *testing.B, env *hookstest.Env, o hookstest.Owner, n int) {
	b.Helper()
	hash, err := apikey.Hash(o.KeySecret, hookstest.TestArgon2)
	if err != nil {
		b.Fatal(err)
	}
	owner := o.Record(b, env)
	start := time.Now().Add(-time.Duration(n) * time.Minute)
	today := time.Now().UTC()
	err = env.App.RunInTransaction(func(tx core.App) error {
		db := tx.NonconcurrentDB()
		for i := range n {
			id := fmt.Sprintf("d%014d", i)
			at := start.Add(time.Duration(i) * time.Minute).UTC().Format(types.DefaultDateLayout)
			_, err := db.Insert(keystore.Collection, dbx.Params{
				"id": id, keystore.FieldOwner: owner.Id, keystore.FieldOwnerCollection: owner.Collection().Id,
				keystore.FieldLabel: fmt.Sprintf("device %04d", i), keystore.FieldKeyHash: hash,
				keystore.FieldCreated: at, keystore.FieldUpdated: at, keystore.FieldLastUsed: at,
				keystore.FieldLastUsedIP: "203.0.113.9", keystore.FieldLastUsedUserAgent: "okhttp/4.12.0",
			}).Execute()
			if err != nil {
				return err
			}
			for d := range usage.Window {
				_, err := db.Insert(keystore.UsageCollection, dbx.Params{
					"id": fmt.Sprintf("u%07d%07d", i, d), "key": id,
					"day":      today.AddDate(0, 0, -d).Format(time.DateOnly),
					"requests": (i + d) % 97,
				}).Execute()
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
