// Package rapi is a small Lambda Runtime API server for tests: enough of the
// protocol (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html)
// to run a real provided.al2023 bootstrap binary outside AWS.
//
// The AWS emulator (aws-lambda-rie) cannot be installed from the registries
// our CI reaches, so end-to-end tests start a Server, exec the binary with
// AWS_LAMBDA_RUNTIME_API set to Server.Addr, and drive it with Invoke; a
// runtime that fails to start reports through InitError.
//
// It serves, on 127.0.0.1 only:
//
//	GET  /2018-06-01/runtime/invocation/next            (long poll for the next event)
//	POST /2018-06-01/runtime/invocation/{id}/response   (the function's result)
//	POST /2018-06-01/runtime/invocation/{id}/error      (the function's error)
//	POST /2018-06-01/runtime/init/error                 (initialisation failed)
//
// It does not emulate billing, timeouts that kill the process, response
// streaming or the Extensions and Telemetry APIs. It is a test helper and must
// never be imported by production code.
package rapi
