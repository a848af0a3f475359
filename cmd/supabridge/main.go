// Command supabridge is the operator's tool, offline by default: `serve` runs
// the functions locally (the runtime behind `make run`), `doctor` checks a
// deployment's configuration and providers, `keys` and `secret` make the
// Supabase API keys and JWT secret, `decode` and `verify` debug tokens,
// `sub` shows the sub minted for provider subjects and the SQL computing it.
// Run `supabridge help` for the list.
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv))
}
