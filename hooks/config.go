package hooks

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

// Config carries pbkeys' knobs. The zero value is not useful: start from
// DefaultConfig (or ConfigFromEnv) and change what you need.
type Config struct {
	// Argon2 are the argon2id parameters used to hash new secrets (Memory
	// in kibibytes). A key whose stored hash has other parameters is
	// re-hashed with these after its next successful verification, in the
	// background. Defaults to apikey.DefaultParams; tests lower them to run
	// faster.
	Argon2 argon2id.Params

	// LastUsedFlushInterval is how often pending "last used" times are
	// written: the first use of a key shows up within this time.
	LastUsedFlushInterval time.Duration

	// LastUsedMinInterval is the least time between two "last used" writes
	// for one key.
	LastUsedMinInterval time.Duration

	// Argon2MemoryBudgetKiB is how much argon2id memory, in kibibytes, key
	// verifications may use at once: with 64 MiB per verification the
	// default 128 MiB runs two at a time, so a flood of wrong secrets
	// cannot take more memory than this. It must be at least Argon2.Memory.
	Argon2MemoryBudgetKiB uint32

	// Argon2MaxWait is the longest a verification waits for its turn
	// before the request is answered 503 with Retry-After.
	Argon2MaxWait time.Duration

	// Argon2MaxQueued is how many verifications may wait for their turn at
	// once, in requests; past it, the newest of the client with the most
	// waiting is answered 503.
	Argon2MaxQueued int

	// VerifyCacheSize is how many successful verifications are remembered,
	// in entries (about 106 bytes each); 0 disables the cache and every
	// request pays argon2id.
	VerifyCacheSize int

	// VerifyCacheTTL is how long a remembered verification is accepted
	// before argon2id runs again. The key row is read on every request
	// regardless, so revocation never waits for this.
	VerifyCacheTTL time.Duration

	// ThrottleWindow is the length of a failure-throttling window.
	ThrottleWindow time.Duration

	// ThrottleKeyFailures is how many wrong secrets one client IP (IPv6
	// per /64) may send for one key id per ThrottleWindow before its
	// attempts on that key id get 429; 0 disables the limit.
	ThrottleKeyFailures int

	// ThrottleClientFailures is how many wrong secrets one client IP may
	// send per ThrottleWindow, over all key ids, before its verifications
	// wait behind other clients' (never refused for it); 0 disables it.
	ThrottleClientFailures int

	// ThrottleDelay is how long a refused (429) attempt is held before it
	// is answered, so that a client ignoring Retry-After gets one answer
	// per ThrottleDelay per connection; 0 answers at once.
	ThrottleDelay time.Duration

	// ThrottleMaxDelayed bounds how many refused attempts are held at
	// once, in requests; past it they are answered at once.
	ThrottleMaxDelayed int

	// ThrottleMaxTracked bounds how many (key id, client) pairs and,
	// separately, how many clients the throttle remembers, in entries
	// (least recently failing forgotten first).
	ThrottleMaxTracked int
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	v := apikey.DefaultVerifierConfig()
	return Config{
		Argon2:                 apikey.DefaultParams,
		LastUsedFlushInterval:  2 * time.Second,
		LastUsedMinInterval:    time.Minute,
		Argon2MemoryBudgetKiB:  v.MemoryBudgetKiB,
		Argon2MaxWait:          v.MaxWait,
		VerifyCacheSize:        v.CacheSize,
		VerifyCacheTTL:         v.CacheTTL,
		ThrottleWindow:         v.Throttle.Window,
		ThrottleKeyFailures:    v.Throttle.MaxKeyFailuresPerClient,
		ThrottleClientFailures: v.Throttle.YieldAfterClientFailures,
		ThrottleDelay:          v.Throttle.Delay,
		ThrottleMaxDelayed:     v.Throttle.MaxDelayed,
		ThrottleMaxTracked:     v.Throttle.MaxTracked,
		Argon2MaxQueued:        v.MaxQueued,
	}
}

// verifierConfig is the apikey.VerifierConfig that cfg describes.
func (cfg Config) verifierConfig() apikey.VerifierConfig {
	v := apikey.DefaultVerifierConfig()
	v.Params = cfg.Argon2
	v.MemoryBudgetKiB = cfg.Argon2MemoryBudgetKiB
	v.MaxWait = cfg.Argon2MaxWait
	v.MaxQueued = cfg.Argon2MaxQueued
	v.CacheSize = cfg.VerifyCacheSize
	v.CacheTTL = cfg.VerifyCacheTTL
	v.Throttle = apikey.ThrottleConfig{
		Window:                   cfg.ThrottleWindow,
		MaxKeyFailuresPerClient:  cfg.ThrottleKeyFailures,
		YieldAfterClientFailures: cfg.ThrottleClientFailures,
		Delay:                    cfg.ThrottleDelay,
		MaxDelayed:               cfg.ThrottleMaxDelayed,
		MaxTracked:               cfg.ThrottleMaxTracked,
	}
	return v
}

// Environment variables read by ConfigFromEnv. Durations are Go durations
// ("250ms", "2s", "1m"); the others are non-negative integers.
const (
	EnvLastUsedFlushInterval = "PBKEYS_LAST_USED_FLUSH" // Go duration, e.g. "2s"
	EnvLastUsedMinInterval   = "PBKEYS_LAST_USED_MIN_INTERVAL"

	EnvArgon2MemoryKiB        = "PBKEYS_ARGON2_MEMORY_KIB"        // kibibytes per new hash, e.g. 65536
	EnvArgon2Iterations       = "PBKEYS_ARGON2_ITERATIONS"        // passes per new hash
	EnvArgon2Parallelism      = "PBKEYS_ARGON2_PARALLELISM"       // lanes per new hash, 1-255
	EnvArgon2MemoryBudgetKiB  = "PBKEYS_ARGON2_MEMORY_BUDGET_KIB" // kibibytes, e.g. 262144
	EnvArgon2MaxWait          = "PBKEYS_ARGON2_MAX_WAIT"          // duration
	EnvArgon2MaxQueued        = "PBKEYS_ARGON2_MAX_QUEUED"        // requests
	EnvVerifyCacheSize        = "PBKEYS_VERIFY_CACHE_SIZE"        // entries; 0 disables
	EnvVerifyCacheTTL         = "PBKEYS_VERIFY_CACHE_TTL"         // duration
	EnvThrottleWindow         = "PBKEYS_THROTTLE_WINDOW"          // duration
	EnvThrottleKeyFailures    = "PBKEYS_THROTTLE_KEY_FAILURES"    // per window; 0 disables
	EnvThrottleClientFailures = "PBKEYS_THROTTLE_CLIENT_FAILURES" // per window; 0 disables
	EnvThrottleDelay          = "PBKEYS_THROTTLE_DELAY"           // duration; 0 answers at once
	EnvThrottleMaxDelayed     = "PBKEYS_THROTTLE_MAX_DELAYED"     // requests
	EnvThrottleMaxTracked     = "PBKEYS_THROTTLE_MAX_TRACKED"     // entries
)

// ConfigFromEnv returns DefaultConfig with the PBKEYS_* environment
// variables that are set applied on top.
func ConfigFromEnv() (Config, error) {
	cfg := DefaultConfig()
	for name, dst := range map[string]*time.Duration{
		EnvLastUsedFlushInterval: &cfg.LastUsedFlushInterval,
		EnvLastUsedMinInterval:   &cfg.LastUsedMinInterval,
		EnvVerifyCacheTTL:        &cfg.VerifyCacheTTL,
		EnvThrottleWindow:        &cfg.ThrottleWindow,
	} {
		if err := durationFromEnv(name, dst); err != nil {
			return cfg, err
		}
	}
	// these two may be 0: no waiting for argon2 memory, no holding of 429s
	for name, dst := range map[string]*time.Duration{
		EnvArgon2MaxWait: &cfg.Argon2MaxWait,
		EnvThrottleDelay: &cfg.ThrottleDelay,
	} {
		raw := os.Getenv(name)
		if raw == "0" {
			*dst = 0
		} else if err := durationFromEnv(name, dst); err != nil {
			return cfg, err
		}
	}
	for name, dst := range map[string]*int{
		EnvVerifyCacheSize:        &cfg.VerifyCacheSize,
		EnvThrottleKeyFailures:    &cfg.ThrottleKeyFailures,
		EnvThrottleClientFailures: &cfg.ThrottleClientFailures,
		EnvThrottleMaxDelayed:     &cfg.ThrottleMaxDelayed,
		EnvThrottleMaxTracked:     &cfg.ThrottleMaxTracked,
	} {
		if err := intFromEnv(name, dst, 0, math.MaxInt32); err != nil {
			return cfg, err
		}
	}
	if err := intFromEnv(EnvArgon2MaxQueued, &cfg.Argon2MaxQueued, 1, math.MaxInt32); err != nil {
		return cfg, err
	}

	// argon2id parameters for new hashes (argon2 needs 8 KiB per lane)
	memory, iterations, lanes := int(cfg.Argon2.Memory), int(cfg.Argon2.Iterations), int(cfg.Argon2.Parallelism)
	if err := intFromEnv(EnvArgon2Parallelism, &lanes, 1, math.MaxUint8); err != nil {
		return cfg, err
	}
	if err := intFromEnv(EnvArgon2MemoryKiB, &memory, 8*lanes, 4*1024*1024); err != nil {
		return cfg, err
	}
	if err := intFromEnv(EnvArgon2Iterations, &iterations, 1, 1000); err != nil {
		return cfg, err
	}
	cfg.Argon2.Memory, cfg.Argon2.Iterations, cfg.Argon2.Parallelism = uint32(memory), uint32(iterations), uint8(lanes)

	// The budget follows the configured memory: room for two hashes at once
	// unless set, and never less than the default, so that lowering the
	// memory still verifies (and then re-hashes) the keys hashed before.
	budget := max(int(cfg.Argon2MemoryBudgetKiB), 2*memory)
	if err := intFromEnv(EnvArgon2MemoryBudgetKiB, &budget, 1, math.MaxUint32); err != nil {
		return cfg, err
	}
	cfg.Argon2MemoryBudgetKiB = uint32(budget)
	return cfg, nil
}

func intFromEnv(name string, dst *int, least, most int) error {
	raw, ok := os.LookupEnv(name)
	if !ok || raw == "" {
		return nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < least || n > most {
		return fmt.Errorf("%s=%q: want an integer from %d to %d", name, raw, least, most)
	}
	*dst = n
	return nil
}

func durationFromEnv(name string, dst *time.Duration) error {
	raw, ok := os.LookupEnv(name)
	if !ok || raw == "" {
		return nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return fmt.Errorf("%s=%q: want a positive Go duration such as 2s or 1m", name, raw)
	}
	*dst = d
	return nil
}
