package validate

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryManifestExercised: each YAML file under deploy/ is either part of
// a kustomization this module builds, or named by a test that reads it (here
// or in package deploy). A new manifest without a test fails here.
func TestEveryManifestExercised(t *testing.T) {
	built := map[string]bool{}
	for _, o := range overlays {
		built[o.dir] = true
	}
	built["components/helm-secret"] = true // through overlays/helm and overlays/knative-helm

	var tests strings.Builder
	for _, pattern := range []string{"*_test.go", "../*_test.go"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tests.Write(b)
		}
	}

	n := 0
	err := filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(deployDir, path)
		if d.IsDir() {
			if rel == "validate" {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(rel); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		n++
		if built[filepath.Dir(rel)] {
			return nil
		}
		if !strings.Contains(tests.String(), `"`+rel+`"`) && !strings.Contains(tests.String(), `"`+filepath.Base(rel)+`"`) &&
			!strings.Contains(tests.String(), `, "`+rel+`")`) {
			t.Errorf("%s is neither built by kustomize here nor named by a test", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 15 {
		t.Errorf("found %d manifests under deploy/, fewer than there are", n)
	}
}
