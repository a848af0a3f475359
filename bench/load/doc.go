// Command load drives the exchange function's release binary over loopback
// in one of two modes: the load test (issue 7's budget), `make load` as
// `go run ./bench/load`, and the soak, `make soak` as
// `go run ./bench/load soak` (not part of CI).
//
// Both build what they run as `make build` does (CGO_ENABLED=0,
// -tags lambda.norpc, -trimpath, -ldflags "-s -w"), start it on a free
// port of 127.0.0.1 with exactly the environment it needs, wait for its
// /healthz, serve it a JWKS (Authentik-shaped issuer) that counts its
// fetches and can go down, and send it requests with vegeta (as a library).
// Every run measures, from outside through /proc/<pid>, the server's peak
// RSS (VmHWM) and CPU time, and the JWKS fetches it caused. Linux only.
//
// The load test also builds the refresh binary and the floor server
// (bench/floor/cmd/floorserver), started twice: the bare-crypto floor and,
// with FLOOR_MODE=std, the standard-library exchange; and runs, over a set
// of distinct valid RS256 tokens:
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
// latency and errors, with the peak RSS reset per run through
// /proc/<pid>/clear_refs, and the load test ends with a PASS/MISS line per
// budget item.
//
// The soak sends a fixed rate (default 500 per second for 60 s), open
// loop, mixing valid tokens (RS256 and ES256, bearer and RFC 8693) with
// hostile ones: expired, alg none, HS256 keyed with the public key,
// garbage, oversize token and body, unknown kid, wrong issuer and audience,
// no token, wrong methods, preflights and health checks. In the middle the
// JWKS goes down for a while. Every answer is judged against the contract:
// a valid token gets 200 and a token that verifies with the secret for its
// subject; each hostile request gets its own 4xx; a 5xx is a wrong answer
// except a 502 for an unknown kid sent while the JWKS was down (or within
// one unknown-kid refresh interval after, while the cache still remembers
// the failure). The function binary exposes no profiling endpoint, so it
// is also sampled through /proc/<pid> (resident memory and its peak,
// threads, open file descriptors and sockets) before the load, every few
// seconds during it, and after it has stopped and the client's idle
// connections are closed. The soak fails on any wrong answer or transport
// error, on a request that finds -max-in-flight requests already waiting,
// on a log line holding the secret or a token or at ERROR, on an unclean
// stop on SIGTERM, and when file descriptors or memory do not settle.
//
// The JWKS and the floor server listen on 127.0.0.1 only; the function
// binaries bind every interface (PORT is their only setting) and are
// addressed on 127.0.0.1. Nothing here is part of the product.
package main
