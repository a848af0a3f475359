//go:build tools

package dex

// A blank import of a main package is legal only in a file that is never
// built; it makes "go mod tidy" keep Dex and its dependencies in go.sum.
import _ "github.com/dexidp/dex/cmd/dex"
