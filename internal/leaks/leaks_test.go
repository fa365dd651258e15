package leaks_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/leaks"
	"github.com/pbkeys/pbkeys/internal/ownermail"
	"github.com/pbkeys/pbkeys/internal/verifier"
)

// A key reported twice at the same moment is revoked once and its owner
// gets one mail; both reports learn it was a real key.
func TestRevokeLeakedTwiceAtOnce(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	revoker := newRevoker(t, env)
	for round := 0; round < 5; round++ {
		_, key, err := env.Store.Issue(env.Alice(t), keystore.Options{Label: "twice"}, keystore.Origin{})
		if err != nil {
			t.Fatal(err)
		}
		env.Store.WaitNotifications()
		mails := env.App.TestMailer.TotalSend()

		var wg sync.WaitGroup
		results := make([]leaks.Result, 2)
		for i := range results {
			wg.Go(func() {
				res, err := revoker.Revoke(t.Context(), key.String(), leaks.Leak{URL: "https://example.com"}, "192.0.2.1")
				if err != nil {
					t.Error(err)
				}
				results[i] = res
			})
		}
		wg.Wait()
		env.Store.WaitNotifications()

		revoked := 0
		for _, r := range results {
			if !r.TruePositive() || r.KeyID != key.ID {
				t.Fatalf("round %d: result %+v, want a true positive for %s", round, r, key.ID)
			}
			if r.Outcome == leaks.Revoked {
				revoked++
			}
		}
		if revoked != 1 {
			t.Fatalf("round %d: revoked %d times, want once", round, revoked)
		}
		if n := env.App.TestMailer.TotalSend() - mails; n != 1 {
			t.Fatalf("round %d: %d mails, want 1", round, n)
		}
	}
}

// Nothing happens for tokens that are not live keys, whatever they are.
func TestRevokeLeakedLeavesOtherTokens(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	revoker := newRevoker(t, env)
	wrong, _ := apikey.NewSecret(hookstest.AliceKeyID)
	for _, token := range []string{
		"", "garbage", hookstest.AliceKeyID + "." + wrong, hookstest.AliceKey + "x",
		hookstest.AliceKeyID + "." + hookstest.BobKeySecret,
	} {
		res, err := revoker.Revoke(t.Context(), token, leaks.Leak{}, "192.0.2.1")
		if err != nil || res.Outcome != leaks.NotAKey || res.TruePositive() {
			t.Errorf("%q: %+v, %v; want not a key", token, res, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := env.Store.Find(hookstest.AliceKeyID); err != nil || env.App.TestMailer.TotalSend() != 0 {
		t.Fatal("a token that is not the key changed something")
	}
}

// newRevoker is a Revoker on env, with the verifier and the owner mails
// Register would give it.
func newRevoker(t *testing.T, env *hookstest.Env) *leaks.Revoker {
	t.Helper()
	v, err := verifier.New(hookstest.TestArgon2, verifier.Config{}, verifier.Rehash{})
	if err != nil {
		t.Fatal(err)
	}
	return leaks.New(env.App, env.Store, v, ownermail.Of(env.App))
}
