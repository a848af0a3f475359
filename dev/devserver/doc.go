// Package devserver is the local runtime behind `make run` and
// `supabridge serve`: every function at /functions/v1/<name>, Supabase's URL
// layout, built exactly as the binaries build them, and — only when asked for
// with Options.DevIssuer — the development issuer of package issuer at
// /dev/issuer, with exchange and refresh pointed at it.
//
// It refuses the development issuer beside a configured provider, with a real
// Supabase secret, or on an address that is not loopback, and refuses to serve
// without any provider; its banner prints the address it really listens on.
// It is never part of a function binary.
package devserver
