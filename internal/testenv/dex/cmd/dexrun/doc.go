// Command dexrun serves a real Dex on 127.0.0.1 for tests written in other
// languages (the JavaScript client's, for one), using the same harness as
// the Go tests (package supabridge/internal/testenv/dex).
//
// Usage, from anywhere inside the repository:
//
//	go run ./internal/testenv/dex/cmd/dexrun [-id-token-ttl 10m] [-no-rotation] [-redirect-uris URL,...] [-v]
//
// When Dex serves discovery, dexrun writes one line of JSON to stdout and
// nothing else:
//
//	{"issuer":"http://127.0.0.1:PORT/dex","discovery_url":"...","token_url":"...",
//	 "jwks_url":"...","client_id":"supabridge-test","client_secret":"...",
//	 "users":[{"email":"alice@example.test","password":"...","user_id":"...",
//	           "preferred_username":"alice","groups":["admins","staff"]}, ...]}
//
// It then stays up until its standard input reaches end of file or it gets
// SIGINT or SIGTERM, and stops Dex before exiting. Standard input must be a
// pipe the caller keeps open (node's child_process.spawn gives one): with
// /dev/null, as under CI, dexrun stops at once unless run with -stdin=false.
// Closing stdin is the dependable way to stop it through "go run", which
// does not pass SIGTERM on to the program it runs; better still, build it
// once (go build -o DIR/dexrun ./internal/testenv/dex/cmd/dexrun) and
// signal the binary. Dex dies with dexrun (Linux). With
// -v Dex's own log goes to stderr; without it, the log is printed to
// stderr only if Dex exits by itself.
//
// The Dex binary comes from DEX_BIN or scripts/dex-build.sh, as for Start;
// the first build on a machine takes minutes, so a caller should allow for
// it (or run `make dex` first).
package main
