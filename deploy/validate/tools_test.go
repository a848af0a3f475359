package validate

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	serializerjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The modules whose CRD schemas the manifests are checked against, read from
// the Go module cache (go mod download) at test time. knative.dev/serving
// v0.42.2 is also the version whose Go types and validation are compiled in
// (go.mod): it is the newest whose dependencies the module proxy serves;
// v0.51.0 is the newest release, whose knative.dev/pkg it does not serve, so
// only its CRD schema is used.
const (
	knativeModule     = "knative.dev/serving"
	knativeTypes      = "v0.42.2"
	knativeNewest     = "v0.51.0"
	knativeServiceCRD = "config/core/300-resources/service.yaml"
	traefikModule     = "github.com/traefik/traefik/v3"
	traefikVersion    = "v3.6.12"
	traefikCRDs       = "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
)

// moduleDir returns the directory of module@version in the module cache,
// downloading it through the module proxy if needed.
func moduleDir(t *testing.T, module, version string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "mod", "download", "-json", module+"@"+version).Output()
	if err != nil {
		t.Fatalf("go mod download %s@%s: %v", module, version, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		t.Fatalf("go mod download %s@%s: %s %v", module, version, info.Error, err)
	}
	return info.Dir
}

// crdSchema is one version's schema of a CRD, ready for the API server's own
// validation and pruning code.
type crdSchema struct {
	where      string // module@version and CRD name, for messages
	validator  validation.SchemaValidator
	structural *structuralschema.Structural
}

// loadCRD reads the CRD named name from file (a YAML stream) and returns its
// schema for version.
func loadCRD(t *testing.T, file, name, version, where string) crdSchema {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(doc, &crd); err != nil || crd.Name != name {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Name != version || v.Schema == nil {
				continue
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			ss, err := structuralschema.NewStructural(&internal)
			if err != nil {
				t.Fatalf("%s: not a structural schema: %v", where, err)
			}
			sv, _, err := validation.NewSchemaValidator(&internal)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			return crdSchema{where: where + " " + name + "/" + version, validator: sv, structural: ss}
		}
	}
	t.Fatalf("%s: no CRD %s with a %s schema in %s", where, name, version, file)
	return crdSchema{}
}

// check validates obj as the API server validates a custom resource of this
// CRD, and reports what it would prune (fields the schema does not know).
func (s crdSchema) check(obj map[string]any) []string {
	var problems []string
	if errs := validation.ValidateCustomResource(field.NewPath(""), obj, s.validator); len(errs) > 0 {
		problems = append(problems, s.where+": "+errs.ToAggregate().Error())
	}
	var clone map[string]any
	b, _ := json.Marshal(obj)
	if err := json.Unmarshal(b, &clone); err != nil {
		return append(problems, err.Error())
	}
	if unknown := pruning.PruneWithOptions(clone, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}); len(unknown) > 0 {
		problems = append(problems, s.where+": fields the schema does not know (the API server would drop them): "+strings.Join(unknown, ", "))
	}
	return problems
}

var (
	knativeCRDOnce sync.Once
	knativeCRDs    []crdSchema
)

// knativeServiceSchemas returns the Service CRD schema of the Knative version
// compiled in and of the newest release.
func knativeServiceSchemas(t *testing.T) []crdSchema {
	t.Helper()
	knativeCRDOnce.Do(func() {
		for _, v := range []string{knativeTypes, knativeNewest} {
			dir := moduleDir(t, knativeModule, v)
			knativeCRDs = append(knativeCRDs, loadCRD(t, filepath.Join(dir, knativeServiceCRD), "services.serving.knative.dev", "v1", knativeModule+"@"+v))
		}
	})
	if len(knativeCRDs) != 2 {
		t.Fatal("Knative CRD schemas did not load")
	}
	return knativeCRDs
}

// scheme knows every type the manifests use, with their real Go types.
func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, networkingv1.AddToScheme, servingv1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// decodeStrict decodes one object into its registered Go type, failing on
// unknown or duplicate fields (the API server's strict field validation).
func decodeStrict(t *testing.T, s *runtime.Scheme, data []byte) (runtime.Object, error) {
	t.Helper()
	codec := serializerjson.NewSerializerWithOptions(serializerjson.DefaultMetaFactory, s, s,
		serializerjson.SerializerOptions{Yaml: !json.Valid(data), Strict: true})
	obj, _, err := codec.Decode(data, nil, nil)
	return obj, err
}

// build runs kustomize (its Go API, as `kustomize build` and `kubectl apply
// -k` do) on dir, on disk or in fsys.
func build(t *testing.T, fsys filesys.FileSystem, dir string) ([]*resource.Resource, error) {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		return nil, err
	}
	return m.Resources(), nil
}

// kindOf is the kind and group of a built resource, e.g. "Deployment.apps".
func kindOf(r *resource.Resource) string {
	g := r.GetGvk()
	return strings.TrimSuffix(g.Kind+"."+g.Group, ".")
}
