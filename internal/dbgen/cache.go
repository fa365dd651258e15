package dbgen

import (
	"database/sql"

	"github.com/maypok86/otter/v2"
)

// Cache keeps values read from the database for as long as it has not
// changed: an entry is returned only in the generation it was stored in.
// Bounded: past size entries, the least useful are dropped (otter's
// W-TinyLFU), and a dropped entry is read again.
type Cache[V any] struct {
	entries *otter.Cache[string, cached[V]]
}

type cached[V any] struct {
	gen   uint64
	value V
}

// NewCache returns a cache of at most size entries; nil for size < 1 (a
// nil Cache keeps nothing).
func NewCache[V any](size int) *Cache[V] {
	if size < 1 {
		return nil
	}
	return &Cache[V]{entries: otter.Must(&otter.Options[string, cached[V]]{MaximumSize: size})}
}

// Get returns the value stored under key in generation gen.
func (c *Cache[V]) Get(key string, gen uint64) (V, bool) {
	if c != nil && gen != 0 {
		if e, ok := c.entries.GetIfPresent(key); ok && e.gen == gen {
			return e.value, true
		}
	}
	var zero V
	return zero, false
}

// Set stores value under key for generation gen: the generation current
// before value was read, so that a commit during the read leaves it stale.
func (c *Cache[V]) Set(key string, gen uint64, value V) {
	if c != nil && gen != 0 {
		c.entries.Set(key, cached[V]{gen: gen, value: value})
	}
}

// Row is a row's values packed in one string, so that keeping many rows
// costs little more than their bytes.
type Row struct {
	data  string
	ends  []uint16 // where each value ends in data
	nulls uint64   // bit i set: value i is NULL
}

// PackRow packs values; ok is false for a row too wide or too long to pack
// (more than 64 values, or 64 KiB).
func PackRow(values []sql.NullString) (row Row, ok bool) {
	if len(values) > 64 {
		return Row{}, false
	}
	n := 0
	for _, v := range values {
		n += len(v.String)
	}
	if n > 1<<16-1 {
		return Row{}, false
	}
	buf := make([]byte, 0, n)
	row.ends = make([]uint16, len(values))
	for i, v := range values {
		if !v.Valid {
			row.nulls |= 1 << i
		}
		buf = append(buf, v.String...)
		row.ends[i] = uint16(len(buf))
	}
	row.data = string(buf)
	return row, true
}

// Values unpacks the row (its strings share the packed bytes).
func (r Row) Values() []sql.NullString {
	values := make([]sql.NullString, len(r.ends))
	start := uint16(0)
	for i, end := range r.ends {
		values[i] = sql.NullString{String: r.data[start:end], Valid: r.nulls&(1<<i) == 0}
		start = end
	}
	return values
}
