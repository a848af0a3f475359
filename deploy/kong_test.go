package deploy_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"supabridge/shared/config"
	"supabridge/shared/exchange"
	"supabridge/shared/function"
	"supabridge/shared/platform"
	"supabridge/shared/refresh"
)

// kongConfig is the part of a Kong declarative configuration the routes
// live in (Kong's declarative schema: services with nested routes and plugins).
type kongConfig struct {
	FormatVersion string        `json:"_format_version"`
	Transform     bool          `json:"_transform"`
	Consumers     []any         `json:"consumers"`
	ACLs          []any         `json:"acls"`
	BasicAuth     []any         `json:"basicauth_credentials"`
	Plugins       []kongPlugin  `json:"plugins"`
	Services      []kongService `json:"services"`
}

type kongService struct {
	Name        string       `json:"name"`
	Comment     string       `json:"_comment"`
	URL         string       `json:"url"`
	Protocol    string       `json:"protocol"`
	ReadTimeout int          `json:"read_timeout"`
	Routes      []kongRoute  `json:"routes"`
	Plugins     []kongPlugin `json:"plugins"`
}

type kongRoute struct {
	Name          string              `json:"name"`
	StripPath     *bool               `json:"strip_path"`
	Paths         []string            `json:"paths"`
	Methods       []string            `json:"methods"`
	Hosts         []string            `json:"hosts"`
	Headers       map[string][]string `json:"headers"`
	RegexPriority int                 `json:"regex_priority"`
	PathHandling  string              `json:"path_handling"`
	PreserveHost  bool                `json:"preserve_host"`
	Plugins       []kongPlugin        `json:"plugins"`
}

type kongPlugin struct {
	Name   string         `json:"name"`
	Config map[string]any `json:"config"`
}

// kongMatch is the route Kong picks for a request and what it sends upstream.
type kongMatch struct {
	service  *kongService
	route    *kongRoute
	upstream string // the path of the upstream request
}

// kongSelect picks the route Kong proxies method and path to, or nil for
// Kong's 404. It follows Kong 3's router (kong/router/transform.lua,
// get_priority, used by the default traditional_compatible flavor and by
// expressions): among the (route, path) pairs that match, the highest
// priority wins, compared field by field as the bits of that 64-bit value:
// how many of methods, hosts, headers and paths the route sets; hosts
// without wildcards; a regex path over a prefix path; the number of headers;
// regex_priority (regex paths only); the prefix's length. Kong 2.8's
// traditional router orders the same way for routes that set paths only
// (more fields first, regex before prefix, longest prefix first), which is
// all the routes here set. Requests carry no Host or header a route could
// ask for, so routes that ask for them never match.
func kongSelect(cfg *kongConfig, method, path string) *kongMatch {
	type candidate struct {
		m                                                        kongMatch
		weight, plainHost, regex, headers, regexPriority, length int
		matched                                                  string
	}
	var best *candidate
	for si := range cfg.Services {
		s := &cfg.Services[si]
		for ri := range s.Routes {
			r := &s.Routes[ri]
			if len(r.Methods) > 0 && !slices.Contains(r.Methods, method) || len(r.Hosts) > 0 || len(r.Headers) > 0 {
				continue
			}
			weight := 0
			for _, set := range []bool{len(r.Methods) > 0, len(r.Hosts) > 0, len(r.Headers) > 0, len(r.Paths) > 0} {
				if set {
					weight++
				}
			}
			paths := r.Paths
			if len(paths) == 0 {
				paths = []string{"/"}
			}
			for _, p := range paths {
				c := candidate{weight: weight, headers: len(r.Headers)}
				if re, ok := kongRegex(cfg.FormatVersion, p); ok {
					m := regexp.MustCompile("^" + re).FindString(path)
					if m == "" && !regexp.MustCompile("^"+re).MatchString(path) {
						continue
					}
					c.regex, c.regexPriority, c.matched = 1, r.RegexPriority, m
				} else {
					if !strings.HasPrefix(path, p) {
						continue
					}
					c.length, c.matched = len(p), p
				}
				if best == nil || cmp.Or(
					cmp.Compare(c.weight, best.weight), cmp.Compare(c.plainHost, best.plainHost),
					cmp.Compare(c.regex, best.regex), cmp.Compare(c.headers, best.headers),
					cmp.Compare(c.regexPriority, best.regexPriority), cmp.Compare(c.length, best.length)) > 0 {
					c.m = kongMatch{service: s, route: r}
					best = &c
				}
			}
		}
	}
	if best == nil {
		return nil
	}
	u, err := url.Parse(best.m.service.URL)
	if err != nil {
		panic(err)
	}
	base := cmp.Or(u.Path, "/")
	strip := best.m.route.StripPath == nil || *best.m.route.StripPath // Kong's default is true
	best.m.upstream = kongUpstreamURI(strip, strings.TrimPrefix(path, best.matched), path, base)
	return &best.m
}

// kongRegex tells a regex path from a prefix path as Kong does: from format
// 3.0 on a regex path starts with "~"; older formats are migrated on load by
// the same test, any character outside [a-zA-Z0-9._~/%-] marking a regex.
func kongRegex(format, p string) (string, bool) {
	if re, ok := strings.CutPrefix(p, "~"); ok && format >= "3.0" {
		return re, true
	}
	if format < "3.0" && regexp.MustCompile(`[^a-zA-Z0-9._~/%-]`).MatchString(p) {
		return p, true
	}
	return "", false
}

// kongUpstreamURI is Kong's path_handling "v0" (the default) joining of the
// service's path and what the route left of the request path
// (kong/router/utils.lua, get_upstream_uri).
func kongUpstreamURI(strip bool, postfix, reqURI, base string) string {
	if strings.HasSuffix(base, "/") {
		if !strip {
			return base + reqURI[1:]
		}
		switch {
		case postfix == "":
			if base == "/" {
				return "/"
			}
			if strings.HasSuffix(reqURI, "/") {
				return base
			}
			return base[:len(base)-1]
		case strings.HasPrefix(postfix, "/"):
			return base[:len(base)-1] + postfix
		default:
			return base + postfix
		}
	}
	if !strip {
		if reqURI == "/" {
			return base
		}
		return base + reqURI
	}
	switch {
	case postfix == "":
		if len(reqURI) > 1 && strings.HasSuffix(reqURI, "/") {
			return base + "/"
		}
		return base
	case strings.HasPrefix(postfix, "/"):
		return base + postfix
	default:
		return base + "/" + postfix
	}
}

func TestKongUpstreamURI(t *testing.T) {
	// Rows of the table in Kong's proxy guide ("Path handling algorithms",
	// v0), plus the cases our routes produce.
	tests := []struct {
		base, route, req string
		strip            bool
		want             string
	}{
		{"/s", "/fv0", "/fv0req", false, "/s/fv0req"},
		{"/s", "/fv0", "/fv0req", true, "/s/req"},
		{"/s", "/fv0/", "/fv0/req", true, "/s/req"},
		{"/s/", "/fv0", "/fv0req", false, "/s/fv0req"},
		{"/s/", "/fv0", "/fv0req", true, "/s/req"},
		{"/s/", "/fv0/", "/fv0/req", true, "/s/req"},
		{"/", "/functions/v1/exchange", "/functions/v1/exchange", true, "/"},
		{"/", "/functions/v1/exchange", "/functions/v1/exchange/healthz", true, "/healthz"},
		{"/", "/functions/v1/exchange", "/functions/v1/exchange", false, "/functions/v1/exchange"},
		{"/", "/functions/v1/", "/functions/v1/hello", true, "/hello"},
	}
	for _, tc := range tests {
		got := kongUpstreamURI(tc.strip, strings.TrimPrefix(tc.req, tc.route), tc.req, tc.base)
		if got != tc.want {
			t.Errorf("service %s route %s request %s strip %v: got %s, want %s", tc.base, tc.route, tc.req, tc.strip, got, tc.want)
		}
	}
}

// kongSnippet reads one of deploy/kong/*.yml: services to paste under a
// services: key. Strict: a misspelt field fails here rather than being
// ignored by Kong's loader.
func kongSnippet(t *testing.T, path string) (raw []byte, services []kongService) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, &services); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return raw, services
}

// spliceAfterServices inserts snippet right after the line "services:" of
// doc (at any indentation), as the snippet's comment tells users to.
func spliceAfterServices(t *testing.T, doc, snippet []byte) []byte {
	t.Helper()
	loc := regexp.MustCompile(`(?m)^\s*services:\s*\n`).FindIndex(doc)
	if loc == nil {
		t.Fatal("no services: line to paste under")
	}
	return slices.Concat(doc[:loc[1]], snippet, []byte("\n"), doc[loc[1]:])
}

var envVarRE = regexp.MustCompile(`\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)`)

// envsubst renders s as GNU envsubst does with no SHELL-FORMAT: $NAME and
// ${NAME} become the variable's value, an unset variable the empty string.
func envsubst(s []byte, env map[string]string) []byte {
	return envVarRE.ReplaceAllFunc(s, func(m []byte) []byte {
		return []byte(env[strings.Trim(string(m[1:]), "{}")])
	})
}

// routedFunctions builds the real exchange and refresh handlers, edge
// included, as the binaries serve them: exchange trusting a key made here,
// refresh with a token endpoint that is never called.
func routedFunctions(t *testing.T) (handlers map[string]http.Handler, provider testProvider) {
	t.Helper()
	provider = newTestProvider(t)
	env := config.MapEnv(map[string]string{
		config.EnvSecret:          testJWTSecret,
		config.EnvAuthIssuer:      provider.issuer,
		config.EnvAuthPublicKey:   provider.pubPEM,
		config.EnvAuthClientID:    "supabridge",
		config.EnvAuthTokenURL:    "http://127.0.0.1:9/token",
		config.EnvCORSOrigins:     "https://app.example.com",
		config.EnvAuthHTTPTimeout: "1s",
	})
	logger := slog.New(slog.DiscardHandler)
	handlers = map[string]http.Handler{}
	for fn, build := range map[string]function.Builder{"exchange": exchange.New, "refresh": refresh.New} {
		h, err := platform.NewHandler(t.Context(), fn, build, env, logger)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		handlers[fn] = h
	}
	return handlers, provider
}

// kongCase is one request through Kong and what must come of it.
type kongCase struct {
	method, path string
	service      string // the Kong service that must get it
	function     string // our function behind it, "" for someone else's
	status       int    // the function's answer
}

func kongCases() []kongCase {
	return []kongCase{
		{method: http.MethodPost, path: "/functions/v1/exchange", service: "supabridge-exchange", function: "exchange", status: http.StatusOK},
		{method: http.MethodPost, path: "/functions/v1/exchange/", service: "supabridge-exchange", function: "exchange", status: http.StatusOK},
		{method: http.MethodOptions, path: "/functions/v1/exchange", service: "supabridge-exchange", function: "exchange", status: http.StatusNoContent},
		{method: http.MethodGet, path: "/functions/v1/exchange/healthz", service: "supabridge-exchange", function: "exchange", status: http.StatusOK},
		{method: http.MethodGet, path: "/functions/v1/exchange", service: "supabridge-exchange", function: "exchange", status: http.StatusMethodNotAllowed},
		{method: http.MethodPost, path: "/functions/v1/refresh", service: "supabridge-refresh", function: "refresh", status: http.StatusBadRequest},
		{method: http.MethodOptions, path: "/functions/v1/refresh", service: "supabridge-refresh", function: "refresh", status: http.StatusNoContent},
		{method: http.MethodGet, path: "/functions/v1/refresh/healthz", service: "supabridge-refresh", function: "refresh", status: http.StatusOK},
		// Everything else under /functions/v1/ still reaches the edge runtime...
		{method: http.MethodPost, path: "/functions/v1/hello", service: "functions-v1"},
		{method: http.MethodPost, path: "/functions/v1/ex", service: "functions-v1"},
		// ...except names that begin like ours: a prefix is a prefix (the
		// snippets' comments say so).
		{method: http.MethodPost, path: "/functions/v1/refresh-cache", service: "supabridge-refresh", function: "refresh", status: http.StatusBadRequest},
		{method: http.MethodGet, path: "/rest/v1/notes", service: "rest-v1"},
	}
}

// checkKongRoutes sends every case through cfg's routes and, for ours, to the
// real function at the path Kong would deliver.
func checkKongRoutes(t *testing.T, cfg *kongConfig, handlers map[string]http.Handler, provider testProvider, stripPath bool) {
	t.Helper()
	token := provider.token(t, "kong-user", provider.key)
	for _, tc := range kongCases() {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			m := kongSelect(cfg, tc.method, tc.path)
			if m == nil || m.service.Name != tc.service {
				got := "Kong's 404"
				if m != nil {
					got = m.service.Name
				}
				t.Fatalf("routed to %s, want %s", got, tc.service)
			}
			if tc.function == "" {
				return
			}
			wantUp := tc.path
			if stripPath {
				wantUp = "/" + strings.TrimLeft(strings.TrimPrefix(tc.path, m.route.Paths[0]), "/")
			}
			if m.upstream != wantUp {
				t.Errorf("upstream path %s, want %s", m.upstream, wantUp)
			}
			req := httptest.NewRequestWithContext(t.Context(), tc.method, m.upstream, nil)
			req.Header.Set("Origin", "https://app.example.com")
			switch tc.method {
			case http.MethodPost:
				if tc.function == "exchange" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
			case http.MethodOptions:
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "authorization, apikey, x-client-info, content-type")
			}
			rec := httptest.NewRecorder()
			handlers[tc.function].ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("%s %s answered %d %s, want %d", tc.function, m.upstream, rec.Code, rec.Body, tc.status)
			}
			// The function's own CORS reaches the browser: Kong adds none on
			// these routes (no cors plugin), so these are the only ones.
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
				t.Errorf("Access-Control-Allow-Origin %q, want the allowed origin echoed", got)
			}
			if ct := rec.Header().Get("Content-Type"); tc.status != http.StatusNoContent && !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			switch {
			case tc.status == http.StatusOK && tc.method == http.MethodPost:
				var body struct{ SupabaseJWT string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || strings.Count(body.SupabaseJWT, ".") != 2 {
					t.Errorf("exchange answered %s, want a supabaseJwt", rec.Body)
				}
			case tc.status == http.StatusOK:
				if !bytes.Contains(rec.Body.Bytes(), []byte(`"ok"`)) {
					t.Errorf("health answered %s", rec.Body)
				}
			case tc.status == http.StatusMethodNotAllowed:
				if rec.Header().Get("Allow") == "" {
					t.Errorf("405 without Allow")
				}
			case tc.status == http.StatusBadRequest:
				if !bytes.Contains(rec.Body.Bytes(), []byte(`"error":"invalid_request"`)) {
					t.Errorf("refresh answered %s, want invalid_request", rec.Body)
				}
			}
		})
	}
}

// checkSnippetServices checks what the snippets promise about themselves:
// one service per function, a path-only route, no plugin, Kong's default
// path handling.
func checkSnippetServices(t *testing.T, services []kongService, hostFor func(fn string) string) {
	t.Helper()
	if got := len(services); got != len(functions) {
		t.Fatalf("%d services, want one per function %v", got, functions)
	}
	for i, fn := range functions {
		s := services[i]
		if s.Name != "supabridge-"+fn || len(s.Routes) != 1 {
			t.Errorf("service %d: %q with %d routes, want supabridge-%s with one", i, s.Name, len(s.Routes), fn)
			continue
		}
		u, err := url.Parse(s.URL)
		if err != nil || u.Scheme != "http" || u.Host != hostFor(fn) || u.Path != "/" {
			t.Errorf("%s url %q, want http://%s/", s.Name, s.URL, hostFor(fn))
		}
		r := s.Routes[0]
		if !slices.Equal(r.Paths, []string{"/functions/v1/" + fn}) {
			t.Errorf("%s paths %v, want [/functions/v1/%s]", s.Name, r.Paths, fn)
		}
		if len(r.Methods)+len(r.Hosts)+len(r.Headers) > 0 {
			t.Errorf("%s matches on methods %v hosts %v headers %v: paths only, or the order against functions-v1 changes", s.Name, r.Methods, r.Hosts, r.Headers)
		}
		if r.PathHandling != "" && r.PathHandling != "v0" {
			t.Errorf("%s path_handling %q: the tests model v0", s.Name, r.PathHandling)
		}
		if len(s.Plugins)+len(r.Plugins) > 0 {
			t.Errorf("%s has plugins %v %v: the functions do CORS and verify tokens themselves", s.Name, s.Plugins, r.Plugins)
		}
	}
}

// withStripPath returns a copy of cfg with strip_path set on our routes.
func withStripPath(cfg kongConfig, strip bool) *kongConfig {
	out := cfg
	out.Services = slices.Clone(cfg.Services)
	for i := range out.Services {
		if strings.HasPrefix(out.Services[i].Name, "supabridge-") {
			out.Services[i].Routes = slices.Clone(out.Services[i].Routes)
			for j := range out.Services[i].Routes {
				out.Services[i].Routes[j].StripPath = &strip
			}
		}
	}
	return &out
}

func TestKongComposeRoutes(t *testing.T) {
	raw, services := kongSnippet(t, "kong/compose-services.yml")
	checkSnippetServices(t, services, func(fn string) string { return "supabridge-" + fn + ":8080" })
	// Kong's entrypoint in Supabase's compose file substitutes $NAMES (older
	// ones ran the file through a shell eval "echo ..."): nothing in ours
	// may be read as a variable, a quote or a command.
	if i := bytes.IndexAny(raw, "$`\""); i >= 0 {
		t.Fatalf("compose-services.yml holds %q at byte %d; a shell eval or envsubst would change it", raw[i], i)
	}

	supa, err := os.ReadFile("testdata/supabase-kong.yml")
	if err != nil {
		t.Fatal(err)
	}
	rendered := envsubst(spliceAfterServices(t, supa, raw), map[string]string{"SUPABASE_ANON_KEY": "anon-key"})
	var cfg kongConfig
	if err := yaml.UnmarshalStrict(rendered, &cfg); err != nil {
		t.Fatalf("kong.yml with the snippet: %v", err)
	}
	handlers, provider := routedFunctions(t)
	for _, strip := range []bool{true, false} {
		t.Run("strip_path="+map[bool]string{true: "true", false: "false"}[strip], func(t *testing.T) {
			checkKongRoutes(t, withStripPath(cfg, strip), handlers, provider, strip)
		})
	}
	if m := kongSelect(&cfg, http.MethodGet, "/"); m == nil || m.service.Name != "dashboard" {
		t.Errorf("GET / no longer reaches the dashboard")
	}

	// The order is the model's, not luck: one more field on the catch-all
	// (methods: POST) puts it before ours, as the snippet's comment warns.
	heavier := withStripPath(cfg, true)
	for i := range heavier.Services {
		if heavier.Services[i].Name == "functions-v1" {
			heavier.Services[i].Routes = slices.Clone(heavier.Services[i].Routes)
			heavier.Services[i].Routes[0].Methods = []string{http.MethodPost}
		}
	}
	if m := kongSelect(heavier, http.MethodPost, "/functions/v1/exchange"); m == nil || m.service.Name != "functions-v1" {
		t.Errorf("a catch-all matching on methods too should win; the priority model ignores fields")
	}
}

func TestKongKubernetesRoutes(t *testing.T) {
	raw, services := kongSnippet(t, "kong/k8s-services.yml")
	checkSnippetServices(t, services, func(fn string) string { return "supabridge-" + fn + ".supabase.svc.cluster.local" })
	if bytes.ContainsRune(raw, '$') {
		t.Fatal("k8s-services.yml holds a $: envsubst would replace it")
	}

	cmRaw, err := os.ReadFile("testdata/kong-configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Paste into the ConfigMap's template, render as the init container does
	// with supabase-secrets in its environment, then read the ConfigMap and
	// the declarative config inside it.
	secrets := map[string]string{"ANON_KEY": "anon-key", "SERVICE_ROLE_KEY": "service-key", "JWT_SECRET": testJWTSecret}
	rendered := envsubst(spliceAfterServices(t, cmRaw, raw), secrets)
	if !bytes.Contains(rendered, raw) {
		t.Fatal("rendering changed the snippet")
	}
	var cm struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   objectMeta        `json:"metadata"`
		Data       map[string]string `json:"data"`
	}
	if err := yaml.UnmarshalStrict(rendered, &cm); err != nil {
		t.Fatalf("ConfigMap with the snippet: %v", err)
	}
	var cfg kongConfig
	if err := yaml.UnmarshalStrict([]byte(cm.Data["kong.yml"]), &cfg); err != nil {
		t.Fatalf("kong.yml in the ConfigMap: %v", err)
	}
	if len(cfg.Services) != 4 {
		t.Fatalf("%d services after pasting, want 4: the snippet is not at the services' indentation", len(cfg.Services))
	}
	handlers, provider := routedFunctions(t)
	for _, strip := range []bool{true, false} {
		t.Run("strip_path="+map[bool]string{true: "true", false: "false"}[strip], func(t *testing.T) {
			checkKongRoutes(t, withStripPath(cfg, strip), handlers, provider, strip)
		})
	}
}
