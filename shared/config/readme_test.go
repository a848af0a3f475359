package config_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"supabridge/shared/config"
)

// TestReadmeConfigurationTable keeps the README's configuration table in
// step with Variables(): every row names a variable the configuration
// reads, and every variable it reads is in the table's section.
func TestReadmeConfigurationTable(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "\n## Configuration\n")
	end := strings.Index(readme[start+1:], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("README.md has no \"## Configuration\" section")
	}
	section := readme[start : start+1+end]
	known := map[string]bool{}
	for _, v := range config.Variables() {
		known[v.Name] = true
		if !strings.Contains(section, "`"+v.Name+"`") {
			t.Errorf("README's Configuration section does not name %s", v.Name)
		}
	}
	rows := regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]*)`").FindAllStringSubmatch(section, -1)
	if len(rows) < 20 {
		t.Fatalf("found %d table rows, want the whole table", len(rows))
	}
	for _, r := range rows {
		if !known[r[1]] {
			t.Errorf("README's table has a row for %s, which the configuration does not read", r[1])
		}
	}
}
