// Package usage records how API keys are used — when each was last used,
// from which address and user agent, and how many requests it made per
// day — off the request path, and stores and reads those counts.
package usage

import (
	"sort"
	"sync"
	"time"

	"github.com/pbkeys/pbkeys/internal/clientinfo"
)

// Recorder records how keys are used, off the request path: when each
// key was last used and from where (client address, user agent), and how
// many requests it made per day (UTC).
//
// Touch only updates memory; a background loop writes what is pending every
// FlushInterval, at most once per MinWriteInterval per key and up to 256
// keys per call to Write, so a busy key costs one database write a minute
// instead of one per request, whatever its request rate. Close stops the
// loop and writes everything still pending.
type Recorder struct {
	write            func([]KeyUsage) error
	onError          func(keys int, err error)
	flushInterval    time.Duration
	minWriteInterval time.Duration
	now              func() time.Time

	mu   sync.Mutex
	keys map[string]*entry // by key id; kept while the key is busy

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// KeyUsage is what Write persists for one key: its newest use since the
// last write and its requests per day since then.
type KeyUsage struct {
	KeyID     string
	LastUsed  time.Time
	IP        string // client address of the newest use
	UserAgent string // user agent of the newest use, at most clientinfo.MaxUserAgent bytes
	Days      []Day
}

// Day is a number of requests made with a key on one day (UTC).
type Day struct {
	Day      string `json:"day"` // YYYY-MM-DD
	Requests int64  `json:"requests"`
}

// Config tunes a Recorder. The zero value is useful: every zero field means
// its default (below, in defaults). pbkeys' Config carries it as
// Tuning.Usage; docs/tuning.md names the environment variable of each
// field.
type Config struct {
	// FlushInterval is how often pending usage is written: it bounds how
	// stale a key's first use can look.
	FlushInterval time.Duration

	// MinWriteInterval is the least time between two writes for one key:
	// a busy key costs one write per interval, whatever its request rate.
	MinWriteInterval time.Duration
}

// defaults are the production values of Config.
var defaults = Config{
	FlushInterval:    2 * time.Second,
	MinWriteInterval: time.Minute,
}

// WithDefaults returns cfg with its zero fields set to their defaults.
func (cfg Config) WithDefaults() Config {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = defaults.FlushInterval
	}
	if cfg.MinWriteInterval <= 0 {
		cfg.MinWriteInterval = defaults.MinWriteInterval
	}
	return cfg
}

// entry is one key's usage not yet written, and when it last was.
type entry struct {
	lastUsed      time.Time
	ip, userAgent string
	day           int64      // of count: days since the Unix epoch, UTC
	count         int64      // requests on day
	earlier       []dayCount // older days' requests (pending across midnight)
	dirty         bool       // something is waiting to be written
	written       time.Time  // when the key was last written; zero: not recently
}

type dayCount struct{ day, n int64 }

const secondsPerDay = 24 * 60 * 60

func dayOf(t time.Time) int64 { return t.Unix() / secondsPerDay }

func dayString(day int64) string {
	return time.Unix(day*secondsPerDay, 0).UTC().Format(time.DateOnly)
}

// NewRecorder starts a recorder that persists with write — as one unit: all
// of a batch or an error, and then the same usage is offered again on the
// next flush — and tells onError (may be nil) about failed writes. Call
// Close to stop it.
func NewRecorder(cfg Config, write func([]KeyUsage) error, onError func(keys int, err error)) *Recorder {
	return newRecorder(cfg, write, onError, time.Now)
}

// newRecorder is NewRecorder on the clock now (tests pass a fake one).
func newRecorder(cfg Config, write func([]KeyUsage) error, onError func(keys int, err error), now func() time.Time) *Recorder {
	cfg = cfg.WithDefaults()
	if onError == nil {
		onError = func(int, error) {}
	}
	r := &Recorder{
		write:            write,
		onError:          onError,
		flushInterval:    cfg.FlushInterval,
		minWriteInterval: cfg.MinWriteInterval,
		now:              now,
		keys:             map[string]*entry{},
		stop:             make(chan struct{}),
		done:             make(chan struct{}),
	}
	go r.loop()
	return r
}

// Touch records one request made with keyID now, from the client at ip
// with userAgent. It is on the path of every key-authenticated request: it
// never blocks on I/O and, for a key already in use, allocates nothing
// (the user agent is cut to clientinfo.MaxUserAgent by slicing; it is cleaned when
// written).
func (r *Recorder) Touch(keyID, ip, userAgent string) {
	now := r.now()
	day := dayOf(now)
	if len(userAgent) > clientinfo.MaxUserAgent {
		userAgent = userAgent[:clientinfo.MaxUserAgent]
	}
	r.mu.Lock()
	e := r.keys[keyID]
	if e == nil {
		e = &entry{}
		r.keys[keyID] = e
	}
	if e.count > 0 && e.day != day {
		e.earlier = append(e.earlier, dayCount{e.day, e.count})
		e.count = 0
	}
	e.day = day
	e.count++
	e.lastUsed, e.ip, e.userAgent = now, ip, userAgent
	e.dirty = true
	r.mu.Unlock()
}

// Close stops the background loop and writes all pending usage, ignoring
// MinWriteInterval, so nothing is lost on shutdown. It is safe to call twice.
func (r *Recorder) Close() {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
		r.flush(true)
	})
}

func (r *Recorder) loop() {
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

// flush writes the pending usage that is due (all of it when force is set).
func (r *Recorder) flush(force bool) {
	now := r.now()
	var due []KeyUsage

	r.mu.Lock()
	for id, e := range r.keys {
		recent := !e.written.IsZero() && now.Sub(e.written) < r.minWriteInterval
		switch {
		case e.dirty && (force || !recent):
			due = append(due, e.take(id))
		case !e.dirty && !recent:
			delete(r.keys, id) // idle: nothing pending, nothing to hold back
		}
	}
	r.mu.Unlock()
	if len(due) == 0 {
		return
	}

	// In batches, so that one write (one transaction) holds the database's
	// write lock briefly even when thousands of keys are busy.
	for len(due) > 0 {
		batch := due[:min(len(due), maxBatch)]
		due = due[len(batch):]
		err := r.write(batch)

		r.mu.Lock()
		for _, u := range batch {
			e := r.keys[u.KeyID]
			if e == nil {
				e = &entry{}
				r.keys[u.KeyID] = e
			}
			if err != nil {
				e.restore(u) // offered again on the next flush
			} else {
				e.written = now
			}
		}
		r.mu.Unlock()
		if err != nil {
			r.onError(len(batch), err)
		}
	}
}

// maxBatch is the most keys one call to Write gets.
const maxBatch = 256

// take returns the entry's pending usage and clears it.
func (e *entry) take(id string) KeyUsage {
	u := KeyUsage{KeyID: id, LastUsed: e.lastUsed, IP: e.ip, UserAgent: e.userAgent}
	counts := append(e.earlier, dayCount{e.day, e.count})
	sort.Slice(counts, func(i, j int) bool { return counts[i].day < counts[j].day })
	for _, c := range counts {
		if c.n > 0 {
			u.Days = append(u.Days, Day{Day: dayString(c.day), Requests: c.n})
		}
	}
	e.earlier, e.count, e.dirty = nil, 0, false
	e.ip, e.userAgent = "", "" // do not hold the request's header longer than needed
	return u
}

// restore puts back usage that could not be written, under anything
// recorded since: counts add up, the newest use wins.
func (e *entry) restore(u KeyUsage) {
	if u.LastUsed.After(e.lastUsed) || !e.dirty {
		e.lastUsed, e.ip, e.userAgent = u.LastUsed, u.IP, u.UserAgent
	}
	for _, d := range u.Days {
		t, err := time.Parse(time.DateOnly, d.Day)
		if err != nil {
			continue // cannot happen: take wrote it
		}
		day := dayOf(t)
		switch {
		case e.count > 0 && day == e.day:
			e.count += d.Requests
		case e.count == 0 && !e.dirty:
			e.day, e.count = day, d.Requests
		default:
			e.earlier = mergeDay(e.earlier, day, d.Requests)
		}
	}
	e.dirty = true
}

func mergeDay(counts []dayCount, day, n int64) []dayCount {
	for i := range counts {
		if counts[i].day == day {
			counts[i].n += n
			return counts
		}
	}
	return append(counts, dayCount{day, n})
}
