// Command gen writes the SAM test events under events/: one JSON file per
// function, trigger and case, the expectation sidecar events/expect.json, and
// events/env.json for `sam local invoke --env-vars`.
//
// Run it from the repository root:
//
//	go run ./events/gen
//
// The output depends only on the committed test-only key
// (events/TEST-ONLY-signing-key.pem), so running it twice gives the same
// bytes; the key itself is generated only when the file is missing. The key
// signs the provider tokens inside the "valid" events. It is trusted only
// because events/env.json names its public half in AUTH_PUBLIC_KEY, with an
// issuer under the reserved .invalid TLD, so nothing here can pass for a real
// provider and no event needs the network.
//
// Generated file names follow <function>.<trigger>.<case>.json; the status and
// error code each one expects are in expect.json (see events/README.md).
package main
