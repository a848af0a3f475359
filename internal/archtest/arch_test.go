package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, pkgs...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	return strings.Fields(string(out))
}

func TestImportGraph(t *testing.T) {
	tests := []struct {
		name      string
		pkgs      []string
		forbidden []string
	}{
		{
			name:      "function binaries hold no dev issuer, local runtime or test harness",
			pkgs:      []string{"supabridge/functions/exchange", "supabridge/functions/refresh"},
			forbidden: []string{"supabridge/dev/", "supabridge/cmd/", "supabridge/internal/", "supabridge/e2e/", "supabridge/bench/", "github.com/jackc/pgx", "github.com/google/go-containerregistry"},
		},
		{
			name:      "shared packages depend on no binary, dev or test package",
			pkgs:      []string{"supabridge/shared/..."},
			forbidden: []string{"supabridge/dev/", "supabridge/cmd/", "supabridge/functions/", "supabridge/internal/", "supabridge/e2e/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deps(t, tt.pkgs...)
			if len(got) < 5 {
				t.Fatalf("got %d dependencies, want the real graph", len(got))
			}
			for _, d := range got {
				for _, f := range tt.forbidden {
					if strings.HasPrefix(d, f) {
						t.Errorf("%v depends on %s", tt.pkgs, d)
					}
				}
			}
		})
	}
}
