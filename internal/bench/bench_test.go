package bench_test

import (
	"fmt"
	"testing"
)

// rounds is how many times each case runs, interleaved, so that a noisy
// neighbour slows every case alike; the report takes the median.
const rounds = 5

// BenchmarkAuth runs the four cases in rounds and prints their figures and
// ratios. Run it with `make bench`, or alone:
//
//	go test -run '^$' -bench '^BenchmarkAuth$' ./internal/bench
//
// One case with a CPU profile: -bench 'BenchmarkAuth/key$' -cpuprofile cpu.out
func BenchmarkAuth(b *testing.B) {
	cases := Cases(b)
	samples := map[string][]Sample{}
	for range rounds {
		for _, c := range cases {
			var last Sample
			if b.Run(c.Name, func(b *testing.B) { last = c.Run(b) }) {
				samples[c.Name] = append(samples[c.Name], last)
			}
		}
	}
	fmt.Print(Report(cases, samples))
}
