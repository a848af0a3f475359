// Package platform serves one function's http.Handler in whichever place the
// binary was started: as an AWS Lambda function when AWS_LAMBDA_RUNTIME_API
// is set (API Gateway REST v1, HTTP API v2, Function URL and ALB events, told
// apart by probing the event), else as an HTTP server on PORT for OpenFaaS
// (of-watchdog mode=http), Knative and plain processes, with read, write and
// idle timeouts, a header cap ([MaxHeaderBytes]), a connection cap
// ([MaxConns]: more wait, idle keep-alive connections are reclaimed) and a
// graceful stop on SIGTERM. At start it logs the Go runtime's soft memory
// limit (GOMEMLIMIT), which the manifests set below the container's.
//
// A configuration error stops the process at start with one line naming the
// variable; under Lambda it is also reported to the Runtime API's init/error
// endpoint, so the console shows the reason instead of a crash loop.
//
// At start it logs one line naming the key that signs (the variable it came
// from, its alg and kid, the signing variables set but not used) and hands
// the edge the key set the function publishes at /.well-known/jwks.json.
//
// It knows functions only through package function's Builder and Deps, and
// answers its own refusals (a Lambda event that is no HTTP request) through
// the edge, so they carry the same CORS headers and JSON error shape as
// every other response.
package platform
