package keystore_test

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// TestReplaceHashIsACompareAndSet: the stored hash changes only from the
// hash the verifier read, without an edit of the record.
func TestReplaceHashIsACompareAndSet(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	var updateHooks int
	env.App.OnRecordUpdate(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		updateHooks++
		return e.Next()
	})
	before, err := env.Store.Find(hookstest.AliceKeyID)
	if err != nil {
		t.Fatal(err)
	}
	old := before.GetString(keystore.FieldKeyHash)

	for _, tc := range []struct {
		name         string
		id, from, to string
		stored       bool
		want         string // the stored hash afterwards
	}{
		{"another hash was read (re-hashed or rolled meanwhile)", hookstest.AliceKeyID, "$argon2id$other", "$argon2id$new", false, old},
		{"the hash that was read", hookstest.AliceKeyID, old, "$argon2id$new", true, "$argon2id$new"},
		{"again from the old hash", hookstest.AliceKeyID, old, "$argon2id$newer", false, "$argon2id$new"},
		{"a revoked key", "zzzzzzzzzzzzzzz", old, "$argon2id$new", false, ""},
	} {
		stored, err := env.Store.ReplaceHash(tc.id, tc.from, tc.to)
		if err != nil || stored != tc.stored {
			t.Fatalf("%s: stored=%v, err=%v; want %v", tc.name, stored, err, tc.stored)
		}
		if tc.want == "" {
			continue
		}
		after, err := env.Store.Find(tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if got := after.GetString(keystore.FieldKeyHash); got != tc.want {
			t.Fatalf("%s: hash %q, want %q", tc.name, got, tc.want)
		}
		if !after.GetDateTime(keystore.FieldUpdated).Equal(before.GetDateTime(keystore.FieldUpdated)) {
			t.Fatalf("%s: updated changed", tc.name)
		}
	}
	if updateHooks != 0 {
		t.Fatalf("%d record update hooks ran: re-hashing is not an edit", updateHooks)
	}
}
