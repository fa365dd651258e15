package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The soak: minutes of a steady mix of everything a server with keys
// sees — JWT requests, warm keys, keys created, used and revoked, wrong
// secrets, realtime clients coming and going with events flowing — while
// the server's resident memory is sampled. Growth after the warm-up that
// keeps going is a leak; growth that levels off is a cache filling up.

// soakMix is how many closed-loop workers of each kind run.
type soakMix struct {
	jwt, key, newKeys, wrong, realtime int
}

var defaultSoakMix = soakMix{jwt: 8, key: 8, newKeys: 1, wrong: 2, realtime: 20}

// soak runs the mix for d, sampling RSS every `every`, and prints the
// samples and the growth after warm-up.
func (s *server) soak(fx *fixture, d, warmUp, every time.Duration, mix soakMix) error {
	fmt.Printf("soak: %v (warm-up %v), RSS sampled every %v; workers: %d JWT, %d key, %d new-key, %d wrong-secret, %d realtime\n\n",
		d, warmUp, every, mix.jwt, mix.key, mix.newKeys, mix.wrong, mix.realtime)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	transport := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	notePath := "/api/collections/notes/records/" + fx.noteID

	var requests, failures atomic.Int64
	get := func(authorization string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+notePath, nil)
		req.Header.Set("Authorization", authorization)
		res, err := client.Do(req)
		if err != nil {
			return 0
		}
		res.Body.Close()
		requests.Add(1)
		return res.StatusCode
	}
	var wg sync.WaitGroup
	worker := func(n int, loop func()) {
		for range n {
			wg.Go(func() {
				for ctx.Err() == nil {
					loop()
				}
			})
		}
	}
	worker(mix.jwt, func() {
		if get(fx.jwt) != http.StatusOK && ctx.Err() == nil {
			failures.Add(1)
		}
	})
	worker(mix.key, func() {
		if get("Bearer "+fx.key) != http.StatusOK && ctx.Err() == nil {
			failures.Add(1)
		}
	})
	// New keys: created, used a few times (one argon2id run, then the
	// cache), revoked; the verified cache and the throttle see churn.
	worker(mix.newKeys, func() {
		var created struct{ Id, Key string }
		if err := call(s.base, http.MethodPost, "/api/collections/api_keys/records", fx.jwt,
			map[string]any{"label": "soak"}, &created); err != nil {
			if ctx.Err() == nil {
				failures.Add(1)
			}
			return
		}
		for range 5 {
			get("Bearer " + created.Key)
		}
		_ = call(s.base, http.MethodDelete, "/api/collections/api_keys/records/"+created.Id, fx.jwt, nil, nil)
	})
	// Wrong secrets: for the user's key id (throttled, held) and for
	// random ids (no such key).
	worker(mix.wrong, func() {
		get("Bearer " + fx.keyID + "." + randomSecret())
		get("Bearer " + randomID() + "." + randomSecret())
	})
	// Realtime: key-subscribed clients that come and go while a writer
	// sends events.
	worker(min(mix.realtime, 1), func() {
		_ = call(s.base, http.MethodPost, "/api/collections/notes/records", fx.adminJWT,
			map[string]any{"owner": fx.userID, "title": "soak event"}, nil)
		time.Sleep(200 * time.Millisecond)
	})
	worker(mix.realtime, func() {
		c, err := connectSSE(s.base, "Bearer "+fx.key, client)
		if err != nil {
			if ctx.Err() == nil {
				failures.Add(1)
			}
			time.Sleep(time.Second)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
		c.close()
	})

	// Samples.
	type sample struct {
		at  time.Duration
		mib float64
	}
	var samples []sample
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	fmt.Printf("%8s  %9s  %10s\n", "time", "RSS", "requests")
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			sm := sample{time.Since(start), float64(procStatusKiB(s.cmd.Process.Pid, "VmRSS")) / 1024}
			samples = append(samples, sm)
			fmt.Printf("%7.0fs  %6.1f MiB  %10d\n", sm.at.Seconds(), sm.mib, requests.Load())
		}
	}
	wg.Wait()

	// Growth after warm-up: the median of the last minute against the
	// median of the first minute after warm-up (medians, so that one
	// garbage-collection cycle does not decide), and the slope of a
	// least-squares line through every sample after warm-up.
	var after []sample
	for _, sm := range samples {
		if sm.at >= warmUp {
			after = append(after, sm)
		}
	}
	if len(after) < 4 {
		return fmt.Errorf("soak too short for its warm-up: %d samples after it", len(after))
	}
	window := max(len(after)/3, 1)
	median := func(ss []sample) float64 {
		v := make([]float64, len(ss))
		for i, sm := range ss {
			v[i] = sm.mib
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	first, last := median(after[:window]), median(after[len(after)-window:])
	var sx, sy, sxy, sxx float64
	for _, sm := range after {
		x := sm.at.Minutes()
		sx, sy, sxy, sxx = sx+x, sy+sm.mib, sxy+x*sm.mib, sxx+x*x
	}
	n := float64(len(after))
	slope := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	fmt.Printf("\nrequests: %d (%d unexpected answers)\n", requests.Load(), failures.Load())
	fmt.Printf("RSS after warm-up: %.1f MiB (median of the first third) → %.1f MiB (median of the last third): growth %+.1f MiB\n",
		first, last, last-first)
	fmt.Printf("trend after warm-up: %+.2f MiB/min (least squares over %d samples)\n", slope, len(after))
	return nil
}

func randomID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte(randomSecret())[:15]
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
