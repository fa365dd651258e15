package keystore

import (
	"sync"
	"time"
)

// UsageRecorder records when keys were last used, off the request path.
//
// Touch only updates a map; a background loop persists the newest use of each
// key every FlushInterval, and at most once per MinWriteInterval per key, so
// a busy key costs one database write a minute instead of one per request.
// Close stops the loop and persists everything still pending.
type UsageRecorder struct {
	write            func(keyID string, usedAt time.Time) error
	onError          func(keyID string, err error)
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
	// Write persists usedAt as the key's last use. Required.
	Write func(keyID string, usedAt time.Time) error
	// OnError is told about failed writes (they are retried on the next flush).
	OnError func(keyID string, err error)
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
		cfg.OnError = func(string, error) {}
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
	due := map[string]time.Time{}

	r.mu.Lock()
	for id, usedAt := range r.pending {
		if last, ok := r.written[id]; force || !ok || now.Sub(last) >= r.minWriteInterval {
			due[id] = usedAt
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

	for id, usedAt := range due {
		err := r.write(id, usedAt)
		r.mu.Lock()
		if err != nil {
			// keep it for the next flush unless a newer use replaced it
			if _, newer := r.pending[id]; !newer {
				r.pending[id] = usedAt
			}
		} else {
			r.written[id] = now
		}
		r.mu.Unlock()
		if err != nil {
			r.onError(id, err)
		}
	}
}
