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
)

// Config configures pbkeys. The zero value is useful: every zero field
// means its default, filled in by the part of pbkeys that uses it, and the
// fields that say so take a negative value for "off".
type Config struct {
	// OwnerCollections are the auth collections whose records may own
	// keys, by name. A key authenticates as its owner record. Zero: users.
	// _superusers is refused: a key never acts as a superuser.
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

	// Argon2 are the argon2id parameters new secrets are hashed with (Memory
	// in kibibytes). A key whose stored hash has other parameters is
	// re-hashed with these after its next successful verification, in the
	// background, so raising the cost upgrades existing keys. Zero: 64 MiB,
	// 1 iteration, 2 lanes (alexedwards/argon2id's defaults).
	Argon2 argon2id.Params

	// Argon2MemoryBudgetKiB is how much argon2id memory, in kibibytes, key
	// verifications (and re-hashes) may use at once, so that a flood of
	// wrong secrets cannot take more. Zero: room for two hashes with
	// Argon2, at least 131072 (two 64 MiB verifications).
	Argon2MemoryBudgetKiB uint32

	// Argon2MaxWait is the longest a verification waits for its turn
	// before the request is answered 503 with Retry-After. Turns go round
	// the clients waiting, so only a client's own herd or a crowd of
	// clients waits long. Zero: 20s; negative: no waiting.
	Argon2MaxWait time.Duration

	// Argon2MaxQueued is how many verifications may wait for their turn at
	// once, in requests; past it, the newest of the client with the most
	// waiting is answered 503. Zero: 1024.
	Argon2MaxQueued int

	// VerifyCacheSize is how many successful verifications are remembered,
	// in entries (about 106 bytes each). Zero: 1,000,000; negative: no
	// cache (every request pays argon2id).
	VerifyCacheSize int

	// VerifyCacheTTL is how long a remembered verification is accepted
	// before argon2id runs again. The key row is read on every request
	// regardless, so revocation never waits for this. Zero: 10m.
	VerifyCacheTTL time.Duration

	// ThrottleWindow is the length of a failure-throttling window. Zero: 1m.
	ThrottleWindow time.Duration

	// ThrottleKeyFailures is how many wrong secrets one client IP (IPv6
	// per /64) may send for one key id per window before its attempts on
	// that key id get 429. Per (key id, client), so that guessers are
	// stopped and the holder is not. Zero: 10; negative: no limit.
	ThrottleKeyFailures int

	// ThrottleClientFailures is how many wrong secrets one client IP may
	// send per window, over all key ids, before its verifications wait
	// behind other clients' (they are never refused for it). Zero: 1;
	// negative: never.
	ThrottleClientFailures int

	// ThrottleDelay is how long a refused (429) attempt is held before it
	// is answered, so that a client ignoring Retry-After gets one answer
	// per delay per connection. Zero: 1s; negative: answered at once.
	ThrottleDelay time.Duration

	// ThrottleMaxDelayed bounds how many refused attempts are held at
	// once, in requests; past it they are answered at once. Zero: 1024.
	ThrottleMaxDelayed int

	// ThrottleMaxTracked bounds how many (key id, client) pairs and,
	// separately, how many clients the throttle remembers, in entries
	// (least recently failing forgotten first). Zero: 10,000.
	ThrottleMaxTracked int

	// LastUsedFlushInterval is how often pending usage (last use, its
	// client address and user agent, requests per day) is written: the
	// first use of a key shows up within this time. Zero: 2s.
	LastUsedFlushInterval time.Duration

	// LastUsedMinInterval is the least time between two usage writes for
	// one key. Zero: 1m.
	LastUsedMinInterval time.Duration

	// LeakReportKeys is the path of a file holding the public keys GitHub
	// signs secret-scanning reports with (the document at
	// https://api.github.com/meta/public_keys/secret_scanning), read at
	// start and again whenever it changes. With it, POST
	// /api/api-keys/leaked accepts GitHub's reports of leaked keys and
	// revokes them. Zero: that endpoint answers 404.
	LeakReportKeys string
}

// Environment variables read by ConfigFromEnv. Durations are Go durations
// ("250ms", "2s", "1m"); the others are integers. For the limits that can
// be switched off, 0 means off, as operators expect of a variable.
const (
	EnvOwnerCollections = "PBKEYS_OWNER_COLLECTIONS" // comma-separated collection names
	EnvPagesPath        = "PBKEYS_PAGES_PATH"        // URL path, e.g. /api-keys
	EnvLeakReportKeys   = "PBKEYS_LEAK_REPORT_KEYS"  // file path, e.g. /etc/pbkeys/github-secret-scanning-keys.json

	EnvLastUsedFlushInterval = "PBKEYS_LAST_USED_FLUSH" // duration
	EnvLastUsedMinInterval   = "PBKEYS_LAST_USED_MIN_INTERVAL"

	EnvArgon2MemoryKiB        = "PBKEYS_ARGON2_MEMORY_KIB"        // kibibytes per new hash, e.g. 65536
	EnvArgon2Iterations       = "PBKEYS_ARGON2_ITERATIONS"        // passes per new hash
	EnvArgon2Parallelism      = "PBKEYS_ARGON2_PARALLELISM"       // lanes per new hash, 1-255
	EnvArgon2MemoryBudgetKiB  = "PBKEYS_ARGON2_MEMORY_BUDGET_KIB" // kibibytes, e.g. 262144
	EnvArgon2MaxWait          = "PBKEYS_ARGON2_MAX_WAIT"          // duration; 0: no waiting
	EnvArgon2MaxQueued        = "PBKEYS_ARGON2_MAX_QUEUED"        // requests
	EnvVerifyCacheSize        = "PBKEYS_VERIFY_CACHE_SIZE"        // entries; 0: no cache
	EnvVerifyCacheTTL         = "PBKEYS_VERIFY_CACHE_TTL"         // duration
	EnvThrottleWindow         = "PBKEYS_THROTTLE_WINDOW"          // duration
	EnvThrottleKeyFailures    = "PBKEYS_THROTTLE_KEY_FAILURES"    // per window; 0: no limit
	EnvThrottleClientFailures = "PBKEYS_THROTTLE_CLIENT_FAILURES" // per window; 0: never yield
	EnvThrottleDelay          = "PBKEYS_THROTTLE_DELAY"           // duration; 0: answered at once
	EnvThrottleMaxDelayed     = "PBKEYS_THROTTLE_MAX_DELAYED"     // requests
	EnvThrottleMaxTracked     = "PBKEYS_THROTTLE_MAX_TRACKED"     // entries
)

// ConfigFromEnv returns the Config the PBKEYS_* environment variables
// describe; unset variables leave their field zero (the default). A value
// that makes no sense is an error naming the variable.
func ConfigFromEnv() (Config, error) {
	var cfg Config
	if raw := strings.TrimSpace(os.Getenv(EnvOwnerCollections)); raw != "" {
		for _, name := range strings.Split(raw, ",") {
			if name = strings.TrimSpace(name); name != "" {
				cfg.OwnerCollections = append(cfg.OwnerCollections, name)
			}
		}
	}
	if raw := os.Getenv(EnvPagesPath); raw != "" {
		if !validPagesPath(raw) {
			return cfg, fmt.Errorf("%s=%q: want a URL path such as /api-keys (a leading /, no trailing /, no query)", EnvPagesPath, raw)
		}
		cfg.PagesPath = raw
	}
	cfg.LeakReportKeys = strings.TrimSpace(os.Getenv(EnvLeakReportKeys)) // Register reads the file

	durations := []struct {
		name     string
		dst      *time.Duration
		mayBeOff bool
	}{
		{EnvLastUsedFlushInterval, &cfg.LastUsedFlushInterval, false},
		{EnvLastUsedMinInterval, &cfg.LastUsedMinInterval, false},
		{EnvVerifyCacheTTL, &cfg.VerifyCacheTTL, false},
		{EnvThrottleWindow, &cfg.ThrottleWindow, false},
		{EnvArgon2MaxWait, &cfg.Argon2MaxWait, true},
		{EnvThrottleDelay, &cfg.ThrottleDelay, true},
	}
	for _, d := range durations {
		if err := durationFromEnv(d.name, d.dst, d.mayBeOff); err != nil {
			return cfg, err
		}
	}
	ints := []struct {
		name     string
		dst      *int
		mayBeOff bool
	}{
		{EnvVerifyCacheSize, &cfg.VerifyCacheSize, true},
		{EnvThrottleKeyFailures, &cfg.ThrottleKeyFailures, true},
		{EnvThrottleClientFailures, &cfg.ThrottleClientFailures, true},
		{EnvThrottleMaxDelayed, &cfg.ThrottleMaxDelayed, false},
		{EnvThrottleMaxTracked, &cfg.ThrottleMaxTracked, false},
		{EnvArgon2MaxQueued, &cfg.Argon2MaxQueued, false},
	}
	for _, n := range ints {
		if err := intFromEnv(n.name, n.dst, n.mayBeOff, math.MaxInt32); err != nil {
			return cfg, err
		}
	}
	budget := 0
	if err := intFromEnv(EnvArgon2MemoryBudgetKiB, &budget, false, math.MaxUint32); err != nil {
		return cfg, err
	}
	cfg.Argon2MemoryBudgetKiB = uint32(budget)

	// argon2id parameters for new hashes: any one set starts from the
	// defaults (argon2 needs 8 KiB of memory per lane).
	memory, iterations, lanes := 0, 0, 0
	if err := intFromEnv(EnvArgon2Parallelism, &lanes, false, math.MaxUint8); err != nil {
		return cfg, err
	}
	leastMemory := 8 * max(lanes, int(apikey.DefaultParams.Parallelism))
	if err := intFromEnv(EnvArgon2MemoryKiB, &memory, false, 4*1024*1024); err != nil {
		return cfg, err
	}
	if memory != 0 && memory < leastMemory {
		return cfg, fmt.Errorf("%s=%d: argon2id needs at least 8 KiB per lane, %d KiB here", EnvArgon2MemoryKiB, memory, leastMemory)
	}
	if err := intFromEnv(EnvArgon2Iterations, &iterations, false, 1000); err != nil {
		return cfg, err
	}
	if memory != 0 || iterations != 0 || lanes != 0 {
		cfg.Argon2 = apikey.DefaultParams
		if memory != 0 {
			cfg.Argon2.Memory = uint32(memory)
		}
		if iterations != 0 {
			cfg.Argon2.Iterations = uint32(iterations)
		}
		if lanes != 0 {
			cfg.Argon2.Parallelism = uint8(lanes)
		}
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

// intFromEnv reads a whole number from 1 (0 when mayBeOff, stored as -1,
// "off") to most.
func intFromEnv(name string, dst *int, mayBeOff bool, most int) error {
	raw, ok := os.LookupEnv(name)
	if !ok || raw == "" {
		return nil
	}
	least := 1
	if mayBeOff {
		least = 0
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < least || n > most {
		return fmt.Errorf("%s=%q: want an integer from %d to %d", name, raw, least, most)
	}
	if n == 0 {
		n = -1 // off
	}
	*dst = n
	return nil
}

// durationFromEnv reads a positive Go duration ("0" too when mayBeOff,
// stored as -1, "off").
func durationFromEnv(name string, dst *time.Duration, mayBeOff bool) error {
	raw, ok := os.LookupEnv(name)
	if !ok || raw == "" {
		return nil
	}
	if mayBeOff && raw == "0" {
		*dst = -1
		return nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return fmt.Errorf("%s=%q: want a positive Go duration such as 2s or 1m", name, raw)
	}
	*dst = d
	return nil
}
