package main

// Scenarios right after a restart, when the verified cache is empty and
// every key costs argon2id once:
//
//   - herd: N clients behind one address (a CI fleet behind NAT) each send
//     their own correct key at once, retrying as Retry-After says. All must
//     be served within about twice the pure argon2id time of N
//     verifications on this machine, with no 429.
//   - many keys: the same N keys, now warm, against one key.
//   - lockout: addresses guess the fixture key's id (loopback 127.0.0.2...,
//     each its own client to the server) while its holder, from 127.0.0.1,
//     tries to get in; the holder must be in within 5 s of its first try.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"
)

var (
	herdKeys  = flag.Int("herd", 200, "keys sent at once from one address right after a restart (0: no restart scenarios)")
	attackers = flag.Int("attackers", 16, "addresses guessing the holder's key id right after a restart")
)

func restartScenarios(srv *server, fx *fixture, path string, phase time.Duration, rounds, conns int) error {
	n := *herdKeys
	if n <= 0 {
		return nil
	}
	fmt.Printf("\nafter a restart (cold cache): a herd of %d keys from one address, then %d addresses guessing one key id\n", n, *attackers)
	keys, err := createKeys(srv.base, fx.jwt, n)
	if err != nil {
		return fmt.Errorf("creating the herd's keys: %w", err)
	}
	if err := srv.restart(); err != nil {
		return err
	}
	// the floor, measured just before and just after the herd: the faster
	// of the two, so that a noisy neighbour cannot flatter the ratio
	pure, lanes, err := pureArgon2(n)
	if err != nil {
		return err
	}
	herd := runHerd(srv.base, path, keys)
	fmt.Printf("   herd: last of %d served after %.2f s (p50 %.2f s); answers %s\n",
		n, herd.last.Seconds(), herd.p50.Seconds(), herd.statusSummary())
	again, _, err := pureArgon2(n)
	if err != nil {
		return err
	}
	fmt.Printf("   pure argon2id: %d verifications in %.2f s before, %.2f s after (%d at a time, as the server's budget runs them)\n",
		n, pure.Seconds(), again.Seconds(), lanes)
	pure = min(pure, again)

	// the herd's keys are warm now: many distinct keys against one
	var next atomic.Uint64
	_, _, ratios := interleaved(rounds, func(round int) result {
		return srv.measure(fmt.Sprintf("   one key          (round %d)", round), phase, conns, path, func(int) string { return "Bearer " + fx.key }, nil)
	}, func(round int) result {
		return srv.measure(fmt.Sprintf("   %d keys in turn (round %d)", n, round), phase, conns, path, func(int) string {
			return "Bearer " + keys[next.Add(1)%uint64(n)]
		}, nil)
	})

	if err := srv.restart(); err != nil {
		return err
	}
	lock := runLockout(srv.base, path, fx, *attackers)
	fmt.Printf("   attack: %s\n", lock.attack.statusSummary())
	fmt.Printf("   holder: %s\n", lock.holder.statusSummary())

	fmt.Println()
	fmt.Printf("herd after restart: %d keys, one address = %.2f s, pure argon2id %.2f s: ratio %.2f (target <= 2), 429s: %d, 503s: %d\n",
		n, herd.last.Seconds(), pure.Seconds(), herd.last.Seconds()/pure.Seconds(), herd.statuses[429], herd.statuses[503])
	fmt.Printf("%d distinct keys / one key throughput = %.3f  (median of %d rounds, min %.3f, max %.3f)\n",
		n, ratios[len(ratios)/2], len(ratios), ratios[0], ratios[len(ratios)-1])
	if lock.in {
		fmt.Printf("holder in %.2f s after its first try while %d addresses guessed its key id (target <= 5 s)\n", lock.after.Seconds(), *attackers)
	} else {
		fmt.Printf("holder NOT in after %.2f s while %d addresses guessed its key id (target <= 5 s)\n", lock.after.Seconds(), *attackers)
	}
	return nil
}

// restart stops the server and starts it again on the same address and
// data directory: everything in memory (verified cache, throttle) is gone.
func (s *server) restart() error {
	s.stop()
	addr := s.base[len("http://"):]
	next := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	next.Stdout, next.Stderr = s.cmd.Stdout, s.cmd.Stderr
	if err := next.Start(); err != nil {
		return err
	}
	s.cmd = next
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.base + "/api/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server did not come back on %s within 30 s (log: %s)", addr, s.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createKeys creates n keys for the user of jwt, four at a time.
func createKeys(base, jwt string, n int) ([]string, error) {
	keys := make([]string, n)
	errs := make(chan error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range work {
				var key struct{ Key string }
				if err := call(base, "POST", "/api/collections/api_keys/records", jwt,
					map[string]any{"label": fmt.Sprintf("herd %d", i)}, &key); err != nil {
					errs <- err
					continue
				}
				keys[i] = key.Key
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	return keys, <-errs
}

// pureArgon2 times n argon2id verifications with the server's parameters,
// as many at a time as its budget runs, each followed by the collection
// the server does: the floor for any restart herd of n keys.
func pureArgon2(n int) (time.Duration, int, error) {
	params, budgetKiB, err := serverArgon2()
	if err != nil {
		return 0, 0, err
	}
	lanes := max(int(budgetKiB/params.Memory), 1)
	hash, err := argon2id.CreateHash("pure argon2id", &params)
	if err != nil {
		return 0, 0, err
	}
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	start := time.Now()
	var wg sync.WaitGroup
	for range lanes {
		wg.Go(func() {
			for range work {
				argon2id.ComparePasswordAndHash("pure argon2id", hash)
				runtime.GC()
			}
		})
	}
	wg.Wait()
	return time.Since(start), lanes, nil
}

type herdResult struct {
	last, p50 time.Duration
	statuses  map[int]int
}

func (h herdResult) statusSummary() string { return result{statuses: h.statuses}.statusSummary() }

// runHerd sends every key once, all at once, each on its own connection
// from 127.0.0.1, and retries each as Retry-After says until it is served
// (or 2 minutes pass).
func runHerd(base, path string, keys []string) herdResult {
	transport := &http.Transport{MaxIdleConnsPerHost: len(keys), MaxConnsPerHost: len(keys), DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var mu sync.Mutex
	out := herdResult{statuses: map[int]int{}}
	var served []time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	for _, key := range keys {
		wg.Go(func() {
			for ctx.Err() == nil {
				code, after := get(ctx, client, base+path, "Bearer "+key)
				mu.Lock()
				out.statuses[code]++
				if code == 200 {
					served = append(served, time.Since(start))
				}
				mu.Unlock()
				if code == 200 {
					return
				}
				sleep(ctx, after)
			}
		})
	}
	wg.Wait()
	slices.Sort(served)
	if len(served) < len(keys) {
		out.last = time.Since(start) // some never got in: report the whole time
	} else {
		out.last = served[len(served)-1]
	}
	if len(served) > 0 {
		out.p50 = served[len(served)/2]
	}
	return out
}

type lockoutResult struct {
	in             bool
	after          time.Duration // from the holder's first try
	attack, holder result
}

// runLockout has `addresses` loopback addresses (127.0.0.2 onwards), four
// connections each, send wrong secrets for the fixture key's id without
// pause for 10 s; after 2 s, when the attack has filled argon2id's queue,
// the holder starts trying its correct key from 127.0.0.1, as Retry-After
// says, until it is in (or 30 s pass).
func runLockout(base, path string, fx *fixture, addresses int) lockoutResult {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var out lockoutResult
	out.attack.statuses, out.holder.statuses = map[int]int{}, map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for a := range addresses {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, byte((a+2)/256), byte((a+2)%256))}
		transport := &http.Transport{
			DialContext:       (&net.Dialer{LocalAddr: local}).DialContext,
			MaxConnsPerHost:   4,
			DisableKeepAlives: false, DisableCompression: true,
		}
		defer transport.CloseIdleConnections()
		client := &http.Client{Transport: transport, Timeout: time.Minute}
		for range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					code, _ := get(ctx, client, base+path, "Bearer "+fx.keyID+"."+randomSecret())
					if ctx.Err() != nil {
						return
					}
					mu.Lock()
					out.attack.statuses[code]++
					mu.Unlock()
				}
			})
		}
	}

	attackStart := time.Now()
	sleep(ctx, 2*time.Second)
	client := &http.Client{Timeout: time.Minute}
	first := time.Now()
	for time.Since(first) < 30*time.Second {
		code, after := get(ctx, client, base+path, "Bearer "+fx.key)
		out.holder.statuses[code]++
		if code == 200 {
			out.in = true
			break
		}
		sleep(ctx, after)
	}
	out.after = time.Since(first)
	sleep(ctx, 10*time.Second-time.Since(attackStart)) // the attack goes on after the holder is in
	cancel()
	wg.Wait()
	return out
}

// get sends one GET and returns the status (0 for a transport error) and
// the Retry-After it asked for (1 s when it named none).
func get(ctx context.Context, client *http.Client, url, authorization string) (int, time.Duration) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", authorization)
	res, err := client.Do(req)
	if err != nil {
		return 0, time.Second
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	after := time.Second
	if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs > 0 {
		after = time.Duration(secs) * time.Second
	}
	return res.StatusCode, after
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
