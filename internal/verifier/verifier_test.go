package verifier

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pbkeys/pbkeys/internal/apikey"
)

var cheapParams = argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

const (
	testKeyID  = "k1alice00000001"
	testSecret = "4dONW9nY_twlMQ3O-ZFbGeE6yTNybcUolPYe121ICiI"
)

// verifierEnv is a Verifier on a fake clock with a counted argon2id.
type verifierEnv struct {
	v     *Verifier
	clock *fakeClock
	hash  string
	runs  atomic.Int64
	gate  chan struct{} // when non-nil, argon2id waits for it

	mu       sync.Mutex
	compared []string // secrets in the order argon2id ran them
}

// verifierSetup is what newVerifierEnv builds a Verifier from.
type verifierSetup struct {
	params argon2id.Params
	cfg    Config
	rehash Rehash
}

func newVerifierEnv(t *testing.T, configure ...func(*verifierSetup)) *verifierEnv {
	t.Helper()
	env := &verifierEnv{clock: newFakeClock()}
	setup := verifierSetup{params: cheapParams, cfg: Config{
		MemoryBudgetKiB:    4 * cheapParams.Memory,
		MaxKeyFailures:     3,
		YieldAfterFailures: 5,
		RefusalDelay:       -1, // answered at once: TestVerifierHoldsThrottledAttempts covers the hold
	}}
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return env.clock.now() }
	for _, f := range configure {
		f(&setup)
	}
	v, err := newVerifier(setup.params, setup.cfg, setup.rehash, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	v.compare = func(secret, hash string) (bool, error) {
		env.runs.Add(1)
		env.mu.Lock()
		env.compared = append(env.compared, secret)
		env.mu.Unlock()
		if env.gate != nil {
			<-env.gate
		}
		return argon2id.ComparePasswordAndHash(secret, hash)
	}
	env.v = v
	env.hash, err = apikey.Hash(testSecret, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func (env *verifierEnv) verify(t *testing.T, secret, client string) error {
	t.Helper()
	return env.v.Verify(t.Context(), apikey.Key{ID: testKeyID, Secret: secret}, env.hash, client)
}

func wrongSecret(i int) string { return fmt.Sprintf("wrong-%037d", i) }

func TestVerifierCachesSuccess(t *testing.T) {
	env := newVerifierEnv(t)
	for range 100 {
		if err := env.verify(t, testSecret, "c"); err != nil {
			t.Fatal(err)
		}
	}
	if n := env.runs.Load(); n != 1 {
		t.Fatalf("argon2id ran %d times for 100 requests, want 1", n)
	}
	if env.v.Argon2Runs() != 1 {
		t.Fatalf("Argon2Runs = %d", env.v.Argon2Runs())
	}

	// a wrong secret is never answered from the cache
	if err := env.verify(t, wrongSecret(0), "c"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong secret: %v", err)
	}
	// nor is the right secret against another stored hash (re-issued key)
	other, _ := apikey.Hash(testSecret+"x", cheapParams)
	if err := env.v.Verify(t.Context(), apikey.Key{ID: testKeyID, Secret: testSecret}, other, "c"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other hash: %v", err)
	}

	// after the TTL argon2id runs again
	env.clock.advance(defaults.CacheTTL)
	if err := env.verify(t, testSecret, "c"); err != nil || env.runs.Load() != 4 {
		t.Fatalf("after TTL: err=%v, runs=%d, want 4", err, env.runs.Load())
	}
}

func TestVerifierWithoutCacheHashesEveryTime(t *testing.T) {
	env := newVerifierEnv(t, func(c *verifierSetup) { c.cfg.CacheSize = -1 })
	for range 5 {
		if err := env.verify(t, testSecret, "c"); err != nil {
			t.Fatal(err)
		}
	}
	if n := env.runs.Load(); n != 5 {
		t.Fatalf("argon2id ran %d times, want 5", n)
	}
}

// TestVerifierStopsGuessersNotTheHolder: the throttle decisions, on a cold
// cache (right after a restart) as well as a warm one.
func TestVerifierStopsGuessersNotTheHolder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		warm       bool     // the holder verified before the attack
		attackers  []string // each sends wrong secrets for the key id until refused
		holderFrom string
		want       error // for the holder's correct secret
	}{
		{"cold holder, one attacker", false, []string{"attacker"}, "holder", nil},
		{"cold holder, 16 attacking addresses", false, addresses("attacker", 16), "holder", nil},
		{"warm holder, 16 attacking addresses", true, addresses("attacker", 16), "holder", nil},
		{"a fleet behind the attacker's address", false, []string{"nat"}, "nat", ErrThrottled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newVerifierEnv(t)
			if tc.warm {
				if err := env.verify(t, testSecret, tc.holderFrom); err != nil {
					t.Fatal(err)
				}
			}
			for _, a := range tc.attackers {
				for i := range 3 {
					if err := env.verify(t, wrongSecret(i), a); !errors.Is(err, ErrMismatch) {
						t.Fatalf("guess %d from %s: %v", i, a, err)
					}
				}
			}
			runs := env.runs.Load()
			for _, a := range tc.attackers {
				err := env.verify(t, wrongSecret(99), a)
				var retry *RetryError
				if !errors.Is(err, ErrThrottled) || !errors.As(err, &retry) || retry.After <= 0 || retry.After > time.Minute {
					t.Fatalf("guess past the limit from %s: %v", a, err)
				}
			}
			if env.runs.Load() != runs {
				t.Fatalf("refused guesses ran argon2id %d times", env.runs.Load()-runs)
			}
			if err := env.verify(t, testSecret, tc.holderFrom); !errors.Is(err, tc.want) {
				t.Fatalf("holder from %s: %v, want %v", tc.holderFrom, err, tc.want)
			}
		})
	}
}

func addresses(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprint(prefix, i))
	}
	return out
}

// TestVerifierCorrectKeyAmongFailingOnes: from one address, wrong secrets
// for other key ids, in flight and finished, never refuse a correct key.
func TestVerifierCorrectKeyAmongFailingOnes(t *testing.T) {
	env := newVerifierEnv(t, func(c *verifierSetup) { c.cfg.YieldAfterFailures = 2 })
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			key := apikey.Key{ID: fmt.Sprintf("k%014d", i), Secret: wrongSecret(i)}
			if err := env.v.Verify(t.Context(), key, env.hash, "nat"); err == nil {
				t.Error("a wrong secret verified")
			}
		})
	}
	if err := env.verify(t, testSecret, "nat"); err != nil {
		t.Fatalf("correct key while others fail from the same address: %v", err)
	}
	wg.Wait()
	if !env.v.failures.yielding("nat") {
		t.Fatal("the address should be past its failures")
	}
	// another key, never verified, from the address past its failures
	hash, _ := apikey.Hash(testSecret[:40]+"two", cheapParams)
	if err := env.v.Verify(t.Context(), apikey.Key{ID: "k2bob0000000001", Secret: testSecret[:40] + "two"}, hash, "nat"); err != nil {
		t.Fatalf("correct key from an address past its failures: %v", err)
	}
}

// TestVerifierHerdFromOneClient: many correct keys verifying at once from
// one address (a fleet behind NAT after a restart) all get in: runs in
// flight are not failures, and they wait their turn instead of being busy.
func TestVerifierHerdFromOneClient(t *testing.T) {
	env := newVerifierEnv(t, func(c *verifierSetup) { c.cfg.MemoryBudgetKiB = cheapParams.Memory })
	const n = 60
	hashes := make([]string, n)
	for i := range n {
		hashes[i], _ = apikey.Hash(fmt.Sprint(testSecret[:40], i), cheapParams)
	}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := apikey.Key{ID: fmt.Sprintf("k%014d", i), Secret: fmt.Sprint(testSecret[:40], i)}
			errs <- env.v.Verify(t.Context(), key, hashes[i], "ci-fleet")
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a key of the herd was refused: %v", err)
		}
	}
	if n := env.runs.Load(); n != 60 {
		t.Fatalf("argon2id ran %d times for 60 keys", n)
	}
}

// TestVerifierFloodDoesNotStarveTheHolder: with argon2id busy and 16
// addresses guessing the holder's key id on 8 connections each, the
// holder's verification waits for at most one turn per address; once the
// addresses have failed (and yield), it goes ahead of them.
func TestVerifierFloodDoesNotStarveTheHolder(t *testing.T) {
	for _, tc := range []struct {
		name         string
		yieldAfter   int
		failedBefore int // guesses each address made before the flood
		maxAhead     int // argon2id runs before the holder's
	}{
		{"fresh addresses: one turn each", 5, 0, 1 + 16},
		// and a fourth of the turns for the addresses that failed
		{"fresh addresses yielding after one failure", 1, 0, 1 + 16 + 16/3 + 1},
		{"addresses that failed wait behind the holder", 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newVerifierEnv(t, func(c *verifierSetup) {
				c.cfg.MemoryBudgetKiB = cheapParams.Memory // one run at a time
				c.cfg.YieldAfterFailures = tc.yieldAfter
			})
			attackers := addresses("attacker", 16)
			for _, a := range attackers {
				for i := range tc.failedBefore {
					env.verify(t, wrongSecret(1000+i), a)
				}
			}
			env.mu.Lock()
			env.compared = nil
			env.mu.Unlock()
			env.runs.Store(0)

			env.gate = make(chan struct{})
			var wg sync.WaitGroup
			for i, a := range attackers {
				for c := range 8 {
					wg.Go(func() { env.verify(t, wrongSecret(100*i+c), a) })
				}
			}
			// one runs (held at the gate), the rest wait
			waitFor(t, func() bool { _, n := env.v.queue.stats(); return env.runs.Load() == 1 && n == 16*8-1 })
			holder := make(chan error, 1)
			go func() { holder <- env.verify(t, testSecret, "holder") }()
			waitFor(t, func() bool { _, n := env.v.queue.stats(); return n == 16*8 })
			close(env.gate)
			if err := <-holder; err != nil {
				t.Fatalf("holder: %v", err)
			}
			wg.Wait()

			env.mu.Lock()
			defer env.mu.Unlock()
			if ahead := slices.Index(env.compared, testSecret); ahead < 0 || ahead > tc.maxAhead {
				t.Fatalf("the holder's argon2id ran after %d others, want at most %d", ahead, tc.maxAhead)
			}
			if n := len(env.compared) + tc.failedBefore*16; n > 16*3+1 {
				t.Fatalf("argon2id ran %d times: more than 3 guesses per address", n)
			}
		})
	}
}

func TestVerifierConcurrentGuessesStayWithinLimit(t *testing.T) {
	env := newVerifierEnv(t, func(c *verifierSetup) {
		c.cfg.MemoryBudgetKiB = 64 * cheapParams.Memory // room for all at once
	})
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { env.verify(t, wrongSecret(i), "c") })
	}
	wg.Wait()
	if n := env.runs.Load(); n != 3 {
		t.Fatalf("64 concurrent guesses ran argon2id %d times, limit 3 per window", n)
	}
}

func TestVerifierCoalescesIdenticalVerifications(t *testing.T) {
	env := newVerifierEnv(t)
	env.gate = make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	ctx, cancel := context.WithCancel(t.Context())
	wg.Go(func() { errs <- env.v.Verify(ctx, apikey.Key{ID: testKeyID, Secret: testSecret}, env.hash, "c") })
	waitFor(t, func() bool { return env.runs.Load() == 1 })
	for range 31 {
		wg.Go(func() { errs <- env.verify(t, testSecret, "c") })
	}
	cancel() // the first caller leaves: the others keep their answer
	close(env.gate)
	wg.Wait()
	close(errs)
	var canceled int
	for err := range errs {
		switch {
		case errors.Is(err, context.Canceled):
			canceled++
		case err != nil:
			t.Fatalf("a coalesced request failed: %v", err)
		}
	}
	if canceled > 1 {
		t.Fatalf("%d callers saw another's cancellation", canceled)
	}
	if n := env.runs.Load(); n != 1 {
		t.Fatalf("32 identical cold requests ran argon2id %d times, want 1", n)
	}
}

func TestVerifierBusyWhenNoTurnInTime(t *testing.T) {
	env := newVerifierEnv(t, func(c *verifierSetup) {
		c.cfg.MemoryBudgetKiB = cheapParams.Memory // one verification at a time
		c.cfg.MaxWait = 10 * time.Millisecond
		c.cfg.BusyRetryAfter = 2 * time.Second
	})
	env.gate = make(chan struct{})
	done := make(chan error)
	go func() { done <- env.verify(t, testSecret, "owner") }()
	waitFor(t, func() bool { return env.runs.Load() == 1 })

	err := env.verify(t, wrongSecret(0), "c")
	var retry *RetryError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &retry) || retry.After != 2*time.Second {
		t.Fatalf("while the budget is taken: %v", err)
	}
	close(env.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// the refused attempt did not count as a failure
	if w, ok := env.v.failures.pairs.Peek(failurePair{testKeyID, "c"}); ok && w.count != 0 {
		t.Fatalf("throttle count %d after a busy refusal, want 0", w.count)
	}
	if inUse, waiting := env.v.queue.stats(); inUse != 0 || waiting != 0 {
		t.Fatalf("limiter in use %d, waiting %d", inUse, waiting)
	}
}

func TestVerifierRefusesUnusableHashes(t *testing.T) {
	env := newVerifierEnv(t)
	huge := cheapParams
	huge.Memory = 64 * 1024 // more than this env's budget
	hugeHash, err := apikey.Hash(testSecret, huge)
	if err != nil {
		t.Fatal(err)
	}
	for name, hash := range map[string]string{
		"empty":          "",
		"not PHC":        "plaintext",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"over budget":    hugeHash,
		"argon2i":        "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"truncated PHC":  env.hash[:len(env.hash)-10] + "$",
		"bad parameters": "$argon2id$v=19$m=x,t=1,p=1$c2FsdA$aGFzaA",
		"no lanes":       "$argon2id$v=19$m=1024,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"no iterations":  "$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		err := env.v.Verify(t.Context(), apikey.Key{ID: testKeyID, Secret: testSecret}, hash, "c")
		if !errors.Is(err, ErrUnusableHash) && !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: %v, want ErrUnusableHash", name, err)
		}
	}
	if n := env.runs.Load(); n > 1 { // only the truncated one may reach argon2id
		t.Fatalf("unusable hashes ran argon2id %d times", n)
	}
}

func TestNewVerifierRejectsBadConfig(t *testing.T) {
	for name, f := range map[string]func(*verifierSetup){
		"no lanes":      func(c *verifierSetup) { c.params.Parallelism = 0 },
		"no key length": func(c *verifierSetup) { c.params.KeyLength = 0 },
		"params over budget": func(c *verifierSetup) {
			c.cfg.MemoryBudgetKiB = c.params.Memory - 1
		},
	} {
		setup := verifierSetup{params: apikey.DefaultParams}
		f(&setup)
		if _, err := New(setup.params, setup.cfg, setup.rehash); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestZeroVerifierConfigMeansDefaults(t *testing.T) {
	v, err := New(argon2id.Params{}, Config{}, Rehash{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if !reflect.DeepEqual(v.cfg, defaults) {
		t.Fatalf("zero config became %+v, want the defaults %+v", v.cfg, defaults)
	}
	off, err := New(argon2id.Params{}, Config{CacheSize: -1, MaxWait: -1, MaxKeyFailures: -1, YieldAfterFailures: -1, RefusalDelay: -1}, Rehash{})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if off.cache != nil || off.cfg.MaxWait != 0 || off.cfg.MaxKeyFailures != 0 || off.cfg.YieldAfterFailures != 0 || off.cfg.RefusalDelay != 0 {
		t.Fatalf("negative values did not turn the parts off: %+v", off.cfg)
	}
}

// The default budget follows the configured memory: two hashes at once,
// never less than the default.
func TestDefaultBudgetFollowsParams(t *testing.T) {
	for _, tc := range []struct {
		memory, want uint32
	}{
		{apikey.DefaultParams.Memory, 128 * 1024},
		{256 * 1024, 512 * 1024},
		{19 * 1024, 128 * 1024},
	} {
		p := apikey.DefaultParams
		p.Memory = tc.memory
		if got := (Config{}).WithDefaults(p).MemoryBudgetKiB; got != tc.want {
			t.Errorf("memory %d KiB: budget %d KiB, want %d", tc.memory, got, tc.want)
		}
	}
}

func TestVerifierHoldsThrottledAttempts(t *testing.T) {
	env := newVerifierEnv(t, func(c *verifierSetup) {
		c.cfg.RefusalDelay = 30 * time.Millisecond
		c.cfg.MaxDelayedRefusals = 1
	})
	for i := range 3 {
		env.verify(t, wrongSecret(i), "c")
	}
	start := time.Now()
	if err := env.verify(t, wrongSecret(9), "c"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("%v, want ErrThrottled", err)
	}
	if held := time.Since(start); held < 30*time.Millisecond {
		t.Fatalf("answered after %v, want it held for the delay", held)
	}

	// past MaxDelayed, refusals are answered at once
	env.v.tarpit.slots <- struct{}{} // someone else is held
	start = time.Now()
	if err := env.verify(t, wrongSecret(10), "c"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("%v, want ErrThrottled", err)
	}
	if held := time.Since(start); held >= 30*time.Millisecond {
		t.Fatalf("held %v although the tarpit was full", held)
	}
}
