package hooks_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/usage"
	"github.com/pbkeys/pbkeys/internal/verifier"
)

func TestConfigFromEnvVerifierKnobs(t *testing.T) {
	for name, value := range map[string]string{
		"PBKEYS_ARGON2_MEMORY_BUDGET_KIB": "131072",
		"PBKEYS_ARGON2_MAX_WAIT":          "0",
		"PBKEYS_VERIFY_CACHE_SIZE":        "0",
		"PBKEYS_VERIFY_CACHE_TTL":         "90s",
		"PBKEYS_THROTTLE_WINDOW":          "2m",
		"PBKEYS_THROTTLE_KEY_FAILURES":    "5",
		"PBKEYS_THROTTLE_CLIENT_FAILURES": "0",
		"PBKEYS_THROTTLE_DELAY":           "0",
		"PBKEYS_THROTTLE_MAX_DELAYED":     "64",
		"PBKEYS_THROTTLE_MAX_TRACKED":     "500",
		"PBKEYS_OWNER_COLLECTIONS":        " users, service_accounts ,",
		"PBKEYS_PAGES_PATH":               "/account/keys",
		"PBKEYS_LEAK_REPORT_KEYS":         " /etc/pbkeys/secret_scanning.json ",
		"PBKEYS_ARGON2_MAX_QUEUED":        "256",
		"PBKEYS_ARGON2_MEMORY_KIB":        "19456",
		"PBKEYS_ARGON2_ITERATIONS":        "2",
		"PBKEYS_ARGON2_PARALLELISM":       "1",
		"PBKEYS_LAST_USED_FLUSH":          "3s",
		"PBKEYS_LAST_USED_MIN_INTERVAL":   "5m",
	} {
		t.Setenv(name, value)
	}
	cfg, err := hooks.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	// 0 in a variable means "off", which Config spells as a negative value.
	want := hooks.Config{
		OwnerCollections: []string{"users", "service_accounts"},
		PagesPath:        "/account/keys",
		LeakReportKeys:   "/etc/pbkeys/secret_scanning.json",
		Tuning: hooks.Tuning{
			Argon2: argon2id.Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32},
			Verifier: verifier.Config{
				MemoryBudgetKiB:    131072,
				MaxWait:            -1,
				CacheSize:          -1,
				CacheTTL:           90 * time.Second,
				FailureWindow:      2 * time.Minute,
				MaxKeyFailures:     5,
				YieldAfterFailures: -1,
				RefusalDelay:       -1,
				MaxDelayedRefusals: 64,
				MaxTrackedFailures: 500,
				MaxQueued:          256,
			},
			Usage: usage.Config{FlushInterval: 3 * time.Second, MinWriteInterval: 5 * time.Minute},
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestConfigFromEnvRejectsNonsense(t *testing.T) {
	for name, value := range map[string]string{
		"PBKEYS_ARGON2_MEMORY_BUDGET_KIB": "0",
		"PBKEYS_VERIFY_CACHE_SIZE":        "-1",
		"PBKEYS_THROTTLE_WINDOW":          "soon",
		"PBKEYS_THROTTLE_KEY_FAILURES":    "ten",
		"PBKEYS_PAGES_PATH":               "api-keys/",
		"PBKEYS_ARGON2_MAX_QUEUED":        "0",
		"PBKEYS_ARGON2_ITERATIONS":        "0",
		"PBKEYS_ARGON2_PARALLELISM":       "256",
		"PBKEYS_ARGON2_MEMORY_KIB":        "4",
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
	t.Setenv("PBKEYS_ARGON2_ITERATIONS", "3")
	cfg, err := hooks.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := apikey.DefaultParams
	want.Iterations = 3
	if cfg.Tuning.Argon2 != want {
		t.Fatalf("got %+v, want %+v", cfg.Tuning.Argon2, want)
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

// Every variable of the table is one PBKEYS_* name, each read once: a
// misspelt or repeated name would silently leave a field at its default.
func TestEnvironmentVariablesAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range hooks.EnvVarNames() {
		if !strings.HasPrefix(name, "PBKEYS_") || seen[name] {
			t.Errorf("variable %q", name)
		}
		seen[name] = true
	}
	if len(seen) != 20 {
		t.Errorf("%d variables, want 20", len(seen))
	}
}
