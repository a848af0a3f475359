package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	netapi "knative.dev/networking/pkg/apis/networking"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"supabridge/shared/config"
)

// functions are the functions every overlay deploys.
var functions = []string{"exchange", "refresh"}

// overlay is one directory `kubectl apply -k` takes, and what it must give.
type overlay struct {
	dir         string
	knative     bool
	secret, key string // the Supabase JWT secret's Secret and key
}

// overlays lists every kustomization users apply; TestEveryOverlayListed
// keeps it complete.
var overlays = []overlay{
	{dir: "base", secret: "supabase-secrets", key: "JWT_SECRET"},
	{dir: "overlays/helm", secret: "demo-supabase-jwt", key: "secret"},
	{dir: "overlays/knative", knative: true, secret: "supabase-secrets", key: "JWT_SECRET"},
	{dir: "overlays/knative-helm", knative: true, secret: "demo-supabase-jwt", key: "secret"},
}

const (
	deployDir       = ".."
	secretsDir      = "/var/openfaas/secrets" // where providers.yaml finds client secrets on every platform
	testJWTSecret   = "validate-test-supabase-jwt-secret-0123456789"
	nonrootID       = 65532
	healthPath      = "/healthz"
	containerPort   = 8080
	servicePort     = 80
	clientSecretRef = "supabridge-client-secrets"
)

// rendered is what one overlay builds to, decoded into the real types.
type rendered struct {
	configMaps  map[string]*corev1.ConfigMap // by name without the hash suffix
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	ksvcs       map[string]*servingv1.Service
	ksvcRaw     map[string]map[string]any // as kustomize wrote them, for the CRD schemas
}

// render builds o with kustomize and decodes every object strictly.
func render(t *testing.T, o overlay) rendered {
	t.Helper()
	res, err := build(t, filesys.MakeFsOnDisk(), filepath.Join(deployDir, o.dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", o.dir, err)
	}
	s := scheme(t)
	out := rendered{configMaps: map[string]*corev1.ConfigMap{}, deployments: map[string]*appsv1.Deployment{},
		services: map[string]*corev1.Service{}, ksvcs: map[string]*servingv1.Service{}, ksvcRaw: map[string]map[string]any{}}
	hashed := regexp.MustCompile(`^(.*)-[a-z0-9]{10}$`)
	for _, r := range res {
		data, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decodeStrict(t, s, data)
		if err != nil {
			t.Fatalf("%s %s %s: %v", o.dir, kindOf(r), r.GetName(), err)
		}
		if r.GetNamespace() != "" {
			t.Errorf("%s %s %s: namespace %q is fixed; kubectl -n must choose it (the Secret's namespace)", o.dir, kindOf(r), r.GetName(), r.GetNamespace())
		}
		if r.GetLabels()["app.kubernetes.io/part-of"] != "supabridge" {
			t.Errorf("%s %s %s: no app.kubernetes.io/part-of=supabridge label", o.dir, kindOf(r), r.GetName())
		}
		switch v := obj.(type) {
		case *corev1.ConfigMap:
			m := hashed.FindStringSubmatch(v.Name)
			if m == nil {
				t.Errorf("%s ConfigMap %s: no content hash in its name; an edit would not roll the pods", o.dir, v.Name)
				continue
			}
			out.configMaps[m[1]] = v
		case *appsv1.Deployment:
			out.deployments[v.Name] = v
		case *corev1.Service:
			out.services[v.Name] = v
		case *servingv1.Service:
			out.ksvcs[v.Name] = v
			var raw map[string]any
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			out.ksvcRaw[v.Name] = raw
		default:
			t.Errorf("%s: unexpected %T %s", o.dir, obj, r.GetName())
		}
	}
	return out
}

func TestOverlays(t *testing.T) {
	providersFile, err := os.ReadFile(filepath.Join(deployDir, "base/providers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	imageVersion := makefileVar(t, "IMAGE_VERSION")
	for _, o := range overlays {
		t.Run(o.dir, func(t *testing.T) {
			r := render(t, o)
			providers, settings := r.configMaps["supabridge-providers"], r.configMaps["supabridge-settings"]
			if providers == nil || settings == nil || len(r.configMaps) != 2 {
				t.Fatalf("ConfigMaps %v, want supabridge-providers and supabridge-settings", slices.Collect(maps.Keys(r.configMaps)))
			}
			if got := providers.Data["providers.yaml"]; got != string(providersFile) {
				t.Errorf("supabridge-providers holds %d bytes, not deploy/base/providers.yaml", len(got))
			}

			var wantNames []string
			for _, fn := range functions {
				wantNames = append(wantNames, "supabridge-"+fn)
			}
			if o.knative {
				if len(r.deployments)+len(r.services) > 0 {
					t.Errorf("Knative overlay keeps Deployments %v / Services %v; Knative makes its own of the same names", slices.Collect(maps.Keys(r.deployments)), slices.Collect(maps.Keys(r.services)))
				}
				if got := slices.Sorted(maps.Keys(r.ksvcs)); !slices.Equal(got, wantNames) {
					t.Fatalf("Knative Services %v, want %v", got, wantNames)
				}
			} else {
				if got := slices.Sorted(maps.Keys(r.deployments)); !slices.Equal(got, wantNames) {
					t.Fatalf("Deployments %v, want %v", got, wantNames)
				}
				if len(r.ksvcs) > 0 {
					t.Errorf("plain overlay holds Knative Services")
				}
			}

			for _, fn := range functions {
				name := "supabridge-" + fn
				t.Run(fn, func(t *testing.T) {
					var pod corev1.PodSpec
					if o.knative {
						ks := r.ksvcs[name]
						pod = ks.Spec.Template.Spec.PodSpec
						checkKnative(t, ks, r.ksvcRaw[name])
					} else {
						d := r.deployments[name]
						pod = d.Spec.Template.Spec
						checkService(t, r.services[name], d)
					}
					if len(pod.Containers) != 1 {
						t.Fatalf("%d containers, want 1", len(pod.Containers))
					}
					c := pod.Containers[0]
					if want := "dev.local/supabridge/" + fn + ":" + imageVersion; c.Image != want {
						t.Errorf("image %s, want %s (Makefile IMAGE_REPO/fn:IMAGE_VERSION)", c.Image, want)
					}
					checkPod(t, o, pod, providers, settings)
					checkConfigLoads(t, o, c, pod, providers, settings)
				})
			}
		})
	}
}

// checkPod checks the pod every overlay must give a function: the secret
// reference, the providers file, probes, resources and a locked-down user.
func checkPod(t *testing.T, o overlay, pod corev1.PodSpec, providers, settings *corev1.ConfigMap) {
	t.Helper()
	c := pod.Containers[0]
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken is not false: the functions never call the API server")
	}

	// The JWT secret: the first env entry, from the overlay's Secret and key.
	if len(c.Env) == 0 || c.Env[0].Name != config.EnvSecretAlias || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.SecretKeyRef == nil {
		t.Fatalf("env[0] is not JWT_SECRET from a Secret: %+v", c.Env)
	}
	if ref := c.Env[0].ValueFrom.SecretKeyRef; ref.Name != o.secret || ref.Key != o.key {
		t.Errorf("JWT_SECRET from %s/%s, want %s/%s", ref.Name, ref.Key, o.secret, o.key)
	}

	// The providers file: AUTH_PROVIDERS_FILE names the key of the mounted ConfigMap.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
		if !m.ReadOnly {
			t.Errorf("volume %s mounted writable", m.Name)
		}
	}
	file := envValue(c, config.EnvAuthProvidersFile)
	m, ok := mounts[filepath.Dir(file)]
	if !ok || vols[m.Name].ConfigMap == nil || vols[m.Name].ConfigMap.Name != providers.Name {
		t.Errorf("%s=%s is not in a mount of ConfigMap %s", config.EnvAuthProvidersFile, file, providers.Name)
	} else if _, ok := providers.Data[filepath.Base(file)]; !ok {
		t.Errorf("%s names key %s, which %s lacks", config.EnvAuthProvidersFile, filepath.Base(file), providers.Name)
	}
	// Client secrets: the directory providers.yaml reads them from is the
	// optional Secret supabridge-client-secrets.
	if m, ok := mounts[secretsDir]; !ok || vols[m.Name].Secret == nil || vols[m.Name].Secret.SecretName != clientSecretRef ||
		vols[m.Name].Secret.Optional == nil || !*vols[m.Name].Secret.Optional {
		t.Errorf("%s is not the optional Secret %s", secretsDir, clientSecretRef)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != settings.Name {
		t.Errorf("envFrom %+v, want the ConfigMap %s", c.EnvFrom, settings.Name)
	}

	// Probes on /healthz, at the container's port.
	for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != healthPath {
			t.Errorf("%s probe %+v, want httpGet %s", what, p, healthPath)
		}
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != containerPort {
		t.Errorf("ports %+v, want one containerPort %d (the image's PORT)", c.Ports, containerPort)
	}

	// Resources, and GOMEMLIMIT under the memory limit with room to spare.
	limit := c.Resources.Limits.Memory()
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || limit.IsZero() {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	soft, err := goMemLimit(envValue(c, "GOMEMLIMIT"))
	if err != nil {
		t.Errorf("GOMEMLIMIT: %v", err)
	} else if l := limit.Value(); soft > l*9/10 || soft < l*3/4 {
		t.Errorf("GOMEMLIMIT %d bytes for a %s limit: want 75-90%% of it", soft, limit)
	}

	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no securityContext")
	}
	for _, ck := range []struct {
		what string
		ok   bool
	}{
		{"runAsNonRoot: true", sc.RunAsNonRoot != nil && *sc.RunAsNonRoot},
		{"runAsUser: 65532 (the image's nonroot)", sc.RunAsUser != nil && *sc.RunAsUser == nonrootID},
		{"runAsGroup: 65532", sc.RunAsGroup != nil && *sc.RunAsGroup == nonrootID},
		{"readOnlyRootFilesystem: true", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
		{"allowPrivilegeEscalation: false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
		{"capabilities drop ALL", sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL")},
		{"seccompProfile RuntimeDefault", sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
	} {
		if !ck.ok {
			t.Errorf("securityContext: want %s", ck.what)
		}
	}
}

// checkConfigLoads loads the configuration the pod describes with
// supabridge's own shared/config: the literal env, the settings ConfigMap,
// the Secret (a test value), the providers file with its client secrets
// moved to a directory the test may write.
func checkConfigLoads(t *testing.T, o overlay, c corev1.Container, pod corev1.PodSpec, providers, settings *corev1.ConfigMap) {
	t.Helper()
	names := map[string]bool{"GOMEMLIMIT": true} // the Go runtime's
	for _, v := range config.Variables() {
		names[v.Name] = true
		names[v.Name+"_FILE"] = v.Secret || v.Name == config.EnvAuthPublicKey
	}
	env := map[string]string{config.EnvPort: strconv.Itoa(containerPort)}
	for k, v := range settings.Data {
		if !names[k] {
			t.Errorf("%s sets %s, which the configuration does not read", settings.Name, k)
		}
		env[k] = v
	}
	dir := t.TempDir()
	for _, e := range c.Env {
		if !names[e.Name] {
			t.Errorf("env sets %s, which the configuration does not read", e.Name)
		}
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Optional != nil && *e.ValueFrom.SecretKeyRef.Optional:
			// An optional Secret (the bridge's own signing key) is absent
			// in the default setup: the variable is then unset.
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = testJWTSecret
		case e.ValueFrom != nil:
			t.Errorf("env %s comes from %+v; only Secrets and literals are expected", e.Name, e.ValueFrom)
		default:
			env[e.Name] = e.Value
		}
	}
	// The providers file as mounted, its client secrets under dir.
	content := providers.Data[filepath.Base(env[config.EnvAuthProvidersFile])]
	for _, m := range regexp.MustCompile(regexp.QuoteMeta(secretsDir)+`/([a-z0-9-]+)`).FindAllStringSubmatch(content, -1) {
		if err := os.WriteFile(filepath.Join(dir, m[1]), []byte("client-secret-"+m[1]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "providers.yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(content, secretsDir, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	env[config.EnvAuthProvidersFile] = p
	cfg, err := config.Load(config.MapEnv(env))
	if err != nil {
		t.Fatalf("config.Load with %s's environment: %v", o.dir, err)
	}
	if cfg.Port != containerPort || len(cfg.Providers) == 0 {
		t.Errorf("config port %d providers %d, want %d and some", cfg.Port, len(cfg.Providers), containerPort)
	}
}

// checkService checks that the Service of a Deployment reaches its pods on
// port 80, the address Kong and Traefik are given.
func checkService(t *testing.T, s *corev1.Service, d *appsv1.Deployment) {
	t.Helper()
	if s == nil {
		t.Fatalf("no Service %s", d.Name)
	}
	for k, v := range s.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Service selects %s=%s, which the pods do not carry", k, v)
		}
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Deployment selects %s=%s, which its pods do not carry", k, v)
		}
	}
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != servicePort || s.Spec.Ports[0].Name != "http" {
		t.Fatalf("Service ports %+v, want one named http on %d", s.Spec.Ports, servicePort)
	}
	target := s.Spec.Ports[0].TargetPort.String()
	c := d.Spec.Template.Spec.Containers[0]
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
		return p.Name == target || strconv.Itoa(int(p.ContainerPort)) == target
	}) {
		t.Errorf("Service targetPort %s is no port of the container %+v", target, c.Ports)
	}
	for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p != nil && p.HTTPGet != nil && p.HTTPGet.Port.String() != c.Ports[0].Name {
			t.Errorf("%s probe port %s, want the container's port %s", what, p.HTTPGet.Port.String(), c.Ports[0].Name)
		}
	}
}

// checkKnative runs Knative Serving's own defaulting and validation (what
// its webhook does on create) and its CRD schemas, and checks cluster-local
// visibility.
func checkKnative(t *testing.T, ks *servingv1.Service, raw map[string]any) {
	t.Helper()
	if got := ks.Labels[netapi.VisibilityLabelKey]; got != serving.VisibilityClusterLocal {
		t.Errorf("label %s=%q, want %q: the functions are reached through Kong, not a public domain", netapi.VisibilityLabelKey, got, serving.VisibilityClusterLocal)
	}
	for _, s := range knativeServiceSchemas(t) {
		if errs := s.check(raw); len(errs) > 0 {
			t.Errorf("Knative Service %s: %v", ks.Name, errs)
		}
	}
	ctx := apis.WithinCreate(context.Background())
	defaulted := ks.DeepCopy()
	defaulted.SetDefaults(ctx)
	if err := defaulted.Validate(ctx); err != nil {
		t.Errorf("Knative validation (knative.dev/serving %s): %v", knativeTypes, err)
	}
	if c := defaulted.Spec.Template.Spec.Containers[0]; c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != healthPath {
		t.Errorf("after Knative's defaults the readiness probe is %+v", c.ReadinessProbe)
	}
}

// TestKnativeMatchesBase keeps the Knative Services' pods equal to the base
// Deployments' but for what Knative owns: the port's name and the probes'
// port, and the Deployment's pod-only fields.
func TestKnativeMatchesBase(t *testing.T) {
	base := render(t, overlays[0])
	kn := render(t, overlays[2])
	for _, fn := range functions {
		name := "supabridge-" + fn
		want := base.deployments[name].Spec.Template.Spec.DeepCopy()
		got := kn.ksvcs[name].Spec.Template.Spec.PodSpec.DeepCopy()
		for _, p := range []*corev1.PodSpec{want, got} {
			c := &p.Containers[0]
			c.Ports = []corev1.ContainerPort{{ContainerPort: c.Ports[0].ContainerPort}}
			for _, pr := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
				pr.HTTPGet.Port = intstr.IntOrString{}
			}
			p.TerminationGracePeriodSeconds = nil // Knative derives it from timeoutSeconds
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the Knative pod differs from the base Deployment's:\nbase    %s\nknative %s", fn, a, b)
		}
	}
}

// TestKnativeRefusesResourceFieldRef backs the choice written in the
// manifests: GOMEMLIMIT is a literal because Knative refuses resourceFieldRef
// (unless the kubernetes.podspec-fieldref feature is on).
func TestKnativeRefusesResourceFieldRef(t *testing.T) {
	ks := render(t, overlays[2]).ksvcs["supabridge-exchange"].DeepCopy()
	c := &ks.Spec.Template.Spec.Containers[0]
	for i := range c.Env {
		if c.Env[i].Name == "GOMEMLIMIT" {
			c.Env[i].Value = ""
			c.Env[i].ValueFrom = &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}
		}
	}
	ctx := apis.WithinCreate(context.Background())
	ks.SetDefaults(ctx)
	err := ks.Validate(ctx)
	if err == nil || !strings.Contains(err.Error(), "resourceFieldRef") {
		t.Errorf("Knative validation of a resourceFieldRef GOMEMLIMIT: %v, want it refused", err)
	}
}

// TestKnativeSchemaCatches shows the CRD checks bite: a field the schema
// does not know, and a wrongly typed one, are reported by both versions.
func TestKnativeSchemaCatches(t *testing.T) {
	raw := render(t, overlays[2]).ksvcRaw["supabridge-exchange"]
	b, _ := json.Marshal(raw)
	for what, mutate := range map[string]func([]byte) []byte{
		"unknown field": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"imagePullPolicy"`), []byte(`"imagePullPolcy"`), 1)
		},
		"wrong type": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"timeoutSeconds":30`), []byte(`"timeoutSeconds":"30"`), 1)
		},
	} {
		bad := mutate(b)
		if bytes.Equal(bad, b) {
			t.Fatalf("%s: nothing to change", what)
		}
		var obj map[string]any
		if err := json.Unmarshal(bad, &obj); err != nil {
			t.Fatal(err)
		}
		for _, s := range knativeServiceSchemas(t) {
			if errs := s.check(obj); len(errs) == 0 {
				t.Errorf("%s: %s accepted it", what, s.where)
			}
		}
	}
}

// TestStrictDecoding shows the decoding is strict: a misspelt field in a
// rendered Deployment is an error, not silently dropped.
func TestStrictDecoding(t *testing.T) {
	d := render(t, overlays[0]).deployments["supabridge-exchange"]
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(raw, []byte(`"imagePullPolicy"`), []byte(`"imagePullPolcy"`), 1)
	if bytes.Equal(bad, raw) {
		t.Fatal("no imagePullPolicy to misspell")
	}
	if _, err := decodeStrict(t, scheme(t), bad); err == nil || !runtime.IsStrictDecodingError(err) {
		t.Errorf("decoding a misspelt field: %v, want a strict decoding error", err)
	}
}

// TestHelmPatchFailsClosed moves JWT_SECRET from the first env entry in a
// copy of the manifests: the Helm component's JSON patch must then fail the
// build (its "test" operation) instead of rewriting another variable.
func TestHelmPatchFailsClosed(t *testing.T) {
	fsys := filesys.MakeFsInMemory()
	for _, dir := range []string{"base", "components/helm-secret", "overlays/helm"} {
		entries, err := os.ReadDir(filepath.Join(deployDir, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(deployDir, dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if dir == "base" && e.Name() == "exchange.yaml" {
				// Put AUTH_PROVIDERS_FILE first.
				moved := regexp.MustCompile(`(?s)(            - name: JWT_SECRET\n.*?key: JWT_SECRET\n)(            - name: AUTH_PROVIDERS_FILE\n\s+value: [^\n]+\n)`)
				if !moved.Match(data) {
					t.Fatal("base/exchange.yaml: JWT_SECRET is not followed by AUTH_PROVIDERS_FILE; update this test")
				}
				data = moved.ReplaceAll(data, []byte("$2$1"))
			}
			if err := fsys.WriteFile(filepath.Join("/deploy", dir, e.Name()), data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := build(t, fsys, "/deploy/base"); err != nil {
		t.Fatalf("the reordered base itself must build: %v", err)
	}
	_, err := build(t, fsys, "/deploy/overlays/helm")
	if err == nil {
		t.Fatal("the Helm overlay built with JWT_SECRET moved; the patch would have rewritten another variable")
	}
	t.Logf("refused as it should be: %v", err)
}

// TestEveryOverlayListed keeps the overlays table complete.
func TestEveryOverlayListed(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(deployDir, "overlays", "*", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		rel, _ := filepath.Rel(deployDir, filepath.Dir(d))
		if !slices.ContainsFunc(overlays, func(o overlay) bool { return o.dir == rel }) {
			t.Errorf("%s is not in the overlays table: it is never built", rel)
		}
	}
}

// envValue returns the literal value c's env gives name.
func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// goMemLimit parses GOMEMLIMIT as the Go runtime does (runtime/debug:
// a number of bytes with an optional B, KiB, MiB, GiB or TiB suffix).
func goMemLimit(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, err
	}
	// Cross-check with Kubernetes' reading of the same amount.
	if q, err := resource.ParseQuantity(strconv.FormatInt(n*mult, 10)); err != nil || q.Value() != n*mult {
		return 0, err
	}
	return n * mult, nil
}

// makefileVar reads a NAME ?= value default from the Makefile.
func makefileVar(t *testing.T, name string) string {
	t.Helper()
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `\s*\?=\s*(\S+)`).FindSubmatch(mk)
	if m == nil {
		t.Fatalf("Makefile sets no %s", name)
	}
	return string(m[1])
}
