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

// layers orders the packages of the functions from the top: a package may
// import its own layer or any below it, never one above. A package of
// shared/ missing here fails the test, so a new one has to be placed.
var layers = []struct {
	name string
	pkgs []string
}{
	{"functions", []string{"functions/exchange", "functions/refresh"}},
	{"serving", []string{"shared/platform", "shared/edge"}},
	{"handlers", []string{"shared/exchange", "shared/refresh"}},
	{"domain", []string{"shared/bridge", "shared/function", "shared/config"}},
	{"leaves", []string{"shared/verify", "shared/keys", "shared/claims", "shared/idp", "shared/oauth", "shared/metrics"}},
}

func TestLayers(t *testing.T) {
	level := map[string]int{}
	for i, l := range layers {
		for _, p := range l.pkgs {
			level["supabridge/"+p] = i
		}
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "supabridge/shared/...", "supabridge/functions/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < len(level) {
		t.Fatalf("go list gave %d packages, want at least %d", len(lines), len(level))
	}
	checked := 0
	for _, line := range lines {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		from, ok := level[pkg]
		if !ok {
			t.Errorf("%s is in no layer: place it in internal/archtest's layers", pkg)
			continue
		}
		for _, imp := range imports {
			if !strings.HasPrefix(imp, "supabridge/") {
				continue
			}
			to, ok := level[imp]
			switch {
			case !ok:
				t.Errorf("%s (%s) imports %s, which is in no layer", pkg, layers[from].name, imp)
			case to < from:
				t.Errorf("%s (%s) imports %s (%s): an upward import", pkg, layers[from].name, imp, layers[to].name)
			}
			checked++
		}
	}
	if checked < 10 {
		t.Fatalf("checked %d imports, want the real graph", checked)
	}
}
