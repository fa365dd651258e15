package hooks_test

import (
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// TestKeysAreRehashedWithTheCurrentParameters: the fixture keys are hashed
// with hookstest.TestArgon2; an app configured with other parameters upgrades
// a key's stored hash after its next successful verification, without an
// edit ("updated", record hooks), and the key keeps working. A wrong secret
// upgrades nothing.
func TestKeysAreRehashedWithTheCurrentParameters(t *testing.T) {
	current := hookstest.TestArgon2
	current.Memory, current.Iterations = 2048, 2
	env := hookstest.New(t, func(c *hooks.Config) { c.Tuning.Argon2 = current; c.Tuning.Verifier.RefusalDelay = -1 })
	t.Cleanup(env.App.Cleanup)
	h := inProcessMux(t, env)

	var updateHooks int
	env.App.OnRecordUpdate(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		updateHooks++
		return e.Next()
	})
	alice, bob := readKey(t, env.App, hookstest.AliceKeyID), readKey(t, env.App, hookstest.BobKeyID)

	expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+hookstest.BobKeyID+".wrongwrongwrongwrongwrongwrongwrongwrongwro", attackerIP), 401, "Bob's key, wrong secret")
	expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+hookstest.AliceKey, ownerIP), 200, "Alice's key")

	deadline := time.Now().Add(10 * time.Second)
	var upgraded *core.Record
	for {
		upgraded = readKey(t, env.App, hookstest.AliceKeyID)
		if upgraded.GetString(keystore.FieldKeyHash) != alice.GetString(keystore.FieldKeyHash) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Alice's key was not re-hashed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	params, _, _, err := argon2id.DecodeHash(upgraded.GetString(keystore.FieldKeyHash))
	if err != nil || *params != current {
		t.Fatalf("re-hashed with %+v (%v), want %+v", params, err, current)
	}
	if ok, _ := argon2id.ComparePasswordAndHash(hookstest.AliceKeySecret, upgraded.GetString(keystore.FieldKeyHash)); !ok {
		t.Fatal("the new hash does not verify Alice's secret")
	}
	if !upgraded.GetDateTime(keystore.FieldUpdated).Equal(alice.GetDateTime(keystore.FieldUpdated)) || updateHooks != 0 {
		t.Fatalf("re-hashing edited the record: updated %v → %v, %d update hooks",
			alice.GetDateTime(keystore.FieldUpdated), upgraded.GetDateTime(keystore.FieldUpdated), updateHooks)
	}
	expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+hookstest.AliceKey, ownerIP), 200, "Alice's key, re-hashed")

	if got := readKey(t, env.App, hookstest.BobKeyID).GetString(keystore.FieldKeyHash); got != bob.GetString(keystore.FieldKeyHash) {
		t.Fatal("a failed verification re-hashed Bob's key")
	}
}

func readKey(t *testing.T, app core.App, id string) *core.Record {
	t.Helper()
	r, err := app.FindRecordById(keystore.Collection, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
