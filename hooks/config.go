package hooks

import (
	"fmt"
	"os"
	"time"

	"github.com/alexedwards/argon2id"

	"pbkeys/internal/apikey"
)

// Config carries pbkeys' knobs. The zero value is not useful: start from
// DefaultConfig (or ConfigFromEnv) and change what you need.
type Config struct {
	// Argon2 are the argon2id parameters used to hash new secrets.
	// Memory is in kibibytes. Production keeps apikey.DefaultParams;
	// tests may lower them to run faster.
	Argon2 argon2id.Params

	// LastUsedFlushInterval is how often pending "last used" times are
	// written: the first use of a key shows up within this time.
	LastUsedFlushInterval time.Duration

	// LastUsedMinInterval is the least time between two "last used" writes
	// for one key.
	LastUsedMinInterval time.Duration
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		Argon2:                apikey.DefaultParams,
		LastUsedFlushInterval: 2 * time.Second,
		LastUsedMinInterval:   time.Minute,
	}
}

// Environment variables read by ConfigFromEnv.
const (
	EnvLastUsedFlushInterval = "PBKEYS_LAST_USED_FLUSH" // Go duration, e.g. "2s"
	EnvLastUsedMinInterval   = "PBKEYS_LAST_USED_MIN_INTERVAL"
)

// ConfigFromEnv returns DefaultConfig with the PBKEYS_* environment
// variables that are set applied on top.
func ConfigFromEnv() (Config, error) {
	cfg := DefaultConfig()
	for name, dst := range map[string]*time.Duration{
		EnvLastUsedFlushInterval: &cfg.LastUsedFlushInterval,
		EnvLastUsedMinInterval:   &cfg.LastUsedMinInterval,
	} {
		if err := durationFromEnv(name, dst); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
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
