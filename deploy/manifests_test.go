package deploy_test

import (
	"bytes"
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
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
	"supabridge/shared/exchange"
	"supabridge/shared/function"
	"supabridge/shared/refresh"
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

// providersPath is the one providers file: the ConfigMap in Kubernetes, the
// supabridge-providers secret in OpenFaaS.
const providersPath = "base/providers.yaml"

// deployment is the part of an apps/v1 Deployment the image and stack tests
// compare with; deploy/validate decodes every manifest strictly into the real
// Kubernetes types.
type deployment struct {
	Kind     string     `json:"kind"`
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Template struct {
			Spec struct {
				Containers []container `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// loadBase returns the container of deploy/base/<fn>.yaml's Deployment.
func loadBase(t *testing.T, fn string) container {
	t.Helper()
	raw, err := os.ReadFile("base/" + fn + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
		var d deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatalf("base/%s.yaml: %v", fn, err)
		}
		if d.Kind == "Deployment" {
			if len(d.Spec.Template.Spec.Containers) != 1 {
				t.Fatalf("base/%s.yaml: %d containers, want 1", fn, len(d.Spec.Template.Spec.Containers))
			}
			return d.Spec.Template.Spec.Containers[0]
		}
	}
	t.Fatalf("base/%s.yaml holds no Deployment", fn)
	return container{}
}

// providerEntry is the part of a providers.yaml entry the manifests depend on.
type providerEntry struct {
	Name             string `json:"name"`
	ClientID         string `json:"client_id"`
	ClientSecretFile string `json:"client_secret_file"`
}

// loadProviders reads deploy/base/providers.yaml.
func loadProviders(t *testing.T) (raw []byte, entries []providerEntry) {
	t.Helper()
	raw, err := os.ReadFile(providersPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &entries); err != nil {
		t.Fatalf("%s: %v", providersPath, err)
	}
	if len(entries) == 0 {
		t.Fatalf("%s lists no provider", providersPath)
	}
	return raw, entries
}

// clientSecrets returns the file names (under /var/openfaas/secrets/) of the
// client secrets providers.yaml reads, failing on any other directory.
func clientSecrets(t *testing.T, entries []providerEntry) []string {
	t.Helper()
	var names []string
	for _, e := range entries {
		if e.ClientSecretFile == "" {
			continue
		}
		n, ok := strings.CutPrefix(e.ClientSecretFile, openfaasDir)
		if !ok || strings.Contains(n, "/") {
			t.Errorf("%s: %s client_secret_file %s: want %s<name>, where both platforms mount secrets", providersPath, e.Name, e.ClientSecretFile, openfaasDir)
			continue
		}
		names = append(names, n)
	}
	return names
}

// providersCopy writes providers.yaml to dir with every client secret file
// moved into dir (and written there), and returns the copy's path: what a
// pod or a function sees, laid out where a test may write.
func providersCopy(t *testing.T, dir string) string {
	t.Helper()
	raw, entries := loadProviders(t)
	for _, n := range clientSecrets(t, entries) {
		writeSecret(t, dir, n, "test-client-secret-"+n)
	}
	p := filepath.Join(dir, "providers.yaml")
	if err := os.WriteFile(p, bytes.ReplaceAll(raw, []byte(openfaasDir), []byte(dir+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// refuseTransport fails every outbound call: building a function from the
// providers file must not need the network.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("test: no outbound call expected (%s)", r.URL.Host)
}

func TestProvidersFile(t *testing.T) {
	_, entries := loadProviders(t)
	dir := t.TempDir()
	env := config.MapEnv(map[string]string{
		config.EnvSecretAlias:       testJWTSecret,
		config.EnvAuthProvidersFile: providersCopy(t, dir),
	})
	cfg, err := config.Load(env)
	if err != nil {
		t.Fatalf("config.Load with %s: %v", providersPath, err)
	}
	if len(cfg.Providers) != len(entries) {
		t.Errorf("%d providers loaded, %d in the file", len(cfg.Providers), len(entries))
	}
	// Both functions start from it: refresh needs a provider with a client.
	deps := function.Deps{Logger: slog.New(slog.DiscardHandler), Transport: refuseTransport{}}
	for fn, build := range map[string]function.Builder{"exchange": exchange.New, "refresh": refresh.New} {
		if _, err := build(t.Context(), cfg, deps); err != nil {
			t.Errorf("%s from %s: %v", fn, providersPath, err)
		}
	}
	if !slices.ContainsFunc(entries, func(e providerEntry) bool { return e.ClientID != "" }) {
		t.Errorf("%s: no provider has a client_id; refresh would not start", providersPath)
	}
}

func TestOpenFaaSStack(t *testing.T) {
	s := loadStack(t)
	names, required := variables(t)
	_, entries := loadProviders(t)
	clientSecretNames := clientSecrets(t, entries)

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
			base := loadBase(t, fn)

			// The image is the watchdog variant of the base's image.
			m := imageRE.FindStringSubmatch(f.Image)
			if m == nil || m[1] != fn || f.Image != base.Image+"-openfaas" {
				t.Errorf("image %q, want %s-openfaas (the base Deployment's image behind the watchdog)", f.Image, base.Image)
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
			fprocess := cmp.Or(f.FProcess, env["fprocess"])
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

			// Every variable is the watchdog's, the Go runtime's or one the
			// configuration reads; GOMEMLIMIT as in the base Deployment.
			set := map[string]bool{}
			for k, v := range env {
				if slices.Contains(watchdogVars, k) || k == "GOMEMLIMIT" {
					continue
				}
				if _, ok := names[k]; !ok {
					t.Errorf("environment sets %s, which the configuration does not read", k)
				}
				if v != "" {
					set[k] = true
				}
			}
			if want := envLiteral(base, "GOMEMLIMIT"); env["GOMEMLIMIT"] != want {
				t.Errorf("GOMEMLIMIT %q, the base Deployment sets %q", env["GOMEMLIMIT"], want)
			}
			if f.Limits == nil || base.Resources.Limits["memory"] != f.Limits.Memory {
				t.Errorf("limits %+v, the base Deployment's memory limit is %s", f.Limits, base.Resources.Limits["memory"])
			}
			checkRequired(t, "stack.yml "+fn, set, required)

			// Secrets: each *_FILE names a listed secret under
			// /var/openfaas/secrets, the providers file is the secret
			// supabridge-providers, every client secret it reads is mounted,
			// and each mounted secret is read.
			dir := t.TempDir()
			loadEnv := map[string]string{}
			used := map[string]bool{}
			for k, v := range env {
				if slices.Contains(watchdogVars, k) {
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
				if k == config.EnvAuthProvidersFile {
					loadEnv[k] = providersCopy(t, dir)
					continue
				}
				loadEnv[k] = writeSecret(t, dir, secret, testJWTSecret)
			}
			if env[config.EnvAuthProvidersFile] != openfaasDir+"supabridge-providers" {
				t.Errorf("%s=%q, want %ssupabridge-providers (created from %s)", config.EnvAuthProvidersFile, env[config.EnvAuthProvidersFile], openfaasDir, providersPath)
			}
			for _, n := range clientSecretNames {
				used[n] = true
				if !slices.Contains(f.Secrets, n) {
					t.Errorf("%s reads the client secret %s%s, which the function does not mount", providersPath, openfaasDir, n)
				}
			}
			for _, sec := range f.Secrets {
				if !used[sec] {
					t.Errorf("secret %s is mounted but nothing reads it", sec)
				}
			}

			cfg, err := config.Load(config.MapEnv(loadEnv))
			if err != nil {
				t.Fatalf("config.Load with stack.yml's environment: %v", err)
			}
			if cfg.Port != port {
				t.Errorf("config port %d, want PORT %d", cfg.Port, port)
			}
			if f.Requests == nil || f.Requests.Memory == "" || f.Requests.CPU == "" {
				t.Errorf("requests %+v: want memory and cpu", f.Requests)
			}
		})
	}
}

// envLiteral returns the literal value c's env gives name, or "".
func envLiteral(c container, name string) string {
	for _, e := range c.Env {
		if e.Name == name && e.Value != nil {
			return *e.Value
		}
	}
	return ""
}
