// Package lambda holds the end-to-end tests of the AWS Lambda packaging:
// template.yaml, samconfig.toml, events/ and the bootstrap binaries.
//
// Every events/*.json file is replayed, with the expectation events/expect.json
// gives it and the configuration events/env.json gives its function:
//
//   - in process, through platform.NewLambdaHandler(platform.NewHandler(...)),
//     exactly what lambda.Start runs (TestEventsInProcess);
//   - through the real bootstrap binaries, built for linux with CGO_ENABLED=0
//     and -tags lambda.norpc, driven over the Lambda Runtime API by
//     internal/testenv/rapi, and through aws-lambda-rie when it is on PATH
//     (TestBootstrap);
//
// and template.yaml is parsed with goformation and checked against
// shared/config (TestTemplate). BenchmarkColdStart measures exec to first
// response.
//
// The package has no non-test code; it exists for `go test ./e2e/lambda`.
package lambda
