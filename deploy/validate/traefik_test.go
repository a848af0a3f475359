package validate

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// traefikRule is one router of Traefik's: a rule made of Path and PathPrefix
// matchers joined by ||, its priority, and where it sends a request.
type traefikRule struct {
	rule     string
	priority int
	service  string
}

var traefikMatcherRE = regexp.MustCompile("^(Path|PathPrefix)\\([`\"]([^`\"]+)[`\"]\\)$")

// matches reports whether the rule matches path, as Traefik's matchers do
// (pkg/muxer/http/matcher.go: Path compares the whole path, PathPrefix is a
// string prefix). Only the matchers our manifests use are understood.
func (r traefikRule) matches(t *testing.T, path string) bool {
	t.Helper()
	for _, term := range strings.Split(r.rule, "||") {
		term = strings.TrimSpace(strings.Trim(strings.TrimSpace(term), "()"))
		if !strings.HasSuffix(term, ")") {
			term += ")"
		}
		m := traefikMatcherRE.FindStringSubmatch(term)
		if m == nil {
			t.Fatalf("rule %q: %q is not a Path or PathPrefix matcher", r.rule, term)
		}
		if m[1] == "Path" && path == m[2] || m[1] == "PathPrefix" && strings.HasPrefix(path, m[2]) {
			return true
		}
	}
	return false
}

// traefikRoute returns the service of the highest-priority rule matching
// path. Traefik's default priority is the rule's length (pkg/muxer/http/mux.go,
// GetRulePriority) and routes are tried highest first.
func traefikRoute(t *testing.T, rules []traefikRule, path string) string {
	t.Helper()
	sorted := slices.Clone(rules)
	slices.SortStableFunc(sorted, func(a, b traefikRule) int { return b.priority - a.priority })
	for _, r := range sorted {
		if r.matches(t, path) {
			return r.service
		}
	}
	return ""
}

// supabaseTraefik are the routers a cluster without Kong already has in
// front of Supabase: the edge runtime under /functions/v1 and the rest.
func supabaseTraefik() []traefikRule {
	var out []traefikRule
	for _, r := range []traefikRule{
		{rule: "PathPrefix(`/functions/v1`)", service: "functions"},
		{rule: "PathPrefix(`/rest/v1`)", service: "rest"},
		{rule: "PathPrefix(`/`)", service: "studio"},
	} {
		r.priority = len(r.rule)
		out = append(out, r)
	}
	return out
}

// baseServicePorts returns the port names and numbers of the base's Services.
func baseServicePorts(t *testing.T) map[string]corev1.ServicePort {
	t.Helper()
	ports := map[string]corev1.ServicePort{}
	for name, s := range render(t, overlays[0]).services {
		for _, p := range s.Spec.Ports {
			ports[name+":"+p.Name] = p
			ports[name+":"+strconv.Itoa(int(p.Port))] = p
		}
	}
	return ports
}

func TestTraefikIngressRoute(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(deployDir, "traefik/ingressroute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	crd := loadCRD(t, filepath.Join(moduleDir(t, traefikModule, traefikVersion), traefikCRDs), "ingressroutes.traefik.io", "v1alpha1", traefikModule+"@"+traefikVersion)
	if errs := crd.check(obj); len(errs) > 0 {
		t.Errorf("IngressRoute: %v", errs)
	}

	var ir struct {
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			EntryPoints []string `json:"entryPoints"`
			Routes      []struct {
				Match    string `json:"match"`
				Services []struct {
					Name string `json:"name"`
					Port int    `json:"port"`
				} `json:"services"`
			} `json:"routes"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &ir); err != nil {
		t.Fatal(err)
	}
	if ir.Metadata.Namespace != "" {
		t.Errorf("namespace %q is fixed; it must be the functions' (kubectl -n)", ir.Metadata.Namespace)
	}
	ports := baseServicePorts(t)
	rules := supabaseTraefik()
	for _, r := range ir.Spec.Routes {
		if len(r.Services) != 1 {
			t.Fatalf("route %q: %d services, want 1", r.Match, len(r.Services))
		}
		s := r.Services[0]
		if _, ok := ports[s.Name+":"+strconv.Itoa(s.Port)]; !ok {
			t.Errorf("route %q sends to %s:%d, which is no port of the base's Services", r.Match, s.Name, s.Port)
		}
		rules = append(rules, traefikRule{rule: r.Match, priority: len(r.Match), service: s.Name})
	}
	for path, want := range map[string]string{
		"/functions/v1/exchange":         "supabridge-exchange",
		"/functions/v1/exchange/healthz": "supabridge-exchange",
		"/functions/v1/refresh":          "supabridge-refresh",
		"/functions/v1/refresh/":         "supabridge-refresh",
		"/functions/v1/exchange-rates":   "functions", // Path || PathPrefix(x/): whole segments only
		"/functions/v1/hello":            "functions",
		"/rest/v1/notes":                 "rest",
	} {
		if got := traefikRoute(t, rules, path); got != want {
			t.Errorf("%s goes to %q, want %q", path, got, want)
		}
	}
}

func TestTraefikIngress(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(deployDir, "traefik/ingress.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := decodeStrict(t, scheme(t), raw)
	if err != nil {
		t.Fatalf("ingress.yaml: %v", err)
	}
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		t.Fatalf("ingress.yaml holds a %T", obj)
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "traefik" {
		t.Errorf("ingressClassName %v, want traefik (k3s's)", ing.Spec.IngressClassName)
	}
	ports := baseServicePorts(t)
	rules := supabaseTraefik()
	for _, rule := range ing.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			b := p.Backend.Service
			key := b.Name + ":" + b.Port.Name
			if b.Port.Name == "" {
				key = b.Name + ":" + strconv.Itoa(int(b.Port.Number))
			}
			if _, ok := ports[key]; !ok {
				t.Errorf("path %s sends to %s, which is no port of the base's Services", p.Path, key)
			}
			if p.PathType == nil || *p.PathType != networkingv1.PathTypePrefix {
				t.Errorf("path %s: pathType %v, want Prefix", p.Path, p.PathType)
			}
			// Traefik's Kubernetes Ingress provider turns a Prefix path into
			// PathPrefix(path) (pkg/provider/kubernetes/ingress, buildRule,
			// strictPrefixMatching off by default).
			r := "PathPrefix(" + strconv.Quote(p.Path) + ")"
			rules = append(rules, traefikRule{rule: r, priority: len(r), service: b.Name})
		}
	}
	for path, want := range map[string]string{
		"/functions/v1/exchange":         "supabridge-exchange",
		"/functions/v1/exchange/healthz": "supabridge-exchange",
		"/functions/v1/refresh":          "supabridge-refresh",
		"/functions/v1/exchange-rates":   "supabridge-exchange", // a character prefix, as ingress.yaml says
		"/functions/v1/hello":            "functions",
	} {
		if got := traefikRoute(t, rules, path); got != want {
			t.Errorf("%s goes to %q, want %q", path, got, want)
		}
	}
}
