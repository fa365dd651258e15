package keystore_test

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/pbtest"
)

// TestLookupMatchesFindRecordById: the one-query lookup builds the same
// records PocketBase's own FindRecordById does, field by field, also after
// the schema changes under it.
func TestLookupMatchesFindRecordById(t *testing.T) {
	env := pbtest.New(t)
	t.Cleanup(env.App.Cleanup)
	lookup := keystore.NewLookup(env.App)

	check := func(t *testing.T) {
		t.Helper()
		key, owner, err := lookup.Find(pbtest.AliceKeyID)
		if err != nil {
			t.Fatal(err)
		}
		wantKey, _ := env.App.FindRecordById(keystore.Collection, pbtest.AliceKeyID)
		wantOwner, _ := env.App.FindRecordById(keystore.OwnerCollection, pbtest.AliceID)
		for _, pair := range []struct{ got, want *core.Record }{{key, wantKey}, {owner, wantOwner}} {
			if pair.got.Collection().Id != pair.want.Collection().Id || pair.got.Id != pair.want.Id {
				t.Fatalf("got %s/%s, want %s/%s", pair.got.Collection().Name, pair.got.Id, pair.want.Collection().Name, pair.want.Id)
			}
			if pair.got.IsNew() {
				t.Fatal("a loaded record must not be new")
			}
			for _, f := range pair.want.Collection().Fields {
				name := f.GetName()
				if g, w := pair.got.GetRaw(name), pair.want.GetRaw(name); !equalValue(g, w) {
					t.Errorf("%s.%s = %#v, want %#v", pair.want.Collection().Name, name, g, w)
				}
				if g, w := pair.got.Original().GetRaw(name), pair.want.Original().GetRaw(name); !equalValue(g, w) {
					t.Errorf("original %s.%s = %#v, want %#v", pair.want.Collection().Name, name, g, w)
				}
			}
		}
		// the password hash is loaded, not re-hashed, so the owner still signs in
		if !owner.ValidatePassword(pbtest.Password) {
			t.Fatal("owner's password hash was not loaded as stored")
		}
	}
	check(t)

	// a new field on users: the statement is prepared again and reads it
	users, err := env.App.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.Fields.Add(&core.TextField{Name: "nickname"})
	if err := env.App.Save(users); err != nil {
		t.Fatal(err)
	}
	alice, _ := env.App.FindRecordById("users", pbtest.AliceID)
	alice.Set("nickname", "al")
	if err := env.App.Save(alice); err != nil {
		t.Fatal(err)
	}
	check(t)
	if _, owner, _ := lookup.Find(pbtest.AliceKeyID); owner.GetString("nickname") != "al" {
		t.Fatalf("nickname = %q after the schema change", owner.GetString("nickname"))
	}

	if _, _, err := lookup.Find("zzzzzzzzzzzzzzz"); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("unknown id: %v, want sql.ErrNoRows", err)
	}
}

func equalValue(a, b any) bool {
	if ap, ok := a.(*core.PasswordFieldValue); ok {
		bp, ok := b.(*core.PasswordFieldValue)
		return ok && ap.Hash == bp.Hash && ap.Plain == bp.Plain
	}
	type stringer interface{ String() string }
	if as, ok := a.(stringer); ok {
		if bs, ok := b.(stringer); ok {
			return as.String() == bs.String()
		}
	}
	return a == b || (isSlice(a) && isSlice(b))
}

func isSlice(v any) bool {
	switch v.(type) {
	case []string, []any:
		return true
	}
	return false
}
