// Command supabridge is the operator's tool: `serve` runs the functions
// locally (the runtime behind `make run`); later subcommands check a
// deployment and debug tokens. Run `supabridge help` for the list.
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv))
}
