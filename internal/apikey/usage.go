package apikey

import (
	"slices"
	"sync"
	"time"
)

// UsageRecorder records when keys were last used, off the request path.
//
// Touch only updates a map; a background loop persists the newest use of each
// key every FlushInterval, and at most once per MinWriteInterval per key, so
// a busy key costs one database write a minute instead of one per request.
// The uses due at a flush are written in batches of up to usageBatch, one
// transaction each: a fleet of 100,000 active keys is 100,000 rows a minute,
// and a row in a batch costs a fraction of a row in its own transaction.
// Close stops the loop and persists everything still pending.
type UsageRecorder struct {
	write            func(uses map[string]time.Time) error
	onError          func(keys int, err error)
	flushInterval    time.Duration
	minWriteInterval time.Duration
	now              func() time.Time

	mu      sync.Mutex
	pending map[string]time.Time // newest unsaved use per key
	written map[string]time.Time // when each key was last persisted

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// UsageConfig configures a UsageRecorder.
type UsageConfig struct {
	// Write persists each key's last use (key id → time), all or none.
	// Required.
	Write func(uses map[string]time.Time) error
	// OnError is told how many uses a failed Write held (they are retried on
	// the next flush).
	OnError func(keys int, err error)
	// FlushInterval is how often pending uses are written (default 2s):
	// it bounds how stale a key's first use can look.
	FlushInterval time.Duration
	// MinWriteInterval is the least time between two writes for one key
	// (default 1 minute).
	MinWriteInterval time.Duration
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// NewUsageRecorder starts a recorder; call Close to stop it.
func NewUsageRecorder(cfg UsageConfig) *UsageRecorder {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 2 * time.Second
	}
	if cfg.MinWriteInterval <= 0 {
		cfg.MinWriteInterval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnError == nil {
		cfg.OnError = func(int, error) {}
	}
	r := &UsageRecorder{
		write:            cfg.Write,
		onError:          cfg.OnError,
		flushInterval:    cfg.FlushInterval,
		minWriteInterval: cfg.MinWriteInterval,
		now:              cfg.Now,
		pending:          map[string]time.Time{},
		written:          map[string]time.Time{},
		stop:             make(chan struct{}),
		done:             make(chan struct{}),
	}
	go r.loop()
	return r
}

// Touch records that keyID was used now. It never blocks on I/O.
func (r *UsageRecorder) Touch(keyID string) {
	now := r.now()
	r.mu.Lock()
	r.pending[keyID] = now
	r.mu.Unlock()
}

// Close stops the background loop and writes every pending use, ignoring
// MinWriteInterval, so nothing is lost on shutdown. It is safe to call twice.
func (r *UsageRecorder) Close() {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
		r.flush(true)
	})
}

func (r *UsageRecorder) loop() {
	defer close(r.done)
	ticker := time.NewTicker(r.flushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-ticker.C:
			r.flush(false)
		}
	}
}

// flush writes the pending uses that are due (all of them when force is set).
func (r *UsageRecorder) flush(force bool) {
	now := r.now()
	var due []keyUse

	r.mu.Lock()
	for id, usedAt := range r.pending {
		if last, ok := r.written[id]; force || !ok || now.Sub(last) >= r.minWriteInterval {
			due = append(due, keyUse{id, usedAt})
			delete(r.pending, id)
		}
	}
	// forget write times that no longer hold anything back
	for id, last := range r.written {
		if now.Sub(last) >= r.minWriteInterval {
			delete(r.written, id)
		}
	}
	r.mu.Unlock()

	for chunk := range slices.Chunk(due, usageBatch) {
		batch := make(map[string]time.Time, len(chunk))
		for _, u := range chunk {
			batch[u.id] = u.at
		}
		err := r.write(batch)
		r.mu.Lock()
		for _, u := range chunk {
			if err == nil {
				r.written[u.id] = now
			} else if _, newer := r.pending[u.id]; !newer {
				// keep it for the next flush unless a newer use replaced it
				r.pending[u.id] = u.at
			}
		}
		r.mu.Unlock()
		if err != nil {
			r.onError(len(chunk), err)
		}
	}
}

type keyUse struct {
	id string
	at time.Time
}

// usageBatch bounds the uses written in one transaction, so that a flush
// holds SQLite's one writer for milliseconds (~10 ms), not seconds. Fewer,
// larger transactions also matter to readers: each commit makes every read
// connection drop its page cache.
const usageBatch = 2000
