package lambda

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/global"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"

	"supabridge/shared/claims"
	"supabridge/shared/config"
)

// refPrefix marks a Ref in the second parse of the template, which keeps
// Refs as "Ref:<name>" instead of resolving them to parameter defaults.
const refPrefix = "Ref:"

func parseTemplate(t *testing.T) (resolved, refs *cloudformation.Template) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	resolved, err = goformation.ParseYAML(data)
	if err != nil {
		t.Fatalf("goformation: %v", err)
	}
	keepRef := func(_ string, input any, _ any) any {
		if s, ok := input.(string); ok {
			return refPrefix + s
		}
		return nil
	}
	refs, err = goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{"Ref": keepRef},
	})
	if err != nil {
		t.Fatalf("goformation (Refs kept): %v", err)
	}
	return resolved, refs
}

// functionEnv merges the Globals environment with the function's own, as SAM
// does (goformation reads Globals but does not apply them).
func functionEnv(g *global.Function, f *serverless.Function) map[string]string {
	out := map[string]string{}
	if g != nil && g.Environment != nil {
		for k, v := range g.Environment.Variables {
			out[k] = v
		}
	}
	if f.Environment != nil {
		for k, v := range f.Environment.Variables {
			out[k] = v
		}
	}
	return out
}

// TestTemplate checks template.yaml against the code: the functions and how
// SAM builds them, and that the environment it sets is the one shared/config
// reads.
func TestTemplate(t *testing.T) {
	tmpl, refs := parseTemplate(t)

	if tmpl.Transform == nil || tmpl.Transform.String == nil || *tmpl.Transform.String != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform: want AWS::Serverless-2016-10-31")
	}

	globals, err := tmpl.GetServerlessGlobalFunction()
	if err != nil {
		t.Fatalf("Globals.Function: %v", err)
	}
	if got := deref(globals.Runtime); got != "provided.al2023" {
		t.Errorf("Globals Runtime: got %q, want provided.al2023", got)
	}
	if got := deref(globals.Handler); got != "bootstrap" {
		t.Errorf("Globals Handler: got %q, want bootstrap", got)
	}
	if globals.Architectures == nil || !slices.Equal(*globals.Architectures, []string{"arm64"}) {
		t.Errorf("Globals Architectures: got %v, want [arm64]", globals.Architectures)
	}
	if globals.Timeout == nil || *globals.Timeout < 6 {
		// The provider call is bounded by AUTH_HTTP_TIMEOUT, 5 s by default.
		t.Errorf("Globals Timeout: got %v, want at least 6 s", globals.Timeout)
	}
	if globals.MemorySize == nil {
		t.Errorf("Globals MemorySize: not set")
	}
	refGlobals, err := refs.GetServerlessGlobalFunction()
	if err != nil {
		t.Fatal(err)
	}

	fns := tmpl.GetAllServerlessFunctionResources()
	var names []string
	for name := range fns {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"ExchangeFunction", "RefreshFunction"}; !slices.Equal(names, want) {
		t.Fatalf("functions: got %v, want %v", names, want)
	}
	vars := map[string]config.Variable{}
	for _, v := range config.Variables() {
		vars[v.Name] = v
	}
	envJSON := loadEnv(t)
	usedParams := map[string]bool{}

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			fn := fns[name]
			short := strings.ToLower(strings.TrimSuffix(name, "Function"))
			// Globals supply these; a function may only repeat the same value.
			if fn.Runtime != nil && *fn.Runtime != "provided.al2023" {
				t.Errorf("Runtime overridden: %s", *fn.Runtime)
			}
			if fn.Handler != nil && *fn.Handler != "bootstrap" {
				t.Errorf("Handler overridden: %s", *fn.Handler)
			}
			if fn.CodeUri == nil || deref(fn.CodeUri.String) != "." {
				t.Errorf("CodeUri: want \".\" (one root go.mod)")
			}
			if bm, _ := fn.AWSCloudFormationMetadata["BuildMethod"].(string); bm != "makefile" {
				t.Errorf("Metadata BuildMethod: got %q, want makefile", bm)
			}
			checkHTTPAPIEvents(t, fn, "/functions/v1/"+short)

			env := functionEnv(globals, fn)
			refEnv := functionEnv(refGlobals, refs.GetAllServerlessFunctionResources()[name])
			for k := range env {
				base, isFile := strings.CutSuffix(k, "_FILE")
				v, known := vars[k]
				if !known && isFile {
					v, known = vars[base]
					known = known && v.Secret
				}
				if !known {
					t.Errorf("sets %s, which shared/config does not read", k)
				}
				if k == "PORT" || k == config.EnvSecretAlias {
					t.Errorf("sets %s: meaningless under Lambda or a second copy of the secret", k)
				}
				param, ok := strings.CutPrefix(refEnv[k], refPrefix)
				if !ok {
					t.Errorf("%s: got %q, want !Ref to a parameter", k, refEnv[k])
					continue
				}
				p, ok := tmpl.Parameters[param]
				if !ok {
					t.Errorf("%s: !Ref %s, which is not a parameter", k, param)
					continue
				}
				usedParams[param] = true
				if noEcho := p.NoEcho != nil && *p.NoEcho; noEcho != v.Secret {
					t.Errorf("%s: parameter %s NoEcho=%v, but the variable is secret=%v", k, param, noEcho, v.Secret)
				}
			}
			for _, v := range config.Variables() {
				if !v.Required {
					continue
				}
				forms := []string{v.Name, v.Name + "_FILE"}
				for _, a := range v.Alternatives {
					forms = append(forms, a, a+"_FILE")
				}
				if !slices.ContainsFunc(forms, func(n string) bool { _, ok := env[n]; return ok }) {
					t.Errorf("required %s is not set (nor any of %v)", v.Name, v.Alternatives)
				}
				for _, a := range v.Alternatives {
					// Every signing source is a parameter, so a stack can
					// move from the legacy secret to a key without a new
					// template.
					if _, ok := env[a]; !ok {
						t.Errorf("%s, which stands in for %s, is not set", a, v.Name)
					}
				}
			}
			if short == "exchange" {
				// Least privilege: only refresh talks to the token endpoint.
				if _, ok := env[config.EnvAuthClientSecret]; ok {
					t.Errorf("ExchangeFunction gets AUTH_CLIENT_SECRET, which only refresh needs")
				}
			}
			// sam local invoke --env-vars applies only variables the template
			// declares; anything else in events/env.json would be silently lost.
			fileEnv, ok := envJSON[short]
			if !ok {
				t.Errorf("events/env.json has no %s", name)
			}
			for k := range fileEnv {
				if _, ok := env[k]; !ok {
					t.Errorf("events/env.json sets %s for %s, which the template does not declare: sam local would drop it", k, name)
				}
			}
		})
	}

	for name, p := range tmpl.Parameters {
		if !usedParams[name] {
			t.Errorf("parameter %s reaches no environment variable", name)
		}
		if p.Type != "String" {
			t.Errorf("parameter %s: Type %s, want String", name, p.Type)
		}
	}
	// The legacy secret is optional (a signing key may stand in for it),
	// but when given it must be 32 bytes or more (GoTrue's rule), checked at
	// deploy by its AllowedPattern.
	secret := tmpl.Parameters["SupabaseJwtSecret"]
	if secret.Default != "" {
		t.Errorf("SupabaseJwtSecret default %v, want empty", secret.Default)
	}
	pattern, err := regexp.Compile(deref(secret.AllowedPattern))
	if err != nil || deref(secret.AllowedPattern) == "" {
		t.Errorf("SupabaseJwtSecret AllowedPattern %q: %v", deref(secret.AllowedPattern), err)
	} else {
		for v, ok := range map[string]bool{"": true, strings.Repeat("s", 31): false, strings.Repeat("s", 32): true} {
			if pattern.MatchString(v) != ok {
				t.Errorf("SupabaseJwtSecret AllowedPattern on %d bytes: got %v, want %v", len(v), !ok, ok)
			}
		}
	}
	for _, name := range []string{"SupabridgeSigningKey", "SupabaseJwtKeys"} {
		if p := tmpl.Parameters[name]; p.NoEcho == nil || !*p.NoEcho || p.Default != "" {
			t.Errorf("%s: NoEcho %v, default %v; want a NoEcho parameter, empty by default", name, p.NoEcho, p.Default)
		}
	}
	// An empty CLAIMS_PASSTHROUGH means "copy nothing but email", so the
	// template spells the code's default out.
	if got, want := tmpl.Parameters["ClaimsPassthrough"].Default, strings.Join(claims.DefaultPassthrough, ","); got != want {
		t.Errorf("ClaimsPassthrough default: got %v, want the code's default %q", got, want)
	}
	for _, out := range []string{"ExchangeUrl", "RefreshUrl", "ApiUrl", "JwksUrl"} {
		if _, ok := tmpl.Outputs[out]; !ok {
			t.Errorf("Outputs: no %s", out)
		}
	}
}

// checkHTTPAPIEvents wants a POST and an OPTIONS HttpApi route on path, a
// GET on path/.well-known/jwks.json, and nothing else.
func checkHTTPAPIEvents(t *testing.T, fn *serverless.Function, path string) {
	t.Helper()
	var methods []string
	for name, ev := range fn.Events {
		if ev.Type != "HttpApi" {
			t.Errorf("event %s: Type %s, want HttpApi", name, ev.Type)
			continue
		}
		if ev.Properties == nil || ev.Properties.HttpApiEvent == nil {
			t.Errorf("event %s: no HttpApi properties", name)
			continue
		}
		method := strings.ToUpper(deref(ev.Properties.HttpApiEvent.Method))
		want := path
		if method == "GET" {
			want = path + "/.well-known/jwks.json"
		}
		if got := deref(ev.Properties.HttpApiEvent.Path); got != want {
			t.Errorf("event %s: Path %q, want %q", name, got, want)
		}
		methods = append(methods, method)
	}
	slices.Sort(methods)
	if want := []string{"GET", "OPTIONS", "POST"}; !slices.Equal(methods, want) {
		t.Errorf("HttpApi methods: got %v, want %v", methods, want)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestSAMConfig checks samconfig.toml holds the defaults docs/lambda.md
// promises, without reading TOML with a new dependency: the file is small and
// flat, so a line scan per section is enough.
func TestSAMConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	section := ""
	got := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("samconfig.toml: not key = value: %q", line)
			continue
		}
		got[section+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	want := map[string]string{
		".version":                                    "0.1",
		"default.global.parameters.stack_name":        `"supabridge"`,
		"default.build.parameters.cached":             "true",
		"default.build.parameters.parallel":           "true",
		"default.deploy.parameters.capabilities":      `"CAPABILITY_IAM"`,
		"default.deploy.parameters.confirm_changeset": "true",
		"default.deploy.parameters.resolve_s3":        "true",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("samconfig.toml %s: got %q, want %q", k, got[k], v)
		}
	}
	for k, v := range got {
		for _, secret := range []string{"SupabaseJwtSecret", "AuthClientSecret"} {
			if strings.Contains(v, secret) {
				t.Errorf("samconfig.toml %s sets %s: secrets do not belong in a committed file", k, secret)
			}
		}
	}
}
