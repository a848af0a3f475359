// Command load is the loopback load test of the exchange function (issue
// 7's budget), run by `make load` as `go run ./bench/load`.
//
// It builds the exchange and refresh binaries as `make build` does
// (CGO_ENABLED=0, -tags lambda.norpc, -trimpath, -ldflags "-s -w") and the
// floor server (bench/floor/cmd/floorserver), starts a local JWKS server
// that counts its fetches, starts the exchange and the floor server twice
// (the bare-crypto floor and, with -mode std, the standard-library
// exchange) on 127.0.0.1, and drives them with vegeta (as a library) over a
// set of distinct valid RS256 tokens:
//
//   - a fixed-rate run (-rate, default 2000 req/s, for -duration, 10 s),
//   - a max-throughput run (-workers concurrent requests for
//     -max-duration) against the exchange binary and the same run against
//     the floor server, alternating -rounds times,
//   - CPU per request (issue 20): -cpu-rounds rounds of 5 s at max
//     throughput (-workers) against the exchange, the standard-library
//     floor and the bare floor in turn; each server's own CPU time
//     (utime+stime) over the requests it answered, the medians, and the
//     exchange's ratio to both floors, the median of the rounds' (target:
//     at most 1.25 times the standard-library floor),
//   - a key-rotation run at the fixed rate: halfway, the JWKS gains a new
//     key and every later token is signed with it; the run must cost
//     exactly one JWKS fetch,
//   - binary sizes and the HTTP-mode cold start (exec to the first 200 on
//     /healthz, median of -cold-starts).
//
// With two or more CPUs the servers run on CPU 0 and the generator (this
// process, re-executed under taskset) on CPU 1, so that they do not
// compete; the output says so. Each run reports requests/s, p50/p99/max
// latency, errors, the server's peak RSS (VmHWM, reset per run through
// /proc/<pid>/clear_refs) and CPU time, and the JWKS fetches it caused.
//
// Everything listens on 127.0.0.1 only. Nothing here is part of the
// product.
package main
