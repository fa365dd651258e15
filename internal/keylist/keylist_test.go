package keylist_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keylist"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// issueFor creates a key for owner and returns its id.
func issueFor(t *testing.T, env *hookstest.Env, owner *core.Record, opts keystore.Options) string {
	t.Helper()
	r, _, err := env.Store.Issue(owner, opts, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Id
}

// expire moves a key's expiry into the past, behind the validation.
func expire(t *testing.T, env *hookstest.Env, id string) {
	t.Helper()
	past := time.Now().Add(-time.Hour).UTC().Format(types.DefaultDateLayout)
	if _, err := env.App.NonconcurrentDB().Update(keystore.Collection, dbx.Params{keystore.FieldExpires: past}, dbx.HashExp{"id": id}).Execute(); err != nil {
		t.Fatal(err)
	}
}

func ids(records []*core.Record) []string {
	var out []string
	for _, r := range records {
		out = append(out, r.Id)
	}
	slices.Sort(out)
	return out
}

// The state filter, done in SQL, agrees with Policy.State for every kind of key.
func TestListPageFiltersByState(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	alice := env.Alice(t)
	now := time.Now()
	issueFor(t, env, alice, keystore.Options{Label: "in a month", ExpiresAt: now.Add(30 * 24 * time.Hour)})
	issueFor(t, env, alice, keystore.Options{Label: "in 3 days", ExpiresAt: now.Add(3 * 24 * time.Hour)})
	issueFor(t, env, alice, keystore.Options{Label: "in 7 days less a minute", ExpiresAt: now.Add(7*24*time.Hour - time.Minute)})
	expire(t, env, issueFor(t, env, alice, keystore.Options{Label: "expired", ExpiresAt: now.Add(time.Hour)}))
	disabledExpired := issueFor(t, env, alice, keystore.Options{Label: "disabled and expired", ExpiresAt: now.Add(time.Hour)})
	expire(t, env, disabledExpired)
	disabled := issueFor(t, env, alice, keystore.Options{Label: "paused"})
	for _, id := range []string{disabled, disabledExpired} {
		if _, err := env.Store.SetDisabled(alice, id, true); err != nil {
			t.Fatal(err)
		}
	}

	all, err := env.Store.List(alice)
	if err != nil {
		t.Fatal(err)
	}
	now = time.Now()
	for _, state := range keylist.States {
		var want []string
		for _, r := range all {
			if keylist.StateOf(keystore.OptionsOf(r), now) == state {
				want = append(want, r.Id)
			}
		}
		slices.Sort(want)
		page, err := keylist.Find(env.App, keylist.Query{Owner: alice, State: state}, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Keys); !slices.Equal(got, want) || page.Total != len(want) {
			t.Errorf("state %s: %v (total %d), want %v", state, got, page.Total, want)
		}
		if len(want) == 0 {
			t.Errorf("state %s: the fixture has no key in it", state)
		}
	}
}

func TestListPageFiltersByLabelAndPages(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	alice := env.Alice(t)
	for i := range 120 {
		issueFor(t, env, alice, keystore.Options{Label: fmt.Sprintf("device %03d", i)})
	}
	percent := issueFor(t, env, alice, keystore.Options{Label: "100% CI_runner"})

	page, err := keylist.Find(env.App, keylist.Query{Owner: alice, PerPage: 50, Page: 3}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// 120 devices, the "100%" key and the fixture's key
	if page.Total != 122 || page.Pages != 3 || page.Page != 3 || len(page.Keys) != 22 {
		t.Fatalf("page 3: %d keys of %d, page %d of %d", len(page.Keys), page.Total, page.Page, page.Pages)
	}
	if last := page.Keys[len(page.Keys)-1]; last.Id != hookstest.AliceKeyID {
		t.Fatalf("the last key of the last page is %s, want the oldest (the fixture's)", last.Id)
	}
	beyond, _ := keylist.Find(env.App, keylist.Query{Owner: alice, PerPage: 50, Page: 99}, time.Now())
	if beyond.Page != 3 || len(beyond.Keys) != 22 {
		t.Fatalf("page 99 gave page %d with %d keys, want the last page", beyond.Page, len(beyond.Keys))
	}
	first, _ := keylist.Find(env.App, keylist.Query{Owner: alice, PerPage: 50}, time.Now())
	if first.Keys[0].Id != percent || len(first.Keys) != 50 {
		t.Fatalf("page 1 starts with %s (%d keys), want the newest", first.Keys[0].Id, len(first.Keys))
	}

	for label, want := range map[string]int{
		"DEVICE 01": 10, // any case: device 010-019
		"100%":      1,  // % is a character, not a wildcard
		"e_0":       0,  // _ too: as a wildcard it would match "device 0…"
		"CI_runner": 1,
		"%":         1,
		"  ":        122, // blank: no filter
	} {
		page, err := keylist.Find(env.App, keylist.Query{Owner: alice, Label: label}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != want {
			t.Errorf("label %q: %d keys, want %d", label, page.Total, want)
		}
	}

	// other owners' keys are never in an owner's list; without an owner, all are
	bob, _ := keylist.Find(env.App, keylist.Query{Owner: env.Bob(t)}, time.Now())
	everyone, _ := keylist.Find(env.App, keylist.Query{}, time.Now())
	if bob.Total != 1 || everyone.Total != 123 {
		t.Fatalf("Bob's list %d keys, everyone's %d; want 1 and 123", bob.Total, everyone.Total)
	}
}
