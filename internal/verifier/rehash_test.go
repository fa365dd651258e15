package verifier

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pbkeys/pbkeys/internal/apikey"
)

// storedRow stands in for the key row: RehashFunc's compare-and-set.
type storedRow struct {
	mu     sync.Mutex
	hash   string
	calls  int
	err    error
	stored chan string
}

func (r *storedRow) replace(id, oldHash, newHash string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.err != nil {
		return false, r.err
	}
	if id != testKeyID || r.hash != oldHash {
		return false, nil
	}
	r.hash = newHash
	r.stored <- newHash
	return true, nil
}

var upgradedParams = argon2id.Params{Memory: 2048, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newRehashEnv(t *testing.T, current argon2id.Params) (*verifierEnv, *storedRow) {
	row := &storedRow{stored: make(chan string, 10)}
	env := newVerifierEnv(t, func(c *verifierSetup) {
		c.params = current
		c.rehash.Save = row.replace
	})
	row.hash = env.hash // hashed with cheapParams
	return env, row
}

func TestRehashUpgradesAfterSuccessfulVerification(t *testing.T) {
	env, row := newRehashEnv(t, upgradedParams)
	if err := env.verify(t, testSecret, "c"); err != nil {
		t.Fatal(err)
	}
	var newHash string
	select {
	case newHash = <-row.stored:
	case <-time.After(5 * time.Second):
		t.Fatal("not re-hashed after a successful verification")
	}
	params, _, _, err := argon2id.DecodeHash(newHash)
	if err != nil || *params != upgradedParams {
		t.Fatalf("re-hashed with %+v (%v), want %+v", params, err, upgradedParams)
	}
	if ok, _ := argon2id.ComparePasswordAndHash(testSecret, newHash); !ok {
		t.Fatal("the new hash does not verify the secret")
	}

	// the next request reads the new hash: answered from the cache
	runs := env.runs.Load()
	if err := env.v.Verify(t.Context(), apikey.Key{ID: testKeyID, Secret: testSecret}, newHash, "c"); err != nil || env.runs.Load() != runs {
		t.Fatalf("with the new hash: %v, argon2id ran %d more times", err, env.runs.Load()-runs)
	}
	// up to date now: verifying it again (after the TTL) re-hashes nothing
	env.clock.advance(time.Hour)
	if err := env.v.Verify(t.Context(), apikey.Key{ID: testKeyID, Secret: testSecret}, newHash, "c"); err != nil {
		t.Fatal(err)
	}
	env.v.Close()
	if row.calls != 1 {
		t.Fatalf("%d re-hashes, want 1", row.calls)
	}
}

func TestRehashNeverWithoutASuccessfulVerification(t *testing.T) {
	for _, tc := range []struct {
		name    string
		current argon2id.Params
		secret  string
	}{
		{"wrong secret", upgradedParams, wrongSecret(1)},
		{"parameters unchanged", cheapParams, testSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, row := newRehashEnv(t, tc.current)
			env.verify(t, tc.secret, "c")
			env.v.Close() // waits for any re-hash
			if row.calls != 0 || row.hash != env.hash {
				t.Fatalf("re-hashed %d times", row.calls)
			}
		})
	}
}

// TestRehashLeavesAChangedRowAlone: the compare-and-set failed (the key
// was revoked or re-hashed meanwhile): nothing is cached for the new hash.
func TestRehashLeavesAChangedRowAlone(t *testing.T) {
	env, row := newRehashEnv(t, upgradedParams)
	row.hash = "revoked"
	if err := env.verify(t, testSecret, "c"); err != nil {
		t.Fatal(err)
	}
	env.v.Close()
	if row.calls != 1 || row.hash != "revoked" {
		t.Fatalf("calls %d, row %q", row.calls, row.hash)
	}
}

func TestRehashReportsErrorsWithoutTheSecret(t *testing.T) {
	var mu sync.Mutex
	var reported []string
	row := &storedRow{stored: make(chan string, 1), err: errors.New("database is locked")}
	env := newVerifierEnv(t, func(c *verifierSetup) {
		c.params = upgradedParams
		c.rehash.Save = row.replace
		c.rehash.OnError = func(keyID string, err error) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, keyID+": "+err.Error())
		}
	})
	if err := env.verify(t, testSecret, "c"); err != nil {
		t.Fatalf("a failing re-hash must not fail the request: %v", err)
	}
	env.v.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !strings.HasPrefix(reported[0], testKeyID) || strings.Contains(reported[0], testSecret) {
		t.Fatalf("reported %q", reported)
	}
}

func TestRehashStopsAtClose(t *testing.T) {
	env, row := newRehashEnv(t, upgradedParams)
	env.v.Close()
	if err := env.verify(t, testSecret, "c"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	row.mu.Lock()
	defer row.mu.Unlock()
	if row.calls != 0 {
		t.Fatal("re-hashed after Close")
	}
}
