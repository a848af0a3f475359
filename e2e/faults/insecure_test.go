package faults_test

import (
	"encoding/json"
	"strings"
	"testing"

	"supabridge/internal/testprovider"
	"supabridge/shared/exchange"
)

// TestInsecureHTTPWarnsAtStart: a provider allowed plain http
// (AUTH_INSECURE_HTTP) is named in a warning when the function starts; a
// provider without the opt-out is not.
func TestInsecureHTTPWarnsAtStart(t *testing.T) {
	t.Parallel()
	p := testprovider.New(t, "/app/", testprovider.NewKey(t, "k1", "ES256"))
	for _, optOut := range []bool{false, true} {
		env := jwksEnv(p, "1s")
		if optOut {
			env["AUTH_INSECURE_HTTP"] = "true"
		}
		_, logs := served(t, "exchange", exchange.New, env)
		var warned []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["level"] == "WARN" && strings.Contains(m["msg"].(string), "insecure_http is set") {
				warned = append(warned, m)
			}
		}
		if optOut && (len(warned) != 1 || warned[0]["provider"] != "default") {
			t.Errorf("AUTH_INSECURE_HTTP=true: got warnings %v, want one naming provider default", warned)
		}
		if !optOut && len(warned) != 0 {
			t.Errorf("without the opt-out: got warnings %v, want none", warned)
		}
	}
}
