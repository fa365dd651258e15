package verifier

import (
	"time"

	"github.com/alexedwards/argon2id"
)

// Config tunes a Verifier. The zero value is useful: every zero field means
// its default (below, in defaults), and the fields that say so take a
// negative value for "off". pbkeys' Config carries it as Tuning.Verifier;
// docs/tuning.md names the environment variable of each field.
type Config struct {
	// MemoryBudgetKiB is how much argon2id memory, in kibibytes, all
	// running verifications (and re-hashes) may use together, so that a
	// flood of wrong secrets cannot take more. Each needs the memory written
	// in its hash, so the budget divided by that is how many run at once. A
	// stored hash needing more than the whole budget is refused with
	// ErrUnusableHash. Zero: room for two hashes with the current
	// parameters, and at least defaults' (so that keys hashed before the
	// parameters were lowered still verify, and are then re-hashed).
	MemoryBudgetKiB uint32

	// MaxWait is the longest a verification waits for its turn before it is
	// refused with ErrBusy (a 503 with Retry-After). Turns go round the
	// clients waiting, so a long wait is a client's own queue (a herd of its
	// own keys) or very many clients verifying at once. Negative: no
	// waiting.
	MaxWait time.Duration

	// MaxQueued is how many verifications may wait for their turn at once,
	// in requests; past it, the newest of the client with the most waiting
	// is refused with ErrBusy.
	MaxQueued int

	// BusyRetryAfter is the Retry-After suggested with ErrBusy.
	BusyRetryAfter time.Duration

	// CacheSize is how many successful verifications are remembered, in
	// entries (see verifiedCache for their size). Negative: no cache, and
	// no coalescing of identical verifications: every request pays
	// argon2id, which is the naive design benchmarks compare against.
	CacheSize int

	// CacheTTL is how long a remembered verification is accepted without
	// running argon2id again, counted from that argon2id run. The key row
	// is read on every request regardless, so revocation never waits for
	// this.
	CacheTTL time.Duration

	// FailureWindow is the length of a failure-counting window, counted
	// from the first failure after the previous window ended.
	FailureWindow time.Duration

	// MaxKeyFailures is how many wrong secrets one client may send for one
	// key id per FailureWindow before its further attempts on that key id
	// are refused with ErrThrottled (429). Counting per (key id, client)
	// rather than per key id is what keeps the holder in while others
	// guess: key ids are not secret, so a limit per key id alone is a
	// switch anyone can flip. Negative: no limit.
	MaxKeyFailures int

	// YieldAfterFailures is how many wrong secrets one client (an IP
	// address, or an IPv6 /64, as the caller names it) may send per
	// FailureWindow, over all key ids, before its verifications wait behind
	// other clients' (argon2Queue). They are never refused for it: behind
	// one address there may be a fleet whose other members hold correct
	// keys. Negative: never.
	YieldAfterFailures int

	// RefusalDelay is how long a refused (ErrThrottled) attempt is held
	// before it is answered, so that a client hammering a throttled key id
	// gets one answer per delay per connection instead of thousands
	// (tarpit). Negative: answered at once.
	RefusalDelay time.Duration

	// MaxDelayedRefusals bounds how many refused attempts are held at
	// once, in requests; past it they are answered at once.
	MaxDelayedRefusals int

	// MaxTrackedFailures bounds how many (key id, client) pairs and,
	// separately, how many clients the failure limits remember, in
	// entries. The least recently failing one is forgotten first, so an
	// attacker rotating addresses mostly evicts its own entries.
	MaxTrackedFailures int
}

// defaults are the production values of Config; docs/performance.md has the
// measurements behind them.
var defaults = Config{
	// Two verifications with the default parameters at once: two 2-lane
	// argon2id runs already keep two cores busy, so more would add memory
	// and latency, not throughput.
	MemoryBudgetKiB: 128 * 1024,
	// Turns are fair, so only a client's own herd or a crowd of clients
	// waits long: 20 s drains a herd of a few hundred keys on two cores,
	// and answers before the common 30 s client timeout.
	MaxWait:        20 * time.Second,
	MaxQueued:      1024,
	BusyRetryAfter: time.Second,
	// A million active keys; docs/performance.md has what an entry costs.
	CacheSize:     1_000_000,
	CacheTTL:      10 * time.Minute,
	FailureWindow: time.Minute,
	// Far above what a holder mistypes, far below what guessing needs
	// (a secret has 256 bits).
	MaxKeyFailures: 10,
	// One wrong secret and a client waits behind those that sent none: an
	// attacker's addresses stop competing with the holder after their first
	// guess, and a client that mistyped once only waits when argon2id is
	// contended, never refused.
	YieldAfterFailures: 1,
	RefusalDelay:       time.Second,
	MaxDelayedRefusals: 1024,
	MaxTrackedFailures: 10_000,
}

// WithDefaults returns cfg with its zero fields set to their defaults, the
// memory budget sized for hashes made with params, and "off" (negative)
// turned into the zero the verifier's parts read as off.
func (cfg Config) WithDefaults(params argon2id.Params) Config {
	orDefault := func(v *int, def int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	orDefaultDuration := func(v *time.Duration, def time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	if cfg.MemoryBudgetKiB == 0 {
		cfg.MemoryBudgetKiB = max(defaults.MemoryBudgetKiB, 2*params.Memory)
	}
	orDefaultDuration(&cfg.MaxWait, defaults.MaxWait)
	orDefault(&cfg.MaxQueued, defaults.MaxQueued)
	orDefaultDuration(&cfg.BusyRetryAfter, defaults.BusyRetryAfter)
	orDefault(&cfg.CacheSize, defaults.CacheSize)
	orDefaultDuration(&cfg.CacheTTL, defaults.CacheTTL)
	orDefaultDuration(&cfg.FailureWindow, defaults.FailureWindow)
	orDefault(&cfg.MaxKeyFailures, defaults.MaxKeyFailures)
	orDefault(&cfg.YieldAfterFailures, defaults.YieldAfterFailures)
	orDefaultDuration(&cfg.RefusalDelay, defaults.RefusalDelay)
	orDefault(&cfg.MaxDelayedRefusals, defaults.MaxDelayedRefusals)
	orDefault(&cfg.MaxTrackedFailures, defaults.MaxTrackedFailures)
	return cfg
}
