// Package bench holds senderbound's end-to-end benchmarks; it has no API.
//
// The benchmarks live in test files and measure the library from outside,
// through its public API only:
//
//   - BenchmarkHTTP drives real net/http servers over loopback with a Go
//     load generator (keep-alive clients, proofs made before the timed part)
//     and reports requests per second for the middleware beside servers that
//     do only the unavoidable signature verification, or nothing at all.
//   - BenchmarkSustainedMemory pushes enough distinct tokens and proofs
//     through one Guard for its token cache and DPoP replay cache to reach
//     their bounds, and reports whether the heap and the resident size
//     level off.
//
// The peer comparison (github.com/auth0/go-jwt-middleware) is a separate
// module in bench/peer, so that senderbound's go.mod never depends on it.
// bench/run.sh runs everything and summarises it with benchstat; see
// BENCHMARKS.md at the repository root.
package bench
