// Package devserver is the local runtime behind `make run` and
// `supabridge serve`: every function at /functions/v1/<name>, Supabase's URL
// layout, built exactly as the binaries build them, and — when no provider is
// configured — the development issuer of package issuer at /dev/issuer.
//
// It is never part of a function binary.
package devserver
