// Package dex pins the Dex OIDC provider (github.com/dexidp/dex, tag
// v2.45.1, pseudo-version v0.0.0-20260303133905-11d2eeb52b42) that the
// integration tests run. It holds no code: tools.go (build tag "tools")
// blank-imports github.com/dexidp/dex/cmd/dex so that this module's go.mod
// and go.sum pin Dex and its whole dependency graph.
//
// Why a module of its own: Dex cannot be "go install"ed (its go.mod has a
// replace directive, and the module proxy serves only some of its
// versions), and its ~100 dependencies must stay out of the root module.
// The root module's "./..." patterns do not descend into this directory.
//
// The replace directive in Dex's go.mod at this version is
//
//	replace github.com/dexidp/dex/api/v2 => ./api/v2
//
// a path inside Dex's repository that its module zip leaves out, so it
// cannot be copied here. Instead the nested module comes from the proxy at
// the version Dex's go.mod requires, github.com/dexidp/dex/api/v2 v2.4.0
// (the proxy refuses v2.4.1 and a pseudo-version of the v2.45.1 commit).
// It only serves Dex's gRPC API, which the tests leave off.
//
// Build (scripts/dex-build.sh does this, caching the result outside the
// repository):
//
//	cd tools/dex && CGO_ENABLED=0 go build -trimpath \
//	    -ldflags "-s -w -X main.version=v0.0.0-20260303133905-11d2eeb52b42" \
//	    -o dex github.com/dexidp/dex/cmd/dex
//
// CGO_ENABLED=0 leaves out SQLite (github.com/mattn/go-sqlite3 needs cgo),
// so the tests use "storage: memory".
//
// To move to another Dex version: set the require line in go.mod to the new
// tag's pseudo-version (the proxy answers
// "go list -m github.com/dexidp/dex@<commit>"), check the new go.mod's
// replace directives, run "go mod tidy" here (never at the root), and run
// the tests of internal/testenv/dex: the cache key changes with go.sum.
package dex
