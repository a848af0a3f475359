package lambda

import (
	"supabridge/shared/exchange"
	"supabridge/shared/function"
	"supabridge/shared/refresh"
)

// builders maps each function to the constructor its binary passes to
// platform.Main. A function with events but no builder here is skipped by
// TestEventsInProcess.
func builders() map[string]function.Builder {
	return map[string]function.Builder{
		"exchange": exchange.New,
		"refresh":  refresh.New,
	}
}
