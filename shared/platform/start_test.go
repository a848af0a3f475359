package platform

import (
	"strings"
	"testing"

	"supabridge/internal/testkit"

	"supabridge/shared/config"
	"supabridge/shared/exchange"
)

// TestRunStartFailureNamesTheVariable runs the exchange function's start
// with an unusable AUTH_PUBLIC_KEY: the one stderr line must name the
// variable the operator set, not the internal provider name "default".
func TestRunStartFailureNamesTheVariable(t *testing.T) {
	var stderr testkit.Buffer
	env := config.MapEnv(map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"})
	if code := run("exchange", exchange.New, env, &stderr); code != 1 {
		t.Fatalf("exit code: got %d, want 1", code)
	}
	line := strings.TrimSuffix(stderr.String(), "\n")
	if want := "supabridge exchange: cannot start: config: AUTH_PUBLIC_KEY: unusable public key material"; !strings.HasPrefix(line, want) {
		t.Errorf("stderr: got %q, want it to start with %q", line, want)
	}
	if strings.Contains(line, `provider "default"`) || strings.Contains(line, "start: bridge") {
		t.Errorf("stderr: got %q, want no internal provider name", line)
	}
}
