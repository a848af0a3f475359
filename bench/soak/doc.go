// Command soak is the sustained-load run behind `make soak` (not part of CI).
//
// It builds the exchange function as a release binary, starts it on
// loopback against a JWKS it serves itself, and sends it a fixed rate of
// requests (default 500 per second for 60 s), open loop, mixing valid tokens
// (RS256 and ES256, bearer and RFC 8693) with hostile ones: expired, alg
// none, HS256 keyed with the public key, garbage, oversize token and body,
// unknown kid, wrong issuer and audience, no token, wrong methods,
// preflights and health checks. In the middle the JWKS goes down for a
// while.
//
// Every answer is judged against the contract: a valid token gets 200 and a
// token that verifies with the secret for its subject; each hostile request
// gets its own 4xx; a 5xx is a wrong answer except a 502 for an unknown kid
// sent while the JWKS was down (or within one unknown-kid refresh interval
// after, while the cache still remembers the failure). The run fails on any
// wrong answer, transport error or dropped request, on a log line holding
// the secret or a token, and when file descriptors or memory do not settle.
//
// The function binary exposes no profiling endpoint, so the process is
// sampled from outside, through /proc/<pid>: resident memory (VmRSS and its
// peak), threads and open file descriptors (sockets among them), before the
// load, every few seconds during it, and after it has stopped and the
// client's idle connections are closed. Linux only.
package main
