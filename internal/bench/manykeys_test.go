package bench_test

import (
	"fmt"
	"testing"

	"pbkeys/internal/bench"
)

// manyKeys is how many distinct active keys BenchmarkManyKeys compares with one.
const manyKeys = 100_000

// BenchmarkManyKeys: 100,000 distinct active keys against one, on one app,
// interleaved in rounds; prints the ratio (`make bench`). Alone:
//
//	go test -run '^$' -bench '^BenchmarkManyKeys$' ./internal/bench
func BenchmarkManyKeys(b *testing.B) {
	cases := bench.ManyKeysCases(b, manyKeys)
	samples := map[string][]bench.Sample{}
	for range rounds {
		for _, c := range cases {
			var last bench.Sample
			if b.Run(c.Name, func(b *testing.B) { last = c.Run(b) }) {
				samples[c.Name] = append(samples[c.Name], last)
			}
		}
	}
	fmt.Print(bench.ManyKeysReport(cases, samples))
}
