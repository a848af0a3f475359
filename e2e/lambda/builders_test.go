package lambda

import (
	"supabridge/shared/exchange"
	"supabridge/shared/refresh"
	"supabridge/shared/runtime"
)

// builders maps each function to the constructor its binary passes to
// runtime.Main. A function with events but no builder here is skipped by
// TestEventsInProcess.
func builders() map[string]runtime.Builder {
	return map[string]runtime.Builder{
		"exchange": exchange.New,
		"refresh":  refresh.New,
	}
}
