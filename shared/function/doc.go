// Package function is the seam between a function's handler and the
// platform that serves it: a [Builder] turns validated configuration and
// explicit dependencies ([Deps]) into an http.Handler. The platform
// (package platform) imports this package, not the handlers' domain, and
// the handlers (exchange, refresh) implement Builder.
package function
