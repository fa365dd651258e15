package hooks

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
	"github.com/pbkeys/pbkeys/internal/verifier"
	"github.com/pbkeys/pbkeys/internal/web"
)

// Config configures pbkeys. The zero value is useful: every zero field
// means its default, applied by the part of pbkeys that uses it.
type Config struct {
	// OwnerCollections are the auth collections whose records may own
	// keys, by name. A key authenticates as its owner record. Zero: users.
	// _superusers is refused (a key never acts as a superuser), and so is a
	// collection that is not an auth collection, when the server starts.
	OwnerCollections []string

	// PagesPath is the URL prefix under which the pages live — the key
	// list, sign-in and sign-out, assets, everything — so the rest of the
	// URL space stays the app's. Zero: /api-keys.
	PagesPath string

	// NoPages leaves the pages out: keys are then managed over REST and
	// with the CLI only.
	NoPages bool

	// RedirectRoot makes "/" redirect to the pages. Off by default: "/"
	// belongs to the app (pbkeys' own binary turns it on when there is no
	// pb_public to serve).
	RedirectRoot bool

	// RootCmd, when set, gets the "apikeys" command (pass app.RootCmd of a
	// pocketbase.PocketBase).
	RootCmd *cobra.Command

	// LeakReportKeys is the path of a file holding the public keys GitHub
	// signs secret-scanning reports with (the document at
	// https://api.github.com/meta/public_keys/secret_scanning), read at
	// start and again whenever it changes. With it, POST
	// /api/api-keys/leaked accepts GitHub's reports of leaked keys and
	// revokes them. Zero: that endpoint answers 404.
	LeakReportKeys string

	// Tuning holds the performance knobs and limits; its zero value is the
	// defaults.
	Tuning Tuning
}

// Tuning holds the knobs of pbkeys' parts, each the part's own
// configuration; each type documents its fields and applies its defaults
// (docs/tuning.md has the environment variables).
type Tuning struct {
	// Argon2 are the argon2id parameters new secrets are hashed with
	// (Memory in kibibytes). A key whose stored hash has other parameters
	// is re-hashed with these after its next successful verification, in
	// the background, so raising the cost upgrades existing keys. Zero:
	// apikey.DefaultParams.
	Argon2 argon2id.Params

	// Verifier tunes verification: the cache of verified secrets, the
	// failure limits, the argon2id memory queue (internal/verifier).
	Verifier verifier.Config

	// Lookup tunes how a presented key's row and owner are found: how
	// many are kept in memory until the database changes
	// (internal/keystore).
	Lookup keystore.LookupConfig

	// Usage tunes how last use and daily counts are written
	// (internal/usage).
	Usage usage.Config

	// Pages tunes the pages' sign-in limits and form lifetime
	// (internal/web).
	Pages web.Tuning
}

// envVar is one PBKEYS_* variable and what ConfigFromEnv does with its
// value.
type envVar struct {
	name string
	set  func(cfg *Config, raw string) error
}

// envVars are the variables ConfigFromEnv reads, each with the field it
// sets. Durations are Go durations ("250ms", "2s", "1m"), sizes whole
// numbers. For the limits that can be switched off, 0 means off, as
// operators expect of a variable (stored as -1, Tuning's "off").
var envVars = []envVar{
	{"PBKEYS_OWNER_COLLECTIONS", func(c *Config, raw string) error { // comma-separated names
		for _, name := range strings.Split(raw, ",") {
			if name = strings.TrimSpace(name); name != "" {
				c.OwnerCollections = append(c.OwnerCollections, name)
			}
		}
		return nil
	}},
	{"PBKEYS_PAGES_PATH", func(c *Config, raw string) error { // a URL path such as /api-keys
		if !validPagesPath(raw) {
			return fmt.Errorf("want a URL path such as /api-keys (a leading /, no trailing /, no query)")
		}
		c.PagesPath = raw
		return nil
	}},
	{"PBKEYS_LEAK_REPORT_KEYS", func(c *Config, raw string) error { // a file path; Register reads it
		c.LeakReportKeys = strings.TrimSpace(raw)
		return nil
	}},
	{"PBKEYS_LAST_USED_FLUSH", duration(func(c *Config) *time.Duration { return &c.Tuning.Usage.FlushInterval }, false)},
	{"PBKEYS_LAST_USED_MIN_INTERVAL", duration(func(c *Config) *time.Duration { return &c.Tuning.Usage.MinWriteInterval }, false)},
	{"PBKEYS_ARGON2_MEMORY_BUDGET_KIB", whole(func(c *Config) *uint32 { return &c.Tuning.Verifier.MemoryBudgetKiB }, math.MaxUint32)},
	{"PBKEYS_ARGON2_MAX_WAIT", duration(func(c *Config) *time.Duration { return &c.Tuning.Verifier.MaxWait }, true)},
	{"PBKEYS_ARGON2_MAX_QUEUED", count(func(c *Config) *int { return &c.Tuning.Verifier.MaxQueued }, false)},
	{"PBKEYS_VERIFY_CACHE_SIZE", count(func(c *Config) *int { return &c.Tuning.Verifier.CacheSize }, true)},
	{"PBKEYS_LOOKUP_CACHE_SIZE", count(func(c *Config) *int { return &c.Tuning.Lookup.CacheSize }, true)},
	{"PBKEYS_VERIFY_CACHE_TTL", duration(func(c *Config) *time.Duration { return &c.Tuning.Verifier.CacheTTL }, false)},
	{"PBKEYS_THROTTLE_WINDOW", duration(func(c *Config) *time.Duration { return &c.Tuning.Verifier.FailureWindow }, false)},
	{"PBKEYS_THROTTLE_KEY_FAILURES", count(func(c *Config) *int { return &c.Tuning.Verifier.MaxKeyFailures }, true)},
	{"PBKEYS_THROTTLE_CLIENT_FAILURES", count(func(c *Config) *int { return &c.Tuning.Verifier.YieldAfterFailures }, true)},
	{"PBKEYS_THROTTLE_DELAY", duration(func(c *Config) *time.Duration { return &c.Tuning.Verifier.RefusalDelay }, true)},
	{"PBKEYS_THROTTLE_MAX_DELAYED", count(func(c *Config) *int { return &c.Tuning.Verifier.MaxDelayedRefusals }, false)},
	{"PBKEYS_THROTTLE_MAX_TRACKED", count(func(c *Config) *int { return &c.Tuning.Verifier.MaxTrackedFailures }, false)},
	// argon2id parameters for new hashes: any one set starts from the
	// defaults (argon2 needs 8 KiB of memory per lane, checked below).
	{"PBKEYS_ARGON2_PARALLELISM", argon2(func(p *argon2id.Params, n uint32) { p.Parallelism = uint8(n) }, math.MaxUint8)},
	{"PBKEYS_ARGON2_MEMORY_KIB", argon2(func(p *argon2id.Params, n uint32) { p.Memory = n }, 4*1024*1024)},
	{"PBKEYS_ARGON2_ITERATIONS", argon2(func(p *argon2id.Params, n uint32) { p.Iterations = n }, 1000)},
}

// ConfigFromEnv returns the Config the PBKEYS_* environment variables
// describe (envVars); unset variables leave their field zero (the
// default). A value that makes no sense is an error naming the variable.
func ConfigFromEnv() (Config, error) {
	var cfg Config
	for _, v := range envVars {
		raw, ok := os.LookupEnv(v.name)
		if !ok || strings.TrimSpace(raw) == "" {
			continue
		}
		if err := v.set(&cfg, raw); err != nil {
			return cfg, fmt.Errorf("%s=%q: %w", v.name, raw, err)
		}
	}
	if p := cfg.Tuning.Argon2; p.Memory != 0 && p.Memory < 8*uint32(p.Parallelism) {
		return cfg, fmt.Errorf("PBKEYS_ARGON2_MEMORY_KIB=%d: argon2id needs at least 8 KiB per lane, %d KiB here", p.Memory, 8*uint32(p.Parallelism))
	}
	return cfg, nil
}

// validPagesPath accepts "/x" and "/x/y": a leading slash, no trailing one,
// nothing a route pattern or a cookie path would read differently.
func validPagesPath(p string) bool {
	if len(p) < 2 || p[0] != '/' || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		return false
	}
	for _, r := range p {
		if !(r == '/' || r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// count reads a whole number from 1 (0 when mayBeOff, stored as -1, "off")
// to math.MaxInt32 into the field.
func count(field func(*Config) *int, mayBeOff bool) func(*Config, string) error {
	return func(c *Config, raw string) error {
		n, err := wholeNumber(raw, mayBeOff, math.MaxInt32)
		*field(c) = int(n)
		return err
	}
}

// whole reads a whole number from 1 to most into the field.
func whole(field func(*Config) *uint32, most uint64) func(*Config, string) error {
	return func(c *Config, raw string) error {
		n, err := wholeNumber(raw, false, most)
		*field(c) = uint32(n)
		return err
	}
}

// argon2 reads a whole number from 1 to most into one argon2id parameter;
// the others start from apikey.DefaultParams.
func argon2(set func(*argon2id.Params, uint32), most uint64) func(*Config, string) error {
	return func(c *Config, raw string) error {
		n, err := wholeNumber(raw, false, most)
		if err != nil {
			return err
		}
		if c.Tuning.Argon2 == (argon2id.Params{}) {
			c.Tuning.Argon2 = apikey.DefaultParams
		}
		set(&c.Tuning.Argon2, uint32(n))
		return nil
	}
}

// wholeNumber parses raw as an integer from 1 (0 when mayBeOff: returned
// as -1, "off") to most.
func wholeNumber(raw string, mayBeOff bool, most uint64) (int64, error) {
	least := int64(1)
	if mayBeOff {
		least = 0
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < least || uint64(n) > most {
		return 0, fmt.Errorf("want an integer from %d to %d", least, most)
	}
	if n == 0 {
		return -1, nil // off
	}
	return n, nil
}

// duration reads a positive Go duration ("0" too when mayBeOff, stored as
// -1, "off") into the field.
func duration(field func(*Config) *time.Duration, mayBeOff bool) func(*Config, string) error {
	return func(c *Config, raw string) error {
		if mayBeOff && raw == "0" {
			*field(c) = -1
			return nil
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive Go duration such as 2s or 1m")
		}
		*field(c) = d
		return nil
	}
}
