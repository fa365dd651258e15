package main

// The JWT/key comparison as an operator would measure it: wrk, a client
// that costs almost nothing per request, against the saturated server, on
// two endpoints, JWT and key runs interleaved. A Go client shares the two
// cores with the server and costs the same per request for both kinds, so
// it pulls the ratio toward 1; wrk shows the server's CPU per request.

import (
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	wrkRounds  = flag.Int("wrk-rounds", 5, "rounds of interleaved JWT and key wrk runs per endpoint (0: no wrk comparison)")
	wrkPhase   = flag.Duration("wrk-phase", 6*time.Second, "length of each wrk run")
	wrkWarmUp  = flag.Duration("wrk-warmup", 3*time.Second, "a wrk run of each kind before the measured ones")
	wrkThreads = flag.Int("wrk-threads", 2, "wrk threads")
	wrkConns   = flag.Int("wrk-conns", 32, "wrk connections")
)

// wrkEndpoint is one endpoint of the comparison.
type wrkEndpoint struct {
	name, path string
}

// wrkComparison runs the comparison on both endpoints and prints each
// round and the median ratio with its range. It returns the medians.
func wrkComparison(srv *server, fx *fixture) ([]float64, error) {
	if *wrkRounds <= 0 {
		return nil, nil
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return nil, errors.New("wrk is not installed: `sudo apt-get install wrk` (Debian's package), then run again")
	}
	endpoints := []wrkEndpoint{
		{"the owner's own record", "/api/collections/users/records/" + fx.userID},
		{"a plain collection record", "/api/collections/posts/records/" + fx.postID},
	}
	fmt.Printf("wrk -t%d -c%d, %v runs, JWT and key interleaved, %d rounds per endpoint after a %v warm-up of each\n",
		*wrkThreads, *wrkConns, *wrkPhase, *wrkRounds, *wrkWarmUp)
	jwt, key := fx.jwt, "Bearer "+fx.key
	var medians []float64
	for _, ep := range endpoints {
		for _, auth := range []string{jwt, key} {
			if _, err := wrkRun(srv.base+ep.path, auth, *wrkWarmUp); err != nil {
				return nil, err
			}
		}
		var ratios []float64
		for round := range *wrkRounds {
			order := []string{jwt, key}
			if round%2 == 1 {
				order = []string{key, jwt}
			}
			rps := map[string]float64{}
			for _, auth := range order {
				r, err := wrkRun(srv.base+ep.path, auth, *wrkPhase)
				if err != nil {
					return nil, err
				}
				rps[auth] = r
			}
			ratio := rps[key] / rps[jwt]
			ratios = append(ratios, ratio)
			fmt.Printf("   %-28s round %d: JWT %8.0f req/s, key %8.0f req/s, key/JWT %.3f\n", ep.name, round+1, rps[jwt], rps[key], ratio)
		}
		slices.Sort(ratios)
		median := ratios[len(ratios)/2]
		medians = append(medians, median)
		fmt.Printf("wrk  key / JWT, %-26s = %.3f  (median of %d rounds, min %.3f, max %.3f; target >= 1.0)\n",
			ep.name, median, len(ratios), ratios[0], ratios[len(ratios)-1])
	}
	return medians, nil
}

var (
	wrkRequestsPerSec = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2xx         = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkErrors         = regexp.MustCompile(`Socket errors:.*`)
)

// wrkRun runs wrk against url with the Authorization header for d and
// returns its requests per second; any non-2xx answer is an error (a
// measurement of refusals is no measurement).
func wrkRun(url, authorization string, d time.Duration) (float64, error) {
	seconds := max(1, int(d.Round(time.Second)/time.Second))
	out, err := exec.Command("wrk", "-t"+strconv.Itoa(*wrkThreads), "-c"+strconv.Itoa(*wrkConns),
		"-d"+strconv.Itoa(seconds)+"s", "-H", "Authorization: "+authorization, url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %v: %s", err, out)
	}
	text := string(out)
	if m := wrkNon2xx.FindStringSubmatch(text); m != nil {
		return 0, fmt.Errorf("wrk got %s non-2xx answers from %s:\n%s", m[1], url, text)
	}
	if m := wrkErrors.FindString(text); m != "" && !strings.Contains(m, "connect 0, read 0, write 0, timeout 0") {
		return 0, fmt.Errorf("wrk: %s", m)
	}
	m := wrkRequestsPerSec.FindStringSubmatch(text)
	if m == nil {
		return 0, fmt.Errorf("wrk printed no Requests/sec:\n%s", text)
	}
	return strconv.ParseFloat(m[1], 64)
}
