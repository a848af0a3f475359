package lambda

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestShippedExamplesSetAnAudience checks that nothing an operator copies
// leaves AUTH_AUDIENCE empty: without an audience any token the issuer
// signed, for any of its clients, gets a session, and supabridge doctor
// fails such a provider. The SAM template asks for the audience at deploy
// (no default), the events' environment and samconfig.toml set one, and no
// page shows an empty assignment. (deploy/ has its own manifest tests.)
func TestShippedExamplesSetAnAudience(t *testing.T) {
	tmpl, _ := parseTemplate(t)
	p, ok := tmpl.Parameters["AuthAudience"]
	if !ok {
		t.Fatal("template.yaml: no AuthAudience parameter")
	}
	if p.Default != nil {
		t.Errorf("template.yaml: AuthAudience has the default %v; it must be given at deploy", p.Default)
	}
	if _, ok := tmpl.Parameters["AuthAllowAnyAudience"]; !ok {
		t.Error("template.yaml: no AuthAllowAnyAudience parameter, the explicit opt-out")
	}
	for fn, env := range loadEnv(t) {
		if strings.TrimSpace(env["AUTH_AUDIENCE"]) == "" {
			t.Errorf("events/env.json: %s leaves AUTH_AUDIENCE empty", fn)
		}
	}
	samconfig, err := os.ReadFile(filepath.Join(repoRoot, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`AuthAudience=\\"[^"\\]+\\"`).Match(samconfig) {
		t.Error(`samconfig.toml: parameter_overrides sets no AuthAudience=\"…\"`)
	}

	empty := regexp.MustCompile(`(?m)(AUTH_AUDIENCE\s*[=:]\s*(""|'')?\s*$|AuthAudience=(""|'')?(\s|$))`)
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join(repoRoot, "README.md"), filepath.Join(repoRoot, "events", "README.md"))
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		if m := empty.Find(b); m != nil {
			t.Errorf("%s: an empty audience: %q", page, m)
		}
	}
}
