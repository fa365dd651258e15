package hooks_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/internal/apikey"
)

func TestConfigFromEnvVerifierKnobs(t *testing.T) {
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
		hooks.EnvOwnerCollections:       " users, service_accounts ,",
		hooks.EnvPagesPath:              "/account/keys",
		hooks.EnvLeakReportKeys:         " /etc/pbkeys/secret_scanning.json ",
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
	// 0 in a variable means "off", which Config spells as a negative value.
	want := hooks.Config{
		OwnerCollections:       []string{"users", "service_accounts"},
		PagesPath:              "/account/keys",
		LeakReportKeys:         "/etc/pbkeys/secret_scanning.json",
		Argon2MemoryBudgetKiB:  131072,
		Argon2MaxWait:          -1,
		VerifyCacheSize:        -1,
		VerifyCacheTTL:         90 * time.Second,
		ThrottleWindow:         2 * time.Minute,
		ThrottleKeyFailures:    5,
		ThrottleClientFailures: -1,
		ThrottleDelay:          -1,
		ThrottleMaxDelayed:     64,
		ThrottleMaxTracked:     500,
		Argon2MaxQueued:        256,
		Argon2:                 argon2id.Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestConfigFromEnvRejectsNonsense(t *testing.T) {
	for name, value := range map[string]string{
		hooks.EnvArgon2MemoryBudgetKiB: "0",
		hooks.EnvVerifyCacheSize:       "-1",
		hooks.EnvThrottleWindow:        "soon",
		hooks.EnvThrottleKeyFailures:   "ten",
		hooks.EnvPagesPath:             "api-keys/",
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

// One argon2id variable changes one parameter; the others stay the defaults.
func TestConfigFromEnvArgon2Params(t *testing.T) {
	t.Setenv(hooks.EnvArgon2Iterations, "3")
	cfg, err := hooks.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := apikey.DefaultParams
	want.Iterations = 3
	if cfg.Argon2 != want {
		t.Fatalf("got %+v, want %+v", cfg.Argon2, want)
	}
}

func TestZeroConfigFromAnEmptyEnvironment(t *testing.T) {
	cfg, err := hooks.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, hooks.Config{}) {
		t.Fatalf("no PBKEYS_* variables gave %+v, want the zero Config (every default)", cfg)
	}
}
