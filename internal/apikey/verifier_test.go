package apikey

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
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
}

func newVerifierEnv(t *testing.T, configure ...func(*VerifierConfig)) *verifierEnv {
	t.Helper()
	env := &verifierEnv{clock: newFakeClock()}
	cfg := DefaultVerifierConfig()
	cfg.Params = cheapParams
	cfg.MemoryBudgetKiB = 4 * cheapParams.Memory
	cfg.Throttle.MaxFailuresPerKey = 3
	cfg.Throttle.MaxFailuresPerClient = 5
	cfg.Throttle.Delay = -1 // answered at once: TestVerifierHoldsThrottledAttempts covers the hold
	var mu sync.Mutex
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return env.clock.now() }
	for _, f := range configure {
		f(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v.compare = func(secret, hash string) (bool, error) {
		env.runs.Add(1)
		if env.gate != nil {
			<-env.gate
		}
		return argon2id.ComparePasswordAndHash(secret, hash)
	}
	env.v = v
	env.hash, err = Hash(testSecret, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func (env *verifierEnv) verify(t *testing.T, secret, client string) error {
	t.Helper()
	return env.v.Verify(t.Context(), Key{ID: testKeyID, Secret: secret}, env.hash, client)
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
	other, _ := Hash(testSecret+"x", cheapParams)
	if err := env.v.Verify(t.Context(), Key{ID: testKeyID, Secret: testSecret}, other, "c"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other hash: %v", err)
	}

	// after the TTL argon2id runs again
	env.clock.advance(DefaultVerifierConfig().CacheTTL)
	if err := env.verify(t, testSecret, "c"); err != nil || env.runs.Load() != 4 {
		t.Fatalf("after TTL: err=%v, runs=%d, want 4", err, env.runs.Load())
	}
}

func TestVerifierWithoutCacheHashesEveryTime(t *testing.T) {
	env := newVerifierEnv(t, func(c *VerifierConfig) { c.CacheSize = -1 })
	for range 5 {
		if err := env.verify(t, testSecret, "c"); err != nil {
			t.Fatal(err)
		}
	}
	if n := env.runs.Load(); n != 5 {
		t.Fatalf("argon2id ran %d times, want 5", n)
	}
}

func TestVerifierThrottlesWithoutArgon2(t *testing.T) {
	env := newVerifierEnv(t)
	if err := env.verify(t, testSecret, "owner"); err != nil { // the owner, earlier
		t.Fatal(err)
	}
	for i := range 3 {
		if err := env.verify(t, wrongSecret(i), fmt.Sprintf("attacker%d", i)); !errors.Is(err, ErrMismatch) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	runs := env.runs.Load()
	for i := range 50 {
		err := env.verify(t, wrongSecret(100+i), "elsewhere")
		var retry *RetryError
		if !errors.Is(err, ErrThrottled) || !errors.As(err, &retry) || retry.After <= 0 || retry.After > time.Minute {
			t.Fatalf("guess after the limit: %v", err)
		}
	}
	if env.runs.Load() != runs {
		t.Fatalf("throttled guesses ran argon2id %d times", env.runs.Load()-runs)
	}

	// the owner's cached key keeps working while the id is throttled ...
	if err := env.verify(t, testSecret, "owner"); err != nil {
		t.Fatalf("owner while throttled: %v", err)
	}
	// ... also after the TTL, when argon2id runs again for it
	env.clock.advance(DefaultVerifierConfig().CacheTTL - time.Second)
	if err := env.verify(t, wrongSecret(999), "elsewhere"); !errors.Is(err, ErrMismatch) {
		// (the first window ended: a new one started; refill it)
		t.Fatalf("new window: %v", err)
	}
	for i := range 3 {
		env.verify(t, wrongSecret(1000+i), "elsewhere")
	}
	if err := env.verify(t, wrongSecret(2000), "x"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("id should be throttled again: %v", err)
	}
	env.clock.advance(time.Second)
	before := env.runs.Load()
	if err := env.verify(t, testSecret, "owner"); err != nil || env.runs.Load() != before+1 {
		t.Fatalf("owner after TTL while throttled: err=%v, argon2id runs %d", err, env.runs.Load()-before)
	}

	// a client that never held the secret gets no such pass
	fresh := newVerifierEnv(t)
	for i := range 3 {
		fresh.verify(t, wrongSecret(i), "a")
	}
	if err := fresh.verify(t, testSecret, "b"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("cold correct key on a throttled id: %v (documented: 429 until the window ends)", err)
	}
}

func TestVerifierConcurrentGuessesStayWithinLimit(t *testing.T) {
	env := newVerifierEnv(t, func(c *VerifierConfig) {
		c.MemoryBudgetKiB = 64 * cheapParams.Memory
		c.Throttle.MaxFailuresPerClient = -1
	})
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { env.verify(t, wrongSecret(i), "c") })
	}
	wg.Wait()
	if n := env.runs.Load(); n > 3 {
		t.Fatalf("64 concurrent guesses ran argon2id %d times, limit 3 per window", n)
	}
}

func TestVerifierCoalescesIdenticalVerifications(t *testing.T) {
	env := newVerifierEnv(t, func(c *VerifierConfig) { c.MaxWait = time.Millisecond })
	env.gate = make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() { errs <- env.verify(t, testSecret, "c") })
	}
	waitFor(t, func() bool { return env.runs.Load() == 1 })
	close(env.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a coalesced request failed: %v", err)
		}
	}
	if n := env.runs.Load(); n != 1 {
		t.Fatalf("32 identical cold requests ran argon2id %d times, want 1", n)
	}
}

func TestVerifierBusyWhenBudgetIsTaken(t *testing.T) {
	env := newVerifierEnv(t, func(c *VerifierConfig) {
		c.MemoryBudgetKiB = cheapParams.Memory // one verification at a time
		c.MaxWait = 10 * time.Millisecond
		c.BusyRetryAfter = 2 * time.Second
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
	if w, _ := env.v.throttle.keys.get(testKeyID); w.count != 0 {
		t.Fatalf("throttle count %d after a busy refusal, want 0", w.count)
	}
	if inUse, waiting := env.v.limiter.stats(); inUse != 0 || waiting != 0 {
		t.Fatalf("limiter in use %d, waiting %d", inUse, waiting)
	}
}

func TestVerifierRefusesUnusableHashes(t *testing.T) {
	env := newVerifierEnv(t)
	huge := cheapParams
	huge.Memory = 64 * 1024 // more than this env's budget
	hugeHash, err := Hash(testSecret, huge)
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
	} {
		err := env.v.Verify(t.Context(), Key{ID: testKeyID, Secret: testSecret}, hash, "c")
		if !errors.Is(err, ErrUnusableHash) && !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: %v, want ErrUnusableHash", name, err)
		}
	}
	if n := env.runs.Load(); n > 1 { // only the truncated one may reach argon2id
		t.Fatalf("unusable hashes ran argon2id %d times", n)
	}
}

func TestZeroVerifierConfigMeansDefaults(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultVerifierConfig()
	got := v.cfg
	got.Now = nil
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("zero config became %+v, want the defaults %+v", got, d)
	}
	off, err := NewVerifier(VerifierConfig{CacheSize: -1, MaxWait: -1, Throttle: ThrottleConfig{MaxFailuresPerKey: -1, Delay: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if off.cache != nil || off.cfg.MaxWait != 0 || off.cfg.Throttle.MaxFailuresPerKey != 0 || off.cfg.Throttle.Delay != 0 {
		t.Fatalf("negative values did not turn the parts off: %+v", off.cfg)
	}
}

func TestVerifierHoldsThrottledAttempts(t *testing.T) {
	env := newVerifierEnv(t, func(c *VerifierConfig) {
		c.Throttle.Delay = 30 * time.Millisecond
		c.Throttle.MaxDelayed = 1
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
