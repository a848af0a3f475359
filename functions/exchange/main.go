// Command exchange is the exchange function: a provider JWT in, a Supabase
// JWT out. Built as "bootstrap" it serves AWS Lambda; elsewhere it serves
// HTTP on PORT. See the README for its configuration.
package main

import (
	"supabridge/shared/exchange"
	"supabridge/shared/platform"
)

func main() {
	platform.Main("exchange", exchange.New)
}
