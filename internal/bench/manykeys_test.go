package bench_test

import (
	"fmt"
	"slices"
	"testing"
)

// manyKeys is how many distinct active keys BenchmarkManyKeys compares with one.
const manyKeys = 100_000

// manyKeysRounds is more than rounds: a round of two cases is short, and a
// ratio near its target needs more of them to be read through the noise.
const manyKeysRounds = 9

// BenchmarkManyKeys: 100,000 distinct active keys against one, on one app,
// interleaved in rounds; prints the ratio (`make bench`). Alone:
//
//	go test -run '^$' -bench '^BenchmarkManyKeys$' ./internal/bench
func BenchmarkManyKeys(b *testing.B) {
	cases := ManyKeysCases(b, manyKeys)
	samples := map[string][]Sample{}
	for i := range manyKeysRounds {
		order := slices.Clone(cases)
		if i%2 == 1 {
			slices.Reverse(order) // neither case always follows the other
		}
		for _, c := range order {
			var last Sample
			if b.Run(c.Name, func(b *testing.B) { last = c.Run(b) }) {
				samples[c.Name] = append(samples[c.Name], last)
			}
		}
	}
	fmt.Print(ManyKeysReport(cases, samples))
}
