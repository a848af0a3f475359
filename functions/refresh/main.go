// Command refresh is the refresh function: a provider refresh token in, the
// provider's refresh_token grant run server-side, a new Supabase JWT and the
// provider's new tokens out. Built as "bootstrap" it serves AWS Lambda;
// elsewhere it serves HTTP on PORT. See the README for its configuration.
package main

import (
	"supabridge/shared/platform"
	"supabridge/shared/refresh"
)

func main() {
	platform.Main("refresh", refresh.New)
}
