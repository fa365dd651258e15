// Package bench measures what authentication costs on a real request: the
// same record view (GET /api/collections/notes/records/{id}) through
// PocketBase's full router — default middlewares, our hooks, the record
// rules — authenticated by a PocketBase JWT, by an API key with a warm
// verifier, and by an API key with the verifier cache disabled, plus
// /api/health with no auth as the ceiling.
//
// The benchmarks in bench_test.go run each case for `go test -bench` (and
// -cpuprofile), interleaved in rounds, and print the ratios in one run
// (`make bench`). Keys are hashed with apikey.DefaultParams, as in
// production.
//
// Everything is in the _test.go files: the cases need the whole plugin
// (hooks/hookstest), which no package under internal/ imports.
package bench
