package verifier

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

// BenchmarkStageVerifiedCache is the verifier's part of every
// key-authenticated request with a warm key: the secret's SHA-256, the
// stored hash's fingerprint and the cache's answer.
func BenchmarkStageVerifiedCache(b *testing.B) {
	v, err := New(apikey.DefaultParams, Config{}, Rehash{})
	if err != nil {
		b.Fatal(err)
	}
	hash, err := apikey.Hash(testSecret, cheapParams)
	if err != nil {
		b.Fatal(err)
	}
	key := apikey.Key{ID: testKeyID, Secret: testSecret}
	if err := v.Verify(b.Context(), key, hash, "c"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := v.Verify(b.Context(), key, hash, "c"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyArgon2Default(b *testing.B) {
	// no cache: every call pays argon2id, with production parameters
	v, err := New(apikey.DefaultParams, Config{CacheSize: -1}, Rehash{})
	if err != nil {
		b.Fatal(err)
	}
	hash, err := apikey.Hash(testSecret, apikey.DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	key := apikey.Key{ID: testKeyID, Secret: testSecret}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(b.Context(), key, hash, "c"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifiedCacheMemory fills a default-sized verified cache (a
// million entries) and reports what one entry costs in heap bytes; the loop
// then measures a hit in the full cache. docs/performance.md's bytes per entry and
// memory for a million keys come from here.
func BenchmarkVerifiedCacheMemory(b *testing.B) {
	size := defaults.CacheSize
	before := heapInUse()
	c := newVerifiedCache(size, time.Minute, time.Now)
	tag := digestOf(testSecret).tag()
	fps := make([]hashFingerprint, size)
	for i := range fps {
		fps[i] = fingerprintOf(strconv.Itoa(i))
	}
	fpBytes := uint64(len(fps)) * uint64(len(fps[0]))
	for _, fp := range fps {
		c.add(fp, tag)
	}
	n := c.len()
	perEntry := float64(heapInUse()-before-fpBytes) / float64(n)

	i := 0
	for b.Loop() {
		if c.lookup(fps[i%len(fps)], tag) != cacheFresh {
			b.Fatal("miss in a full cache")
		}
		i += 7919
	}
	runtime.KeepAlive(fps)
	b.ReportMetric(perEntry, "B/entry")
	b.ReportMetric(perEntry*1e6/(1<<20), "MiB/1M-entries")
	b.ReportMetric(float64(n), "entries")
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
