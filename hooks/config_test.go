package hooks_test

import (
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/hooks"
)

func TestConfigFromEnvVerifierKnobs(t *testing.T) {
	def := hooks.DefaultConfig()
	if def.Argon2MemoryBudgetKiB > 256*1024 || def.Argon2MemoryBudgetKiB < def.Argon2.Memory {
		t.Fatalf("default budget %d KiB: want one hash (%d KiB) to 256 MiB", def.Argon2MemoryBudgetKiB, def.Argon2.Memory)
	}

	for name, value := range map[string]string{
		hooks.EnvArgon2MemoryBudgetKiB:  "131072",
		hooks.EnvArgon2MaxWait:          "0",
		hooks.EnvVerifyCacheSize:        "0",
		hooks.EnvVerifyCacheTTL:         "90s",
		hooks.EnvThrottleWindow:         "2m",
		hooks.EnvThrottleKeyFailures:    "5",
		hooks.EnvThrottleClientFailures: "0",
		hooks.EnvThrottleDelay:          "0",
		hooks.EnvThrottleMaxDelayed:     "64",
		hooks.EnvThrottleMaxTracked:     "500",
		hooks.EnvArgon2MaxQueued:        "256",
		hooks.EnvArgon2MemoryKiB:        "19456",
		hooks.EnvArgon2Iterations:       "2",
		hooks.EnvArgon2Parallelism:      "1",
	} {
		t.Setenv(name, value)
	}
	cfg, err := hooks.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := def
	want.Argon2MemoryBudgetKiB = 131072
	want.Argon2MaxWait = 0
	want.VerifyCacheSize = 0
	want.VerifyCacheTTL = 90 * time.Second
	want.ThrottleWindow = 2 * time.Minute
	want.ThrottleKeyFailures = 5
	want.ThrottleClientFailures = 0
	want.ThrottleDelay = 0
	want.ThrottleMaxDelayed = 64
	want.ThrottleMaxTracked = 500
	want.Argon2MaxQueued = 256
	want.Argon2.Memory, want.Argon2.Iterations, want.Argon2.Parallelism = 19456, 2, 1
	if cfg != want {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

// TestConfigFromEnvBudgetFollowsMemory: unless the budget is set, it has
// room for two hashes of the configured memory, and never less than the
// default (so that keys hashed before a lowering still verify).
func TestConfigFromEnvBudgetFollowsMemory(t *testing.T) {
	def := hooks.DefaultConfig()
	for _, tc := range []struct {
		memory, budget string
		want           uint32
	}{
		{"", "", def.Argon2MemoryBudgetKiB},
		{"262144", "", 524288},
		{"19456", "", def.Argon2MemoryBudgetKiB},
		{"262144", "300000", 300000},
	} {
		t.Run(tc.memory+"/"+tc.budget, func(t *testing.T) {
			t.Setenv(hooks.EnvArgon2MemoryKiB, tc.memory)
			t.Setenv(hooks.EnvArgon2MemoryBudgetKiB, tc.budget)
			cfg, err := hooks.ConfigFromEnv()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Argon2MemoryBudgetKiB != tc.want {
				t.Fatalf("budget %d KiB, want %d", cfg.Argon2MemoryBudgetKiB, tc.want)
			}
		})
	}
}

func TestConfigFromEnvRejectsNonsense(t *testing.T) {
	for name, value := range map[string]string{
		hooks.EnvArgon2MemoryBudgetKiB: "0",
		hooks.EnvVerifyCacheSize:       "-1",
		hooks.EnvThrottleWindow:        "soon",
		hooks.EnvThrottleKeyFailures:   "ten",
		hooks.EnvArgon2MaxQueued:       "0",
		hooks.EnvArgon2Iterations:      "0",
		hooks.EnvArgon2Parallelism:     "256",
		hooks.EnvArgon2MemoryKiB:       "4",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := hooks.ConfigFromEnv(); err == nil {
				t.Fatalf("%s=%q accepted", name, value)
			}
		})
	}
}
