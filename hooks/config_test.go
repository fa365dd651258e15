package hooks_test

import (
	"testing"
	"time"

	"pbkeys/hooks"
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
	if cfg != want {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestConfigFromEnvRejectsNonsense(t *testing.T) {
	for name, value := range map[string]string{
		hooks.EnvArgon2MemoryBudgetKiB: "0",
		hooks.EnvVerifyCacheSize:       "-1",
		hooks.EnvThrottleWindow:        "soon",
		hooks.EnvThrottleKeyFailures:   "ten",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := hooks.ConfigFromEnv(); err == nil {
				t.Fatalf("%s=%q accepted", name, value)
			}
		})
	}
}
