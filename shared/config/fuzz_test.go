package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/MicahParks/jwkset"
	"sigs.k8s.io/yaml"

	"supabridge/shared/claims"
	"supabridge/shared/config"
	"supabridge/shared/verify"
)

// fileSecret is the content of the one file a fuzzed client_secret_file may
// name (written as "@SECRET_FILE@" in the input). It is distinctive, so its
// presence in an error text is a leak, never a coincidence.
const fileSecret = "FUZZ-FILE-CLIENT-SECRET-7f3a9c"

// secretVars hold secrets directly; their _FILE forms hold them in files.
var secretVars = []string{"SUPABASE_JWT_SECRET", "JWT_SECRET", "AUTH_CLIENT_SECRET", "FUZZ_CLIENT_SECRET", "SUPABRIDGE_SIGNING_KEY", "SUPABASE_JWT_KEYS"}

// seedSigningKey is a private JWK for the fuzz seeds, derived from a fixed
// scalar so the seeds are the same on every run (a test key, made here, not
// stored).
func seedSigningKey() string {
	d := sha256.Sum256([]byte("supabridge FuzzConfig seed key"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		panic(err) // a SHA-256 digest is a valid P-256 scalar but with negligible odds
	}
	j, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: true}, Metadata: jwkset.JWKMetadataOptions{KID: "fuzz-seed"}})
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(j.Marshal())
	return string(b)
}

// configSeeds are the seeds of FuzzConfig and whether Load accepts each.
var configSeeds = func() []struct {
	secret, alias, client, providers, extra string
	ok                                      bool
} {
	const good = "a-supabase-jwt-secret-of-at-least-32-bytes"
	return []struct {
		secret, alias, client, providers, extra string
		ok                                      bool
	}{
		{good, "", "", "", "AUTH_JWKS_URL=https://idp.example.com/jwks", true},
		{good, good, "client-secret-1", "", "AUTH_ISSUER=https://idp.example.com/\nAUTH_CLIENT_ID=app\nAUTH_CLIENT_AUTH=post", true},
		{"short-secret", "", "", "", "AUTH_ISSUER=https://idp.example.com/", false},
		{good, "another-secret-of-at-least-32-bytes!!", "", "", "AUTH_ISSUER=https://idp.example.com/", false},
		{"", "", "", "", "SUPABASE_JWT_SECRET_FILE=" + good + "\nAUTH_JWKS_URL=https://idp.example.com/jwks", true},
		{good, "", "", "", "SUPABASE_JWT_SECRET_FILE=" + good + "\nAUTH_JWKS_URL=https://idp.example.com/jwks", false},
		{good, "", "client-secret-2", "", "AUTH_JWKS_URL=https://idp.example.com/jwks", false},
		{good, "", "", "", "AUTH_JWKS_URL=ftp://idp\nAUTH_ALGORITHMS=HS256,none\nAUTH_LEEWAY=-1\nPORT=0\nLOG_LEVEL=loud\nSUB_MAPPING=uuid7\nSUB_UUID_NAMESPACE=x\nCORS_ALLOWED_ORIGINS=*,https://a.example/path\nSUPABASE_JWT_MAX_TTL=0", false},
		{good, "", "", "", "AUTH_PUBLIC_KEY={\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}\nAUTH_JWKS_URL=https://idp.example.com/jwks", false},
		// An unusable key is a configuration error (it named no variable when
		// the functions found it later).
		{good, "", "", "", "AUTH_PUBLIC_KEY_FILE=-----BEGIN PUBLIC KEY-----\nAUTH_ISSUER=https://idp.example.com/", false},
		{good, "", "client-secret-3", `[{"name":"a","issuer":"https://a.example/","jwks_url":"https://a.example/jwks","sub_mapping":"passthrough","client_id":"c","client_secret_env":"FUZZ_CLIENT_SECRET","claims_map":{"org_id":"/org","app_metadata.tenant":"/t/0"}},{"name":"b","issuer":"https://b.example/","audience":["x","y"],"algorithms":"ES256","leeway":"10s","http_timeout":3,"sub_mapping":"uuid5","client_id":"d","client_secret_file":"@SECRET_FILE@","client_auth":"post"}]`, "", true},
		{good, "", "", `[{"name":"a","issuer":"https://a.example/","client_secret":"inline-secret-value","claims_map":{"role":"/r","app_metadata.provider":"/p","x":"nope"}}]`, "", false},
		{good, "", "", "- name: a\n  issuer: https://a.example/\n  client_secret_env: FUZZ_CLIENT_SECRET\n- name: a\n  issuer: https://a.example/\n", "", false},
		{good, "", "", "- name: a\n  issuer: https://a.example/\n---\n- name: b\n  issuer: https://b.example/\n", "", false},
		{good, "", "", `[{"name":"a","issuer":"https://a.example/"}]`, "AUTH_JWKS_URL=https://idp.example.com/jwks", false},
		{good, "", "", `{"name":"a"}`, "", false},
		{good, "", "", `[{"NAME":"a","Issuer":"https://a.example/","CLIENT_SECRET_FILE":"@SECRET_FILE@","client_id":"c"}]`, "", true},
		{good, "", "", "", "AUTH_PROVIDERS_FILE=[{\"name\":\"a\",\"issuer\":\"https://a.example/\"}]", true},
		{"", good, "", "", "SUPABRIDGE_SIGNING_KEY=" + seedSigningKey() + "\nAUTH_JWKS_URL=https://idp.example.com/jwks", true},
		{"", "", "", "", "SUPABRIDGE_SIGNING_KEY_FILE=" + seedSigningKey() + "\nSUPABRIDGE_PREVIOUS_KEYS=" + seedSigningKey() + "\nAUTH_JWKS_URL=https://idp.example.com/jwks", false},
		{good, "", "", "", `SUPABRIDGE_SIGNING_KEY={"kty":"EC","crv":"P-256","kid":"k","x":"AAAA","y":"BBBB","d":"FUZZ-D-VALUE"}` + "\nAUTH_JWKS_URL=https://idp.example.com/jwks", false},
		{"", "", "", "", `SUPABASE_JWT_KEYS=[{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA","kid":"o","key_ops":["sign","verify"]},{"kty":"oct","k":"c2VjcmV0"}]` + "\nAUTH_JWKS_URL=https://idp.example.com/jwks", true},
		{"", "", "", "", `SUPABASE_JWT_KEYS=[{"kty":"oct","k":"c2VjcmV0"}]` + "\nAUTH_JWKS_URL=https://idp.example.com/jwks", false},
	}
}()

// FuzzConfig runs config.Load over an environment built from the input: the
// Supabase secret and its alias, a client secret (as FUZZ_CLIENT_SECRET,
// which AUTH_PROVIDERS entries can name with client_secret_env, and as
// AUTH_CLIENT_SECRET without AUTH_PROVIDERS), AUTH_PROVIDERS as JSON or
// YAML, and any further
// NAME=value lines; a NAME ending in _FILE gets a file holding the value.
//
// Load must never panic. An error must never hold a secret's value: the
// test loads a second time with every secret masked (same length, same
// whitespace, other characters), and a secret found in the first text but
// not the second is a leak. A configuration Load accepts must hold what the
// rest of the program relies on.
func FuzzConfig(f *testing.F) {
	dir := f.TempDir()
	secretFile := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secretFile, []byte(fileSecret+"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	for _, s := range configSeeds {
		f.Add(s.secret, s.alias, s.client, s.providers, s.extra)
	}
	f.Fuzz(func(t *testing.T, secret, alias, client, providers, extra string) {
		loadChecked(t, secretFile, secret, alias, client, providers, extra)
	})
}

// TestFuzzConfigSeeds runs the seeds of FuzzConfig with their expected
// outcome, so that the fuzz target exercises both sides of Load.
func TestFuzzConfigSeeds(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, s := range configSeeds {
		if got := loadChecked(t, secretFile, s.secret, s.alias, s.client, s.providers, s.extra); got != s.ok {
			t.Errorf("seed %d: got loaded %v, want %v", i, got, s.ok)
		}
	}
}

// loadChecked loads the environment one fuzz input describes and checks the
// outcome; it reports whether Load accepted it.
func loadChecked(t *testing.T, secretFile, secret, alias, client, providers, extra string) bool {
	t.Helper()
	providers = strings.ReplaceAll(providers, "@SECRET_FILE@", secretFile)
	extra = strings.ReplaceAll(extra, "@SECRET_FILE@", secretFile)
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("SUPABASE_JWT_SECRET", secret)
	set("JWT_SECRET", alias)
	set("FUZZ_CLIENT_SECRET", client)
	if providers == "" {
		set("AUTH_CLIENT_SECRET", client)
	}
	set("AUTH_PROVIDERS", providers)
	for line := range strings.SplitSeq(extra, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" {
			m[k] = v
		}
	}
	// Every file Load could read must be one of ours: a fuzzed path could
	// name /dev/zero or a FIFO and hang the run.
	for _, data := range []string{m["AUTH_PROVIDERS"], m["AUTH_PROVIDERS_FILE"]} {
		if !onlyOurFile(data, secretFile) {
			return false
		}
	}
	secretNames := slices.Clone(secretVars)
	for _, k := range secretVars {
		secretNames = append(secretNames, k+"_FILE")
	}
	secretNames = append(secretNames, secretEnvNames(m["AUTH_PROVIDERS"], m["AUTH_PROVIDERS_FILE"])...)

	cfg, err := config.Load(config.MapEnv(withFiles(t, m)))
	if err == nil {
		checkLoaded(t, cfg)
		return true
	}
	if cfg != nil {
		t.Fatal("got a config beside an error")
	}
	text := err.Error()
	if strings.Contains(text, fileSecret) {
		t.Fatalf("the error holds the secret of the client_secret_file:\n%s", text)
	}
	masked := maps.Clone(m)
	for _, k := range secretNames {
		if v, ok := masked[k]; ok {
			masked[k] = mask(v)
		}
	}
	text2 := ""
	if _, err2 := config.Load(config.MapEnv(withFiles(t, masked))); err2 != nil {
		text2 = err2.Error()
	}
	for _, k := range secretNames {
		v := strings.TrimSpace(m[k])
		if len(v) >= 4 && strings.Contains(text, v) && !strings.Contains(text2, v) {
			t.Fatalf("the error holds the value of %s (%q):\n%s", k, v, text)
		}
	}
	return false
}

// checkLoaded asserts what the rest of the program relies on in a
// configuration Load accepted.
func checkLoaded(t *testing.T, cfg *config.Config) {
	t.Helper()
	if cfg.Supabase.Signer == nil || cfg.Signing.Source == "" {
		t.Fatalf("accepted a configuration without a signer (source %q)", cfg.Signing.Source)
	}
	if cfg.Supabase.MaxTTL <= 0 || cfg.Supabase.Issuer == "" || cfg.Supabase.Audience == "" {
		t.Fatalf("got Supabase settings %+v", cfg.Supabase)
	}
	if len(cfg.Providers) == 0 {
		t.Fatal("accepted a configuration without a provider")
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		t.Fatalf("got port %d", cfg.Port)
	}
	for _, o := range cfg.CORSOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || o == "*" {
			t.Fatalf("accepted CORS origin %q", o)
		}
	}
	names, issuers := map[string]bool{}, map[string]bool{}
	for _, p := range cfg.Providers {
		if names[p.Name] || (len(cfg.Providers) > 1 && (p.Issuer == "" || issuers[p.Issuer])) {
			t.Fatalf("accepted provider %q: duplicate name or issuer, or no issuer among several", p.Name)
		}
		names[p.Name], issuers[p.Issuer] = true, true
		if p.JWKSURL == "" && len(p.PublicKey) == 0 && p.Issuer == "" {
			t.Fatalf("provider %q has no key source", p.Name)
		}
		if p.JWKSURL != "" && len(p.PublicKey) > 0 {
			t.Fatalf("provider %q has two key sources", p.Name)
		}
		for _, u := range []string{p.Issuer, p.JWKSURL, p.TokenURL} {
			if pu, err := url.Parse(u); u != "" && (err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "") {
				t.Fatalf("provider %q: accepted URL %q", p.Name, u)
			}
		}
		for _, a := range p.Algorithms {
			if !slices.Contains(verify.Algorithms, a) {
				t.Fatalf("provider %q: accepted algorithm %q", p.Name, a)
			}
		}
		if p.HTTPTimeout <= 0 || (p.ClientAuth != config.ClientAuthBasic && p.ClientAuth != config.ClientAuthPost) {
			t.Fatalf("provider %q: timeout %v, client auth %q", p.Name, p.HTTPTimeout, p.ClientAuth)
		}
		if len(p.Secret) > 0 && p.ClientID == "" {
			t.Fatalf("provider %q: a client secret without a client id", p.Name)
		}
		if s := p.Mapping.Sub; s != claims.SubPassthrough && s != claims.SubUUID5 {
			t.Fatalf("provider %q: sub mapping %q", p.Name, s)
		}
		for _, r := range p.Mapping.Rules {
			if (r.AppMetadata && (r.Target == "" || claims.ReservedAppMetadata(r.Target))) ||
				(!r.AppMetadata && (r.Target == "" || claims.Reserved(r.Target))) || !claims.ValidPointer(r.Pointer) {
				t.Fatalf("provider %q: accepted rule %+v", p.Name, r)
			}
		}
	}
}

// mask returns s with every ASCII byte that is not white space replaced by
// the next such byte (cyclically): a bijection that keeps the length, the
// white space (so trimming), and equality between two values, so that Load
// takes the same path for the masked environment. Bytes of multi-byte
// characters are kept, which keeps UTF-8 and Unicode white space intact.
func mask(s string) string {
	space := func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
	b := []byte(s)
	for i, c := range b {
		if c >= utf8.RuneSelf || space(c) {
			continue
		}
		for {
			c = (c + 1) % utf8.RuneSelf
			if !space(c) {
				break
			}
		}
		b[i] = c
	}
	return string(b)
}

// withFiles returns m with the value of every NAME_FILE written to a file of
// its own and replaced by its path.
func withFiles(t *testing.T, m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	var dir string
	for k, v := range m {
		if !strings.HasSuffix(k, "_FILE") {
			out[k] = v
			continue
		}
		if dir == "" {
			dir = t.TempDir()
		}
		p := filepath.Join(dir, url.PathEscape(k))
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		out[k] = p
	}
	return out
}

// providerFiles decodes an AUTH_PROVIDERS text the way config does (YAML to
// JSON, then encoding/json with its case-insensitive field names), keeping
// only the fields that name a file or a variable.
func providerFiles(data string) ([]struct {
	File *string `json:"client_secret_file"`
	Env  *string `json:"client_secret_env"`
}, bool) {
	var list []struct {
		File *string `json:"client_secret_file"`
		Env  *string `json:"client_secret_env"`
	}
	if data == "" {
		return nil, true
	}
	js, err := yaml.YAMLToJSON([]byte(data))
	if err != nil {
		return nil, false
	}
	if json.Unmarshal(js, &list) != nil {
		return nil, false
	}
	return list, true
}

// onlyOurFile reports whether every client_secret_file in the providers
// text is ours. Text that does not decode as a list makes Load fail before
// it reads any file.
func onlyOurFile(data, ours string) bool {
	list, _ := providerFiles(data)
	for _, e := range list {
		if e.File != nil && *e.File != "" && *e.File != ours {
			return false
		}
	}
	return true
}

// secretEnvNames returns the variables the providers name as holding a
// client secret.
func secretEnvNames(texts ...string) []string {
	var out []string
	for _, data := range texts {
		list, _ := providerFiles(data)
		for _, e := range list {
			if e.Env != nil && *e.Env != "" {
				out = append(out, *e.Env)
			}
		}
	}
	return out
}
