// Command loadtest measures the real pbkeys binary over loopback: record
// views authenticated by a PocketBase JWT and by an API key, compared with
// wrk (wrk.go), a flood of wrong secrets for one key id while one
// client keeps using the right key (the server's peak RSS, the good
// client's throughput), and what follows a restart (restart.go: a herd of
// keys from one address, many distinct keys, a key id under attack). It
// sets up its own data directory, starts and stops the server itself, runs
// for a bounded time and exits.
//
//	make load                          # builds ./pbkeys, then runs this
//	go run ./cmd/loadtest -binary ./pbkeys -phase 10s -flood 20s
//
// The JWT/key comparison runs wrk, a client that costs the server's cores
// almost nothing; the rest is Go, which can send many client addresses,
// hold SSE streams and read the server's memory from /proc/<pid>/status
// between phases.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/internal/apikey"
)

func main() {
	binary := flag.String("binary", "./pbkeys", "the pbkeys binary to test")
	phase := flag.Duration("phase", 5*time.Second, "length of each measured phase")
	rounds := flag.Int("rounds", 3, "rounds of alternating phases: one key and many keys after a restart")
	flood := flag.Duration("flood", 20*time.Second, "length of the flood")
	conns := flag.Int("conns", 32, "concurrent connections for the JWT and key phases")
	floodClients := flag.Int("flood-clients", 64, "concurrent clients sending wrong secrets")
	rtClients := flag.Int("rt-clients", 500, "realtime clients of the fan-out phases (0: none)")
	rtEvents := flag.Int("rt-events", 100, "events sent to them in each fan-out phase")
	soak := flag.Duration("soak", 0, "instead of the measurements: a soak of this length (make soak)")
	soakWarmUp := flag.Duration("soak-warmup", time.Minute, "the part of the soak before growth is counted")
	keep := flag.Bool("keep", false, "keep the data directory and the server log")
	onlyWrk := flag.Bool("only-wrk", false, "only the wrk comparison of JWT and key (make wrk)")
	flag.Parse()
	log.SetFlags(0)

	var err error
	switch {
	case *soak > 0:
		err = runSoak(*binary, *soak, *soakWarmUp, *keep)
	case *onlyWrk:
		err = runWrk(*binary, *keep)
	default:
		err = run(*binary, *phase, *rounds, *flood, *conns, *floodClients, *rtClients, *rtEvents, *keep)
	}
	if err != nil {
		log.Fatalf("loadtest: %v", err)
	}
}

// runWrk starts a server and compares JWT and key with wrk (wrk.go).
func runWrk(binary string, keep bool) error {
	srv, fx, done, err := startWithFixture(binary, keep)
	if err != nil {
		return err
	}
	defer done()
	_, err = wrkComparison(srv, fx)
	return err
}

// runSoak starts a server and soaks it (soak.go).
func runSoak(binary string, d, warmUp time.Duration, keep bool) error {
	srv, fx, done, err := startWithFixture(binary, keep)
	if err != nil {
		return err
	}
	defer done()
	return srv.soak(fx, d, warmUp, 5*time.Second, defaultSoakMix)
}

// startWithFixture starts the binary on a data directory of its own and
// sets up the fixture; done stops the server and removes the directory
// (unless keep).
func startWithFixture(binary string, keep bool) (*server, *fixture, func(), error) {
	binary, err := filepath.Abs(binary)
	if err != nil {
		return nil, nil, nil, err
	}
	dir, err := os.MkdirTemp("", "pbkeys-load-")
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup := func() {
		if keep {
			log.Printf("data directory: %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	}
	srv, err := startServer(binary, dir)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	fx, err := setUp(srv.base)
	if err != nil {
		srv.stop()
		cleanup()
		return nil, nil, nil, fmt.Errorf("setup: %w", err)
	}
	return srv, fx, func() { srv.stop(); cleanup() }, nil
}

func run(binary string, phase time.Duration, rounds int, flood time.Duration, conns, floodClients, rtClients, rtEvents int, keep bool) error {
	rounds = max(rounds, 1)
	srv, fx, done, err := startWithFixture(binary, keep)
	if err != nil {
		return err
	}
	defer done()
	notePath := "/api/collections/notes/records/" + fx.noteID

	fmt.Printf("pbkeys load test: %s, GOMAXPROCS of this machine %d cores\n", srv.base, numCPU())
	fmt.Printf("server pid %d, Go-client phases of %v at %d connections, flood of %v\n\n",
		srv.cmd.Process.Pid, phase, conns, flood)

	// (a) and (b), JWT and key: measured with wrk (wrk.go), a client that
	// costs the server's two cores almost nothing, so the ratio is the
	// server's CPU per request.
	medians, err := wrkComparison(srv, fx)
	if err != nil {
		return err
	}

	// Memory baseline: as many JWT connections as the flood has clients.
	jwtFlood := srv.measure("   record view, JWT (flood baseline)", phase, floodClients+1, notePath, func(int) string { return fx.jwt }, nil)

	// The good client alone, then under the flood.
	alone := srv.measure("   good client alone (API key)", phase, 1, notePath, func(int) string { return "Bearer " + fx.key }, nil)
	fl := srv.flood(flood, floodClients, notePath, fx)

	fmt.Println()
	for i, m := range medians {
		fmt.Printf("b/a  key / JWT under wrk, endpoint %d   = %.3f  (median; target >= 1.0)\n", i+1, m)
	}
	fmt.Printf("good client under flood / alone      = %.3f  (%.0f vs %.0f req/s; target >= 0.5)\n",
		fl.good.rps/alone.rps, fl.good.rps, alone.rps)
	fmt.Printf("peak RSS flood - JWT(%d conns)       = %+.0f MiB  (%.0f vs %.0f MiB; argon2 budget %d MiB)\n",
		floodClients+1, fl.attack.peakMiB-jwtFlood.peakMiB, fl.attack.peakMiB, jwtFlood.peakMiB, srv.budgetMiB)
	fmt.Printf("flood answers: %s\n", fl.attack.statusSummary())

	if rtClients > 0 {
		// Realtime fan-out, JWT and key in the order JWT, key, key, JWT, so
		// that a drift of the machine weighs on both alike.
		fmt.Println()
		var jwtTime, keyTime time.Duration
		for i, useKey := range []bool{false, true, true, false} {
			name, auth := fmt.Sprintf("c  realtime fan-out, JWT     (%d)", i+1), fx.jwt
			if useKey {
				name, auth = fmt.Sprintf("d  realtime fan-out, API key (%d)", i+1), "Bearer "+fx.key
			}
			r, err := srv.fanOut(name, fx, auth, rtClients, rtEvents)
			if err != nil {
				return err
			}
			if useKey {
				keyTime += r.elapsed
			} else {
				jwtTime += r.elapsed
			}
		}
		fmt.Printf("\nd/c  realtime fan-out key / JWT time  = %.3f  (%d SSE clients, %d events: %.2f s vs %.2f s over two phases each; target <= 1.1)\n",
			keyTime.Seconds()/jwtTime.Seconds(), rtClients, rtEvents, keyTime.Seconds(), jwtTime.Seconds())
	}
	return restartScenarios(srv, fx, notePath, phase, rounds, conns)
}

// ---------------------------------------------------------------- server

type server struct {
	cmd       *exec.Cmd
	base      string
	logPath   string
	budgetMiB int
}

// startServer creates a superuser with the CLI and starts `pbkeys serve` on
// a free loopback port with default settings, then waits for /api/health.
func startServer(binary, dir string) (*server, error) {
	// The JS hooks and migrations directories inside dir: by default they
	// are next to it, in the shared temp dir, where the stock binary's
	// automigrate would leave a migration for the collection set up here.
	isolated := []string{"--dir", dir, "--hooksDir", filepath.Join(dir, "pb_hooks"), "--migrationsDir", filepath.Join(dir, "pb_migrations")}
	up := exec.Command(binary, append([]string{"superuser", "upsert", adminEmail, adminPassword}, isolated...)...)
	if out, err := up.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("superuser upsert: %v: %s", err, out)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()

	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, append([]string{"serve", "--http", addr}, isolated...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr, logPath: logPath, budgetMiB: budgetMiB()}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.base + "/api/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("server did not answer /api/health within 30 s (log: %s)", logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// serverArgon2 is the argon2id parameters and memory budget (in KiB) the
// server runs with: what it resolves from the same PBKEYS_* variables.
func serverArgon2() (argon2id.Params, uint32, error) {
	env, err := hooks.ConfigFromEnv()
	if err != nil {
		return argon2id.Params{}, 0, err
	}
	params := env.Tuning.Argon2
	if params == (argon2id.Params{}) {
		params = apikey.DefaultParams
	}
	return params, env.Tuning.Verifier.WithDefaults(params).MemoryBudgetKiB, nil
}

// budgetMiB is the argon2 memory budget the server runs with.
func budgetMiB() int {
	_, budgetKiB, _ := serverArgon2() // the server refuses to start on a bad variable
	return int(budgetKiB / 1024)
}

// ---------------------------------------------------------------- memory

// memoryWatch records the server's peak resident memory during a phase:
// the kernel's high-water mark (VmHWM), reset at the start through
// /proc/<pid>/clear_refs, and the highest VmRSS sampled every 10 ms in
// case the reset is not permitted.
type memoryWatch struct {
	pid     int
	stop    chan struct{}
	done    chan struct{}
	sampled atomic.Int64 // KiB
	reset   bool
}

func watchMemory(pid int) *memoryWatch {
	w := &memoryWatch{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	w.reset = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
	go func() {
		defer close(w.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if kib := procStatusKiB(pid, "VmRSS"); kib > w.sampled.Load() {
				w.sampled.Store(kib)
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// peakMiB ends the watch and returns the peak in MiB.
func (w *memoryWatch) peakMiB() float64 {
	close(w.stop)
	<-w.done
	peak := w.sampled.Load()
	if w.reset {
		peak = max(peak, procStatusKiB(w.pid, "VmHWM"))
	}
	return float64(peak) / 1024
}

func procStatusKiB(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// ---------------------------------------------------------------- load

type result struct {
	name          string
	requests      int
	rps           float64
	p50, p99, max time.Duration
	statuses      map[int]int
	peakMiB       float64
	latencies     []time.Duration // sorted
}

func (r result) statusSummary() string {
	codes := make([]int, 0, len(r.statuses))
	for c := range r.statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		label := strconv.Itoa(c)
		if c == 0 {
			label = "transport error"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", label, r.statuses[c]))
	}
	return strings.Join(parts, ", ")
}

func (r result) print() {
	fmt.Printf("%-40s %7d req  %8.0f req/s  p50 %8s  p99 %8s  peak RSS %5.0f MiB  [%s]\n",
		r.name, r.requests, r.rps, ms(r.p50), ms(r.p99), r.peakMiB, r.statusSummary())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

// measure runs `clients` closed-loop clients, each on its own keep-alive
// connection, for d, and prints and returns what they saw. watch, if set,
// is shared with a concurrent measurement (the flood).
func (s *server) measure(name string, d time.Duration, clients int, path string, auth func(i int) string, watch *memoryWatch) result {
	ownWatch := watch == nil
	if ownWatch {
		// settle: let the previous phase's garbage be collected and logged
		time.Sleep(time.Second)
		watch = watchMemory(s.cmd.Process.Pid)
	}
	r := load(s.base, name, d, clients, path, auth)
	if ownWatch {
		r.peakMiB = watch.peakMiB()
		r.print()
	}
	return r
}

func load(base, name string, d time.Duration, clients int, path string, auth func(i int) string) result {
	transport := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var latencies []time.Duration
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			own := make([]time.Duration, 0, 4096)
			codes := map[int]int{}
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
				if a := auth(i); a != "" {
					req.Header.Set("Authorization", a)
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						break // the phase ended mid-request
					}
					codes[0]++
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				own = append(own, time.Since(t0))
				codes[res.StatusCode]++
			}
			mu.Lock()
			latencies = append(latencies, own...)
			for c, n := range codes {
				statuses[c] += n
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	r := result{name: name, requests: len(latencies), rps: float64(len(latencies)) / elapsed.Seconds(), statuses: statuses, latencies: latencies}
	if n := len(latencies); n > 0 {
		r.p50, r.p99, r.max = latencies[n/2], latencies[n*99/100], latencies[n-1]
	}
	return r
}

type floodResult struct {
	good, attack result
}

// flood sends wrong secrets for the key's id from `clients` clients while
// one client keeps using the right key, for d.
func (s *server) flood(d time.Duration, clients int, path string, fx *fixture) floodResult {
	time.Sleep(time.Second)
	watch := watchMemory(s.cmd.Process.Pid)
	var out floodResult
	var wg sync.WaitGroup
	wg.Go(func() {
		out.attack = load(s.base, "   flood: wrong secrets, one key id", d, clients, path, func(int) string {
			return "Bearer " + fx.keyID + "." + randomSecret()
		})
	})
	wg.Go(func() {
		out.good = load(s.base, "   good client under flood (API key)", d, 1, path, func(int) string { return "Bearer " + fx.key })
	})
	wg.Wait()
	peak := watch.peakMiB()
	out.good.peakMiB, out.attack.peakMiB = peak, peak
	out.attack.print()
	out.good.print()
	return out
}

func randomSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ---------------------------------------------------------------- fixture

const (
	adminEmail    = "load-admin@example.com"
	adminPassword = "load-admin-password-123"
	userEmail     = "load-user@example.com"
	userPassword  = "load-user-password-123"
)

type fixture struct {
	adminJWT string // a superuser's token
	userID   string
	jwt      string // the user's PocketBase token
	key      string // the user's API key
	keyID    string
	noteID   string // a record only the user may view
	postID   string // a record any signed-in user may view
}

// setUp creates, over REST, a user, a "notes" collection that only a
// note's owner may view, one note, a JWT for the user and an API key.
func setUp(base string) (*fixture, error) {
	var admin struct{ Token string }
	if err := call(base, "POST", "/api/collections/_superusers/auth-with-password", "",
		map[string]any{"identity": adminEmail, "password": adminPassword}, &admin); err != nil {
		return nil, err
	}
	var users struct{ Id string }
	if err := call(base, "GET", "/api/collections/users", admin.Token, nil, &users); err != nil {
		return nil, err
	}
	var user struct{ Id string }
	if err := call(base, "POST", "/api/collections/users/records", admin.Token, map[string]any{
		"email": userEmail, "password": userPassword, "passwordConfirm": userPassword, "verified": true,
	}, &user); err != nil {
		return nil, err
	}
	ownerOnly := "owner = @request.auth.id"
	if err := call(base, "POST", "/api/collections", admin.Token, map[string]any{
		"name": "notes", "type": "base", "listRule": ownerOnly, "viewRule": ownerOnly,
		"fields": []map[string]any{
			{"name": "owner", "type": "relation", "collectionId": users.Id, "maxSelect": 1, "required": true},
			{"name": "title", "type": "text"},
		},
	}, nil); err != nil {
		return nil, err
	}
	var note struct{ Id string }
	if err := call(base, "POST", "/api/collections/notes/records", admin.Token,
		map[string]any{"owner": user.Id, "title": "load test"}, &note); err != nil {
		return nil, err
	}
	signedIn := "@request.auth.id != ''"
	if err := call(base, "POST", "/api/collections", admin.Token, map[string]any{
		"name": "posts", "type": "base", "listRule": signedIn, "viewRule": signedIn,
		"fields": []map[string]any{{"name": "title", "type": "text"}},
	}, nil); err != nil {
		return nil, err
	}
	var post struct{ Id string }
	if err := call(base, "POST", "/api/collections/posts/records", admin.Token,
		map[string]any{"title": "load test"}, &post); err != nil {
		return nil, err
	}
	var auth struct{ Token string }
	if err := call(base, "POST", "/api/collections/users/auth-with-password", "",
		map[string]any{"identity": userEmail, "password": userPassword}, &auth); err != nil {
		return nil, err
	}
	var key struct{ Id, Key string }
	if err := call(base, "POST", "/api/collections/api_keys/records", auth.Token,
		map[string]any{"label": "load test"}, &key); err != nil {
		return nil, err
	}
	if key.Key == "" {
		return nil, errors.New("the key was not revealed on creation")
	}
	fx := &fixture{adminJWT: admin.Token, userID: user.Id, jwt: auth.Token, key: key.Key, keyID: key.Id, noteID: note.Id, postID: post.Id}
	// both credentials work (and the key's verification is now cached)
	for _, a := range []string{fx.jwt, "Bearer " + fx.key} {
		if err := call(base, "GET", "/api/collections/notes/records/"+fx.noteID, a, nil, nil); err != nil {
			return nil, err
		}
	}
	return fx, nil
}

func call(base, method, path, authorization string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func numCPU() int {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(raw), "processor\t:")
}

// interleaved measures base and other in rounds (numbered from 1),
// alternating which goes first so that neither always follows the other
// and a noisy neighbour slows both alike, and returns each one's results
// and the per-round ratios other/base of requests per second, sorted.
func interleaved(rounds int, base, other func(round int) result) (bases, others []result, ratios []float64) {
	for i := range rounds {
		var b, o result
		if i%2 == 0 {
			b, o = base(i+1), other(i+1)
		} else {
			o, b = other(i+1), base(i+1)
		}
		bases, others = append(bases, b), append(others, o)
		ratios = append(ratios, o.rps/b.rps)
	}
	slices.Sort(ratios)
	return bases, others, ratios
}
