package deploy_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"supabridge/shared/config"
)

// The layout tools/ocimage builds; the manifests must match it.
const (
	binDir         = "/usr/local/bin/"
	containerPort  = 8080 // what an image serves: the binary, or of-watchdog in front of it
	watchdogMetric = 8081 // of-watchdog's metrics listener, never free for the binary
	nonrootID      = 65532
	healthPath     = "/healthz"
	openfaasDir    = "/var/openfaas/secrets/"
	docPath        = "../docs/deploy-k3s.md"
)

// functions are the functions both platforms deploy.
var functions = []string{"exchange", "refresh"}

// watchdogVars are the of-watchdog settings stack.yml may set besides the
// function's own configuration (github.com/openfaas/of-watchdog, config/config.go).
// "port" is absent on purpose: the watchdog must stay on 8080.
var watchdogVars = []string{
	"mode", "upstream_url", "http_upstream_url", "fprocess", "function_process", "prefix_logs",
	"read_timeout", "write_timeout", "exec_timeout", "healthcheck_interval", "max_inflight",
	"http_buffer_req_body", "buffer_http", "log_buffer_size", "ready_path", "suppress_lock",
}

// goMemLimit is the Go runtime's soft memory limit, read by the runtime,
// not by the configuration: each manifest sets it below its container's
// memory limit (README, "Memory").
const goMemLimit = "GOMEMLIMIT"

// checkMemLimit wants gomemlimit (GOMEMLIMIT's syntax) between half and
// nine tenths of limit (a Kubernetes quantity such as 64Mi): enough below
// it for the GC to act before the kernel's OOM killer does, and for what
// is not Go heap (stacks, the binary, a watchdog beside it).
func checkMemLimit(t *testing.T, gomemlimit, limit string) {
	t.Helper()
	soft, ok1 := bytesOf(gomemlimit, map[string]int64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30})
	hard, ok2 := bytesOf(limit, map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30})
	switch {
	case !ok1:
		t.Errorf("%s %q: want a size like 56MiB", goMemLimit, gomemlimit)
	case !ok2:
		t.Errorf("memory limit %q: want a size like 64Mi", limit)
	case soft < hard/2 || soft > hard*9/10:
		t.Errorf("%s %s with a memory limit of %s: want between half and nine tenths of it", goMemLimit, gomemlimit, limit)
	}
}

// bytesOf reads <digits><unit> with unit one of units (or none: bytes).
func bytesOf(v string, units map[string]int64) (int64, bool) {
	i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(v)
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	mul, ok := units[v[i:]]
	if v[i:] == "" {
		mul, ok = 1, true
	}
	return n * mul, err == nil && ok && i > 0
}

// stackFile is the part of a faas-cli stack file we use (openfaas/go-sdk
// stack.Services); strict parsing refuses any other key, so a typo such as
// "enviroment" fails here instead of being ignored by faas-cli.
type stackFile struct {
	Version  string `json:"version"`
	Provider struct {
		Name    string `json:"name"`
		Gateway string `json:"gateway"`
	} `json:"provider"`
	Functions map[string]stackFunction `json:"functions"`
}

type stackFunction struct {
	Image                  string            `json:"image"`
	SkipBuild              bool              `json:"skip_build"`
	FProcess               string            `json:"fprocess"`
	ReadOnlyRootFilesystem bool              `json:"readonly_root_filesystem"`
	Environment            map[string]string `json:"environment"`
	Secrets                []string          `json:"secrets"`
	Labels                 map[string]string `json:"labels"`
	Requests               *quantities       `json:"requests"`
	Limits                 *quantities       `json:"limits"`
}

type quantities struct {
	Memory string `json:"memory"`
	CPU    string `json:"cpu"`
}

// knService is the part of a serving.knative.dev/v1 Service we use.
type knService struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Template struct {
			Metadata objectMeta `json:"metadata"`
			Spec     struct {
				TimeoutSeconds       *int        `json:"timeoutSeconds"`
				ContainerConcurrency *int        `json:"containerConcurrency"`
				Containers           []container `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	Env     []envVar `json:"env"`
	EnvFrom []struct {
		SecretRef *struct {
			Name string `json:"name"`
		} `json:"secretRef"`
	} `json:"envFrom"`
	ReadinessProbe *probe `json:"readinessProbe"`
	LivenessProbe  *probe `json:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	} `json:"resources"`
	SecurityContext *struct {
		RunAsNonRoot             *bool  `json:"runAsNonRoot"`
		RunAsUser                *int64 `json:"runAsUser"`
		RunAsGroup               *int64 `json:"runAsGroup"`
		ReadOnlyRootFilesystem   *bool  `json:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool  `json:"allowPrivilegeEscalation"`
		Capabilities             *struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
		SeccompProfile *struct {
			Type string `json:"type"`
		} `json:"seccompProfile"`
	} `json:"securityContext"`
}

type envVar struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	ValueFrom *struct {
		SecretKeyRef *secretKeyRef `json:"secretKeyRef"`
	} `json:"valueFrom"`
}

type secretKeyRef struct {
	Name     string `json:"name"`
	Key      string `json:"key"`
	Optional *bool  `json:"optional"`
}

type probe struct {
	HTTPGet *struct {
		Path string `json:"path"`
		Port any    `json:"port"`
	} `json:"httpGet"`
	InitialDelaySeconds int `json:"initialDelaySeconds"`
	PeriodSeconds       int `json:"periodSeconds"`
	TimeoutSeconds      int `json:"timeoutSeconds"`
	FailureThreshold    int `json:"failureThreshold"`
	SuccessThreshold    int `json:"successThreshold"`
}

var substRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// expandDefaults does what faas-cli's envsubst does with an empty
// environment: ${NAME:-default} becomes default, ${NAME} becomes "". A "$"
// left after that is an expression faas-cli would read differently.
func expandDefaults(t *testing.T, data []byte) []byte {
	t.Helper()
	out := substRE.ReplaceAllFunc(data, func(m []byte) []byte {
		return substRE.FindSubmatch(m)[2]
	})
	if i := bytes.IndexByte(out, '$'); i >= 0 {
		t.Fatalf("stack.yml: unexpanded %q: use ${NAME} or ${NAME:-default}", out[i:min(len(out), i+20)])
	}
	return out
}

// loadStack reads deploy/openfaas/stack.yml with the defaults filled in.
func loadStack(t *testing.T) stackFile {
	t.Helper()
	raw, err := os.ReadFile("openfaas/stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	var s stackFile
	if err := yaml.UnmarshalStrict(expandDefaults(t, raw), &s); err != nil {
		t.Fatalf("stack.yml: %v", err)
	}
	return s
}

// loadKnative reads every Service in deploy/knative/, keyed by its name.
func loadKnative(t *testing.T) map[string]knService {
	t.Helper()
	files, err := filepath.Glob("knative/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/knative/*.yaml (%v)", err)
	}
	out := map[string]knService{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
			if strings.TrimSpace(doc) == "" || isComments(doc) {
				continue
			}
			var s knService
			if err := yaml.UnmarshalStrict([]byte(doc), &s); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if _, dup := out[s.Metadata.Name]; dup {
				t.Fatalf("%s: Service %q defined twice", f, s.Metadata.Name)
			}
			if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); s.Metadata.Name != want {
				t.Errorf("%s: Service named %q, want %q like its file", f, s.Metadata.Name, want)
			}
			out[s.Metadata.Name] = s
		}
	}
	return out
}

func isComments(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// variables indexes config.Variables by every name the configuration reads:
// NAME, NAME_FILE for Secret ones, and AUTH_PUBLIC_KEY_FILE.
func variables(t *testing.T) (names map[string]config.Variable, required []config.Variable) {
	t.Helper()
	names = map[string]config.Variable{}
	for _, v := range config.Variables() {
		names[v.Name] = v
		if v.Secret {
			names[v.Name+"_FILE"] = v
		}
		if v.Required {
			required = append(required, v)
		}
	}
	if v, ok := names[config.EnvAuthPublicKey]; ok {
		names[config.EnvAuthPublicKey+"_FILE"] = v
	}
	if len(required) == 0 {
		t.Fatal("config.Variables lists no required variable; the checks below would be empty")
	}
	return names, required
}

// checkRequired reports each required variable that env does not set,
// directly, as _FILE, or through the JWT_SECRET alias.
func checkRequired(t *testing.T, where string, env map[string]bool, required []config.Variable) {
	t.Helper()
	for _, v := range required {
		forms := []string{v.Name, v.Name + "_FILE"}
		if v.Name == config.EnvSecret {
			forms = append(forms, config.EnvSecretAlias, config.EnvSecretAlias+"_FILE")
		}
		if !slices.ContainsFunc(forms, func(n string) bool { return env[n] }) {
			t.Errorf("%s: required %s is not set (any of %v)", where, v.Name, forms)
		}
	}
	sources := []string{config.EnvAuthJWKSURL, config.EnvAuthPublicKey, config.EnvAuthPublicKey + "_FILE",
		config.EnvAuthIssuer, config.EnvAuthProviders, config.EnvAuthProvidersFile}
	if !slices.ContainsFunc(sources, func(n string) bool { return env[n] }) {
		t.Errorf("%s: no provider key source among %v", where, sources)
	}
}

// writeSecret writes a test secret file and returns its path.
func writeSecret(t *testing.T, dir, name, value string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testJWTSecret stands for the Supabase JWT secret: 40 bytes, over GoTrue's 32.
const testJWTSecret = "deploy-test-supabase-jwt-secret-0123456789"

// imageRE splits an image reference of ours into function and version.
var imageRE = regexp.MustCompile(`^dev\.local/supabridge/([a-z0-9-]+):([0-9A-Za-z][0-9A-Za-z._-]*)$`)

func TestOpenFaaSStack(t *testing.T) {
	s := loadStack(t)
	names, required := variables(t)

	if s.Version != "1.0" || s.Provider.Name != "openfaas" {
		t.Errorf("stack version %q provider %q, want 1.0 and openfaas", s.Version, s.Provider.Name)
	}
	if got := slices.Sorted(maps.Keys(s.Functions)); !slices.Equal(got, functions) {
		t.Fatalf("stack functions %v, want %v", got, functions)
	}
	for _, fn := range functions {
		t.Run(fn, func(t *testing.T) {
			f := s.Functions[fn]
			env := f.Environment

			// The image is the watchdog variant of this function's image.
			m := imageRE.FindStringSubmatch(f.Image)
			if m == nil || m[1] != fn || !strings.HasSuffix(m[2], "-openfaas") {
				t.Errorf("image %q, want dev.local/supabridge/%s:<version>-openfaas", f.Image, fn)
			}
			if !f.SkipBuild {
				t.Errorf("skip_build is false: faas-cli would try to build with Docker")
			}
			if !f.ReadOnlyRootFilesystem {
				t.Errorf("readonly_root_filesystem is false")
			}

			// of-watchdog: http mode, forwarding to the binary's PORT.
			if env["mode"] != "http" {
				t.Errorf("mode %q, want http", env["mode"])
			}
			fprocess := f.FProcess
			if fprocess == "" {
				fprocess = env["fprocess"]
			}
			if fprocess != binDir+fn {
				t.Errorf("fprocess %q, want %s", fprocess, binDir+fn)
			}
			port, err := strconv.Atoi(env[config.EnvPort])
			if err != nil {
				t.Fatalf("PORT %q is not a number", env[config.EnvPort])
			}
			u, err := url.Parse(env["upstream_url"])
			if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() != strconv.Itoa(port) {
				t.Errorf("upstream_url %q, want http://127.0.0.1:%d (PORT)", env["upstream_url"], port)
			}
			if port == containerPort || port == watchdogMetric {
				t.Errorf("PORT %d is taken by of-watchdog (8080 serves, 8081 metrics)", port)
			}
			if env["prefix_logs"] != "false" {
				t.Errorf("prefix_logs %q, want false: the binary's log lines are JSON", env["prefix_logs"])
			}

			// Every variable is the watchdog's, the Go runtime's, or one the
			// configuration reads.
			if f.Limits != nil {
				checkMemLimit(t, env[goMemLimit], f.Limits.Memory)
			}
			set := map[string]bool{}
			for k, v := range env {
				if slices.Contains(watchdogVars, k) || k == goMemLimit {
					continue
				}
				if _, ok := names[k]; !ok {
					t.Errorf("environment sets %s, which the configuration does not read", k)
				}
				if v != "" {
					set[k] = true
				}
			}
			checkRequired(t, "stack.yml "+fn, set, required)

			// Secrets: each *_FILE names a listed secret under /var/openfaas/secrets,
			// and each listed secret is read by some *_FILE.
			dir := t.TempDir()
			loadEnv := map[string]string{}
			used := map[string]bool{}
			for k, v := range env {
				if slices.Contains(watchdogVars, k) || k == goMemLimit {
					continue
				}
				loadEnv[k] = v
				if !strings.HasSuffix(k, "_FILE") {
					continue
				}
				secret, ok := strings.CutPrefix(v, openfaasDir)
				if !ok || !slices.Contains(f.Secrets, secret) {
					t.Errorf("%s=%s: want %s<one of secrets %v>", k, v, openfaasDir, f.Secrets)
					continue
				}
				used[secret] = true
				loadEnv[k] = writeSecret(t, dir, secret, testJWTSecret)
			}
			for _, sec := range f.Secrets {
				if !used[sec] {
					t.Errorf("secret %s is mounted but no *_FILE variable reads it", sec)
				}
			}

			// The configuration the stack describes loads, on the port upstream_url names.
			cfg, err := config.Load(config.MapEnv(loadEnv))
			if err != nil {
				t.Fatalf("config.Load with stack.yml's environment: %v", err)
			}
			if cfg.Port != port {
				t.Errorf("config port %d, want PORT %d", cfg.Port, port)
			}

			if f.Requests == nil || f.Requests.Memory == "" || f.Requests.CPU == "" || f.Limits == nil || f.Limits.Memory == "" {
				t.Errorf("requests %+v limits %+v: want memory and cpu requests and a memory limit", f.Requests, f.Limits)
			}
		})
	}
}

func TestKnativeServices(t *testing.T) {
	svcs := loadKnative(t)
	names, required := variables(t)

	if got := slices.Sorted(maps.Keys(svcs)); !slices.Equal(got, functions) {
		t.Fatalf("Knative Services %v, want %v", got, functions)
	}
	for _, fn := range functions {
		t.Run(fn, func(t *testing.T) {
			s := svcs[fn]
			if s.APIVersion != "serving.knative.dev/v1" || s.Kind != "Service" {
				t.Errorf("%s %s, want serving.knative.dev/v1 Service", s.APIVersion, s.Kind)
			}
			if s.Metadata.Namespace != "" {
				t.Errorf("namespace %q is fixed; leave it out so kubectl -n picks supabase-secrets' namespace", s.Metadata.Namespace)
			}
			tmpl := s.Spec.Template
			if got := tmpl.Metadata.Annotations["autoscaling.knative.dev/min-scale"]; got != "0" {
				t.Errorf("min-scale %q, want \"0\" (scale to zero)", got)
			}
			if len(tmpl.Spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(tmpl.Spec.Containers))
			}
			c := tmpl.Spec.Containers[0]
			if m := imageRE.FindStringSubmatch(c.Image); m == nil || m[1] != fn || strings.HasSuffix(m[2], "-openfaas") || m[2] == "latest" {
				t.Errorf("image %q, want dev.local/supabridge/%s:<version> (not latest, not the watchdog image)", c.Image, fn)
			}
			if len(c.Ports) != 1 || c.Ports[0].ContainerPort != containerPort {
				t.Errorf("ports %+v, want one containerPort %d (the image's PORT)", c.Ports, containerPort)
			}

			// Probes hit /healthz on the container port.
			for pname, p := range map[string]*probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("%s: want an httpGet probe", pname)
					continue
				}
				if p.HTTPGet.Path != healthPath {
					t.Errorf("%s path %q, want %s", pname, p.HTTPGet.Path, healthPath)
				}
				if port := p.HTTPGet.Port; port != nil && fmt.Sprint(port) != strconv.Itoa(containerPort) && fmt.Sprint(port) != c.Ports[0].Name {
					t.Errorf("%s port %v, want none or the container port", pname, port)
				}
			}

			// Environment: PORT is Knative's; everything else is read by the configuration.
			dir := t.TempDir()
			set := map[string]bool{}
			loadEnv := map[string]string{config.EnvPort: strconv.Itoa(containerPort)} // what Knative injects
			memLimit := ""
			for _, e := range c.Env {
				switch e.Name {
				case config.EnvPort, "K_SERVICE", "K_CONFIGURATION", "K_REVISION":
					t.Errorf("env sets %s, which Knative reserves", e.Name)
					continue
				case goMemLimit:
					if e.Value != nil {
						memLimit = *e.Value
					}
					continue
				}
				if _, ok := names[e.Name]; !ok {
					t.Errorf("env sets %s, which the configuration does not read", e.Name)
				}
				switch {
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					set[e.Name] = true
					val := "test-client-secret"
					if strings.HasPrefix(e.Name, config.EnvSecretAlias) || strings.HasPrefix(e.Name, config.EnvSecret) {
						val = testJWTSecret
					}
					if strings.HasSuffix(e.Name, "_FILE") {
						val = writeSecret(t, dir, e.Name, val)
					}
					loadEnv[e.Name] = val
				case e.Value != nil:
					if *e.Value != "" {
						set[e.Name] = true
					}
					loadEnv[e.Name] = *e.Value
				default:
					t.Errorf("env %s has neither value nor secretKeyRef", e.Name)
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil && ef.SecretRef.Name == "supabase-secrets" {
					set[config.EnvSecretAlias] = true // the key Supabase keeps the secret under
					loadEnv[config.EnvSecretAlias] = testJWTSecret
				}
			}
			checkRequired(t, "knative "+fn, set, required)
			cfg, err := config.Load(config.MapEnv(loadEnv))
			if err != nil {
				t.Fatalf("config.Load with the Service's environment: %v", err)
			}
			if cfg.Port != containerPort {
				t.Errorf("config port %d, want %d", cfg.Port, containerPort)
			}

			// Resources and a non-root, read-only, capability-free container.
			if c.Resources.Requests["memory"] == "" || c.Resources.Requests["cpu"] == "" || c.Resources.Limits["memory"] == "" {
				t.Errorf("resources %+v: want memory and cpu requests and a memory limit", c.Resources)
			}
			checkMemLimit(t, memLimit, c.Resources.Limits["memory"])
			sc := c.SecurityContext
			if sc == nil {
				t.Fatal("no securityContext")
			}
			checks := []struct {
				what string
				ok   bool
			}{
				{"runAsNonRoot: true", sc.RunAsNonRoot != nil && *sc.RunAsNonRoot},
				{"runAsUser: 65532 (the image's nonroot)", sc.RunAsUser != nil && *sc.RunAsUser == nonrootID},
				{"readOnlyRootFilesystem: true", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
				{"allowPrivilegeEscalation: false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
				{"capabilities drop ALL", sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL")},
			}
			for _, ck := range checks {
				if !ck.ok {
					t.Errorf("securityContext: want %s", ck.what)
				}
			}
		})
	}
}

// TestNamesAgree checks what ties the two platforms and the README section
// together: versions, secret names, and the commands the page gives.
func TestNamesAgree(t *testing.T) {
	stack := loadStack(t)
	svcs := loadKnative(t)
	docRaw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(docRaw)

	// One version everywhere; the OpenFaaS image is the same version plus -openfaas.
	versions := map[string]bool{}
	for _, fn := range functions {
		kimg := svcs[fn].Spec.Template.Spec.Containers[0].Image
		oimg := stack.Functions[fn].Image
		if km, om := imageRE.FindStringSubmatch(kimg), imageRE.FindStringSubmatch(oimg); km != nil && om != nil {
			versions[km[2]] = true
			if om[2] != km[2]+"-openfaas" {
				t.Errorf("%s: OpenFaaS image %s is not Knative's %s plus -openfaas", fn, oimg, kimg)
			}
		}
		for _, img := range []string{kimg, oimg} {
			if !strings.Contains(doc, "`"+img+"`") {
				t.Errorf("%s does not name the image %s", docPath, img)
			}
		}
		for _, cmd := range []string{
			"k3s ctr images import /tmp/" + fn + "-linux-$ARCH.tar",
			"dist/images/" + fn + "-linux-amd64.tar",
			"dist/images/" + fn + "-linux-arm64.tar",
			"dist/images/" + fn + "-openfaas-linux-amd64.tar",
		} {
			if !strings.Contains(doc, cmd) {
				t.Errorf("%s lacks %q", docPath, cmd)
			}
		}
	}
	if len(versions) != 1 {
		t.Errorf("image versions %v, want one", versions)
	}
	if mk, err := os.ReadFile("../Makefile"); err == nil {
		if m := regexp.MustCompile(`(?m)^IMAGE_VERSION\s*\??=\s*(\S+)`).FindSubmatch(mk); m != nil && !versions[string(m[1])] {
			t.Errorf("Makefile IMAGE_VERSION %s, manifests use %v", m[1], versions)
		} else if m == nil {
			t.Log("Makefile has no IMAGE_VERSION; image tags not compared with it")
		}
	}
	for _, cmd := range []string{"make image", "faas-cli deploy -f deploy/openfaas/stack.yml", "apply -f deploy/knative/"} {
		if !strings.Contains(doc, cmd) {
			t.Errorf("%s lacks %q", docPath, cmd)
		}
	}

	// OpenFaaS secrets: exactly the ones the page creates with faas-cli.
	created := map[string]string{} // secret -> the doc line creating it
	for _, m := range regexp.MustCompile(`(?m)^.*faas-cli secret create ([a-z0-9-]+).*$`).FindAllStringSubmatch(doc, -1) {
		created[m[1]] = m[0]
	}
	var stackSecrets []string
	for _, fn := range functions {
		for _, s := range stack.Functions[fn].Secrets {
			if !slices.Contains(stackSecrets, s) {
				stackSecrets = append(stackSecrets, s)
			}
		}
	}
	if got, want := slices.Sorted(maps.Keys(created)), slices.Sorted(slices.Values(stackSecrets)); !slices.Equal(got, want) {
		t.Errorf("%s creates OpenFaaS secrets %v, stack.yml mounts %v", docPath, got, want)
	}

	// Knative secrets: each (name, key) is either created on the page or read
	// there from a Secret that already exists (supabase-secrets).
	var jwtRef *secretKeyRef
	for _, fn := range functions {
		for _, e := range svcs[fn].Spec.Template.Spec.Containers[0].Env {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				continue
			}
			ref := e.ValueFrom.SecretKeyRef
			if e.Name == config.EnvSecretAlias || e.Name == config.EnvSecret {
				jwtRef = ref
			}
			createdRE := regexp.MustCompile(`create secret generic ` + regexp.QuoteMeta(ref.Name) + ` [^\n]*--from-literal=` + regexp.QuoteMeta(ref.Key) + `=`)
			read := "get secret " + ref.Name + " -o jsonpath='{.data." + ref.Key + "}'"
			if !createdRE.MatchString(doc) && !strings.Contains(doc, read) {
				t.Errorf("knative %s: secret %s key %s is neither created nor read in %s", fn, ref.Name, ref.Key, docPath)
			}
		}
	}
	if jwtRef == nil || jwtRef.Name != "supabase-secrets" || jwtRef.Key != "JWT_SECRET" {
		t.Fatalf("Knative JWT secret ref %+v, want supabase-secrets / JWT_SECRET", jwtRef)
	}

	// The OpenFaaS secret behind SUPABASE_JWT_SECRET_FILE is copied on the page
	// from the very Secret and key the Knative Services read.
	jwtFile := stack.Functions["exchange"].Environment[config.EnvSecret+"_FILE"]
	jwtSecret := strings.TrimPrefix(jwtFile, openfaasDir)
	line, ok := created[jwtSecret]
	if !ok || !strings.Contains(line, "secret "+jwtRef.Name+" ") || !strings.Contains(line, "{.data."+jwtRef.Key+"}") {
		t.Errorf("%s: the line creating %s (%q) does not copy it from %s key %s", docPath, jwtSecret, line, jwtRef.Name, jwtRef.Key)
	}
}
