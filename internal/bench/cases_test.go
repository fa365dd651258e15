package bench_test

import (
	"cmp"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Case is one request to benchmark.
type Case struct {
	Name          string // short name used in output: jwt, key, key-nocache, health
	Title         string // what it measures
	Handler       http.Handler
	Path          string
	Authorization string // "" sends none
}

// Case names, in the order Cases returns them.
const (
	JWT        = "jwt"
	Key        = "key"
	KeyNoCache = "key-nocache"
	Health     = "health"
	JWTWhoami  = "jwt-whoami"
	KeyWhoami  = "key-whoami"
)

// WhoamiPath is a route the benchmark apps add: it answers the caller's id
// and does nothing else, so its cost is routing plus authentication — the
// worst case for comparing the two auth paths.
const WhoamiPath = "/bench/whoami"

// Cases builds two apps (verifier cache on, and off) with the hookstest
// fixture and returns the four cases. Apps are cleaned up when tb ends.
func Cases(tb testing.TB) []Case {
	tb.Helper()
	warm, warmKey := newServer(tb, true)
	cold, coldKey := newServer(tb, false)
	notePath := "/api/collections/notes/records/" + hookstest.AliceNoteID
	jwt := hookstest.JWT(tb, warm.app, hookstest.AliceID)
	cases := []Case{
		{Name: JWT, Title: "record view, PocketBase JWT", Handler: warm.handler, Path: notePath,
			Authorization: jwt},
		{Name: Key, Title: "record view, API key, warm verifier", Handler: warm.handler, Path: notePath,
			Authorization: "Bearer " + warmKey},
		{Name: KeyNoCache, Title: "record view, API key, no verifier cache (argon2id per request)", Handler: cold.handler, Path: notePath,
			Authorization: "Bearer " + coldKey},
		{Name: Health, Title: "/api/health, no auth", Handler: warm.handler, Path: "/api/health"},
		{Name: JWTWhoami, Title: "auth only (" + WhoamiPath + "), PocketBase JWT", Handler: warm.handler, Path: WhoamiPath,
			Authorization: jwt},
		{Name: KeyWhoami, Title: "auth only (" + WhoamiPath + "), API key, warm verifier", Handler: warm.handler, Path: WhoamiPath,
			Authorization: "Bearer " + warmKey},
	}
	for _, c := range cases {
		if code := c.Do(); code != http.StatusOK { // also warms the verifier
			tb.Fatalf("%s: GET %s answered %d", c.Name, c.Path, code)
		}
	}
	return cases
}

// Do sends the case's request once and returns the status code.
func (c Case) Do() int {
	req := httptest.NewRequest(http.MethodGet, c.Path, nil)
	if c.Authorization != "" {
		req.Header.Set("Authorization", c.Authorization)
	}
	rec := httptest.NewRecorder()
	c.Handler.ServeHTTP(rec, req)
	return rec.Code
}

// Sample is what one benchmark run of a case measured.
type Sample struct {
	ReqPerSec   float64
	NsPerOp     float64
	AllocsPerOp float64
	BytesPerOp  float64
}

// Run benchmarks c with b.RunParallel (GOMAXPROCS goroutines), reports
// requests per second next to ns/op and allocs/op, and returns the same
// figures. The testing package calls it with growing b.N; the last call's
// sample is the one to keep.
func (c Case) Run(b *testing.B) Sample {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code := c.Do(); code != http.StatusOK {
				b.Errorf("%s: status %d", c.Name, code)
				return
			}
		}
	})
	b.StopTimer()
	runtime.ReadMemStats(&after)
	n, secs := float64(b.N), b.Elapsed().Seconds()
	if secs <= 0 {
		return Sample{}
	}
	s := Sample{
		ReqPerSec:   n / secs,
		NsPerOp:     secs * 1e9 / n,
		AllocsPerOp: float64(after.Mallocs-before.Mallocs) / n,
		BytesPerOp:  float64(after.TotalAlloc-before.TotalAlloc) / n,
	}
	b.ReportMetric(s.ReqPerSec, "req/s")
	return s
}

// Report renders the median of each case's samples and the ratios the
// issue asks for: key/jwt (target >= 1.0), key/key-nocache, key/health.
// Each ratio is taken within a round (cases run back to back) and the
// median over rounds is shown, so a noisy neighbour that slows one round
// does not skew it.
func Report(cases []Case, samples map[string][]Sample) string {
	var out strings.Builder
	fmt.Fprintf(&out, "\n%-12s %10s %10s %10s %10s  %s\n", "case", "req/s", "µs/op", "allocs/op", "B/op", "what")
	for _, c := range cases {
		m := median(samples[c.Name], func(s Sample) float64 { return s.ReqPerSec })
		fmt.Fprintf(&out, "%-12s %10.0f %10.1f %10.0f %10.0f  %s\n", c.Name, m.ReqPerSec, m.NsPerOp/1e3, m.AllocsPerOp, m.BytesPerOp, c.Title)
	}
	ratio := func(a, b string) (med, lo, hi float64) {
		var rs []float64
		for i := range min(len(samples[a]), len(samples[b])) {
			if d := samples[b][i].ReqPerSec; d > 0 {
				rs = append(rs, samples[a][i].ReqPerSec/d)
			}
		}
		if len(rs) == 0 {
			return 0, 0, 0
		}
		slices.Sort(rs)
		return rs[len(rs)/2], rs[0], rs[len(rs)-1]
	}
	fmt.Fprintf(&out, "\nratios of req/s, median (min-max) of %d rounds, GOMAXPROCS=%d:\n", len(samples[Key]), runtime.GOMAXPROCS(0))
	for _, r := range []struct{ label, a, b, note string }{
		{"b/a  key / jwt        ", Key, JWT, "   (target >= 1.0)"},
		{"b/c  key / key-nocache", Key, KeyNoCache, ""},
		{"b/d  key / health     ", Key, Health, ""},
		{"auth only: key / jwt  ", KeyWhoami, JWTWhoami, ""},
	} {
		m, lo, hi := ratio(r.a, r.b)
		fmt.Fprintf(&out, "  %s = %.3f (%.3f-%.3f)%s\n", r.label, m, lo, hi, r.note)
	}
	return out.String()
}

// median returns the sample with the median by.
func median(ss []Sample, by func(Sample) float64) Sample {
	if len(ss) == 0 {
		return Sample{}
	}
	sorted := slices.Clone(ss)
	slices.SortFunc(sorted, func(a, b Sample) int { return cmp.Compare(by(a), by(b)) })
	return sorted[len(sorted)/2]
}

type server struct {
	app     core.App
	handler http.Handler
}

// newServer builds a fixture app hashing with production argon2id
// parameters, issues a key for Alice and builds the full router, as
// `serve` does (OnServe triggered, then BuildMux).
func newServer(tb testing.TB, cache bool) (*server, string) {
	tb.Helper()
	env := hookstest.New(tb, func(c *hooks.Config) {
		c.Tuning.Argon2 = apikey.DefaultParams
		if !cache {
			c.Tuning.Verifier.CacheSize = -1
		}
	})
	tb.Cleanup(env.App.Cleanup)
	_, key, err := env.Store.Issue(env.Alice(tb), keystore.Options{Label: "bench"}, keystore.Origin{})
	if err != nil {
		tb.Fatal(err)
	}
	return &server{app: env.App, handler: buildMux(tb, env.App)}, key.String()
}

// buildMux builds app's full router as `serve` does (OnServe triggered,
// then BuildMux), with the WhoamiPath route added.
func buildMux(tb testing.TB, app core.App) http.Handler {
	tb.Helper()
	router, err := apis.NewRouter(app)
	if err != nil {
		tb.Fatal(err)
	}
	event := &core.ServeEvent{App: app, Router: router}
	err = app.OnServe().Trigger(event, func(e *core.ServeEvent) error {
		e.Router.GET(WhoamiPath, func(e *core.RequestEvent) error {
			if e.Auth == nil {
				return e.UnauthorizedError("", nil)
			}
			return e.String(http.StatusOK, e.Auth.Id)
		})
		return e.Next()
	})
	if err != nil {
		tb.Fatal(err)
	}
	mux, err := router.BuildMux()
	if err != nil {
		tb.Fatal(err)
	}
	return mux
}
