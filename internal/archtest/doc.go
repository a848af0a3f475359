// Package archtest checks the import graph: the function binaries never
// contain the development issuer, the local runtime or test harnesses, and
// the shared packages never depend on a binary's package.
package archtest
