package refresh_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"supabridge/internal/testkit"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/bridge"
	"supabridge/shared/claims"
	"supabridge/shared/config"
	"supabridge/shared/edge"
	"supabridge/shared/function"
	"supabridge/shared/idp"
	"supabridge/shared/keys"
	"supabridge/shared/refresh"
	"supabridge/shared/verify"
)

// fakeRefresher is a token endpoint that records what the handler asked
// for. The refresh token "good-<name>" gets a fresh, genuine ID token of
// its provider; any other is refused as invalid_grant.
type fakeRefresher struct {
	name    string
	idToken string

	mu    sync.Mutex
	calls []string
}

var _ bridge.Refresher = (*fakeRefresher)(nil)

func (f *fakeRefresher) Refresh(_ context.Context, rt string) (idp.Tokens, error) {
	f.mu.Lock()
	f.calls = append(f.calls, rt)
	f.mu.Unlock()
	if rt == "good-"+f.name {
		return idp.Tokens{AccessToken: "at-" + f.name, RefreshToken: "rt2-" + f.name, IDToken: f.idToken}, nil
	}
	return idp.Tokens{}, idp.ErrInvalidGrant
}

func (f *fakeRefresher) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

type refreshFuzzEnv struct {
	handler      http.Handler
	fakes        []*fakeRefresher
	descriptions testkit.Phrases
}

// newRefreshFuzzEnv serves two providers, "a" and "b", so that the
// provider field matters: without it the handler must not pick one.
func newRefreshFuzzEnv(tb testing.TB) *refreshFuzzEnv {
	tb.Helper()
	now := time.Unix(1_900_000_000, 0)
	type prov struct {
		Name       string `json:"name"`
		Issuer     string `json:"issuer"`
		PublicKey  string `json:"public_key"`
		SubMapping string `json:"sub_mapping"`
	}
	var provs []prov
	env := &refreshFuzzEnv{}
	for _, name := range []string{"a", "b"} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			tb.Fatal(err)
		}
		iss := "https://" + name + ".fuzz.example/"
		provs = append(provs, prov{name, iss, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "passthrough"})
		id, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
			"iss": iss, "sub": "user-" + name, "aud": "client", "iat": now.Unix(), "exp": now.Unix() + 600,
		}).SignedString(k)
		if err != nil {
			tb.Fatal(err)
		}
		env.fakes = append(env.fakes, &fakeRefresher{name: name, idToken: id})
	}
	list, err := json.Marshal(provs)
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(config.MapEnv(map[string]string{"SUPABASE_JWT_SECRET": secret, "AUTH_PROVIDERS": string(list)}))
	if err != nil {
		tb.Fatal(err)
	}
	minter, err := claims.NewMinter(cfg.Supabase, func() time.Time { return now })
	if err != nil {
		tb.Fatal(err)
	}
	trusted := make([]*bridge.Trusted, len(cfg.Providers))
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		src, err := keys.NewStatic(p.PublicKey)
		if err != nil {
			tb.Fatal(err)
		}
		trusted[i] = &bridge.Trusted{Policy: p.Policy(), Mapping: p.Mapping, Refresher: env.fakes[i]}
		trusted[i].Policy.Keys = src
	}
	b, err := bridge.New(trusted, minter, func() time.Time { return now })
	if err != nil {
		tb.Fatal(err)
	}
	env.handler = edge.Wrap(refresh.Handler(b, function.Deps{}), edge.Options{Function: "refresh"})
	return env
}

// refreshSeeds are requests on either side of each parsing rule, with the
// status each must get.
var refreshSeeds = []struct {
	name, ct, body string
	want           int
}{
	{"form a", form, "grant_type=refresh_token&refresh_token=good-a&provider=a", 200},
	{"form b without grant_type", form, "refresh_token=good-b&provider=b", 200},
	{"form with charset", form + "; charset=utf-8", "refresh_token=good-a&provider=a", 200},
	{"form, spaces around the token", form, "refresh_token=+good-a+&provider=a", 200},
	{"JSON a", "application/json", `{"refresh_token":"good-a","provider":"a"}`, 200},
	{"JSON without Content-Type", "", `{"refresh_token":"good-b","provider":"b","grant_type":"refresh_token"}`, 200},
	{"refused refresh token", form, "refresh_token=spent&provider=a", 400},
	{"no provider with two", form, "refresh_token=good-a", 400},
	{"unknown provider", form, "refresh_token=good-a&provider=c", 400},
	{"other grant", form, "grant_type=password&refresh_token=good-a&provider=a", 400},
	{"empty grant", form, "grant_type=&refresh_token=good-a&provider=a", 400},
	{"JSON other grant", "application/json", `{"grant_type":"client_credentials","refresh_token":"good-a","provider":"a"}`, 400},
	{"JSON grant not a string", "application/json", `{"grant_type":1,"refresh_token":"good-a","provider":"a"}`, 400},
	{"repeated token", form, "refresh_token=good-a&refresh_token=good-a&provider=a", 400},
	{"repeated provider", form, "refresh_token=good-a&provider=a&provider=b", 400},
	{"empty token", form, "refresh_token=+&provider=a", 400},
	{"bad escape", form, "refresh_token=%zz&provider=a", 400},
	{"JSON null", "application/json", `null`, 400},
	{"JSON array", "application/json", `["good-a"]`, 400},
	{"JSON truncated", "application/json", `{"refresh_token":"good-a"`, 400},
	{"JSON token not a string", "application/json", `{"refresh_token":["good-a"],"provider":"a"}`, 400},
	{"JSON key in upper case", "application/json", `{"REFRESH_TOKEN":"good-a","provider":"a"}`, 400},
	{"JSON key twice", "application/json", `{"refresh_token":"spent","refresh_token":"good-a","provider":"a"}`, 400},
	{"JSON key twice in two letter cases", "application/json", `{"provider":"a","refresh_token":"good-a","PROVIDER":"b"}`, 400},
	{"JSON data after the object", "application/json", `{"refresh_token":"good-a","provider":"a"} {}`, 400},
	{"text body", "text/plain", "refresh_token=good-a&provider=a", 400},
	{"multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"refresh_token\"\r\n\r\ngood-a\r\n--x--\r\n", 400},
	{"bad media parameter, good media type", "application/json; =", `{"refresh_token":"good-a","provider":"a"}`, 200},
	{"bad media type", "/", `{"refresh_token":"good-a","provider":"a"}`, 200},
	{"token over 16 KiB", form, "provider=a&refresh_token=" + strings.Repeat("r", verify.MaxTokenLen+1), 413},
	{"body over 64 KiB", "application/json", `{"refresh_token":"` + strings.Repeat("r", bridge.MaxBody) + `"}`, 413},
}

// FuzzRefreshRequest fuzzes the refresh request parsing (Content-Type and
// body) over a fake token endpoint. The handler must never panic, answer
// only 200, 400 or 413 in the contract's shape, call the token endpoint
// only with a trimmed, non-empty refresh token of at most 16 KiB taken from
// the request and only at the provider the request named, and answer 200
// only for what that endpoint granted.
func FuzzRefreshRequest(f *testing.F) {
	env := newRefreshFuzzEnv(f)
	for _, s := range refreshSeeds {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		status, got := env.post(t, ct, body)
		var called []string // "name:token"
		for _, fk := range env.fakes {
			for _, rt := range fk.take() {
				called = append(called, fk.name+":"+rt)
			}
		}
		if len(called) > 1 {
			t.Fatalf("the token endpoint was called %d times: %q", len(called), called)
		}
		if len(called) == 0 {
			if status == http.StatusOK {
				t.Fatalf("got 200 without a call to the token endpoint: %v", got)
			}
			return
		}
		name, rt, _ := strings.Cut(called[0], ":")
		if rt == "" || rt != strings.TrimSpace(rt) || len(rt) > verify.MaxTokenLen {
			t.Fatalf("the token endpoint got refresh token %q", rt)
		}
		wantRT, wantProv, ok := independentParse(ct, body)
		if !ok || strings.TrimSpace(wantRT) != rt || wantProv != name {
			t.Fatalf("the token endpoint got provider %q token %q; the request holds provider %q token %q (parsed %v)", name, rt, wantProv, wantRT, ok)
		}
		switch {
		case rt == "good-"+name:
			if status != http.StatusOK || got["refresh_token"] != "rt2-"+name || got["provider_token"] != "at-"+name {
				t.Fatalf("got %d %v, want 200 with the provider's tokens", status, got)
			}
		case status != http.StatusBadRequest || got["error"] != "invalid_grant":
			t.Fatalf("got %d %v, want 400 invalid_grant", status, got)
		}
	})
}

// TestFuzzRefreshSeeds runs the seeds with their expected answers, so that
// the fuzz target cannot pass because nothing ever reaches the provider.
func TestFuzzRefreshSeeds(t *testing.T) {
	env := newRefreshFuzzEnv(t)
	for _, s := range refreshSeeds {
		t.Run(s.name, func(t *testing.T) {
			status, got := env.post(t, s.ct, []byte(s.body))
			if status != s.want {
				t.Fatalf("got %d %v, want %d", status, got, s.want)
			}
			for _, fk := range env.fakes {
				fk.take()
			}
		})
	}
}

// independentParse reads the refresh token and provider the way the
// contract describes the request, without the handler's code: a form by
// url.ParseQuery, anything else as a JSON object.
func independentParse(ct string, body []byte) (rt, prov string, ok bool) {
	// On a bad parameter mime still returns the media type
	// (ErrInvalidMediaParameter); on a bad type, "".
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case form:
		v, err := url.ParseQuery(string(body))
		if err != nil || len(v["refresh_token"]) != 1 || len(v["provider"]) > 1 {
			return "", "", false
		}
		return v.Get("refresh_token"), v.Get("provider"), true
	case "application/json", "":
		// One object, then only white space; its keys compared exactly, and
		// no two of them equal under strings.EqualFold.
		dec := json.NewDecoder(bytes.NewReader(body))
		var m map[string]json.RawMessage
		if dec.Decode(&m) != nil || m == nil || len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
			return "", "", false
		}
		keys, ok := topLevelKeys(body)
		if !ok {
			return "", "", false
		}
		for i := range keys {
			for j := range i {
				if strings.EqualFold(keys[i], keys[j]) {
					return "", "", false
				}
			}
		}
		var rt, prov string
		if json.Unmarshal(m["refresh_token"], &rt) != nil && m["refresh_token"] != nil {
			return "", "", false
		}
		if json.Unmarshal(m["provider"], &prov) != nil && m["provider"] != nil {
			return "", "", false
		}
		return rt, prov, true
	}
	return "", "", false
}

// topLevelKeys lists the member names of the JSON object in body, in order
// and with repeats.
func topLevelKeys(body []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		k, isString := tok.(string)
		if err != nil || !isString {
			return nil, false
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return nil, false
		}
	}
	return keys, true
}

// refreshErrorCodes maps each error status the parser may give to its codes.
var refreshErrorCodes = map[int][]string{
	http.StatusBadRequest:            {"invalid_request", "unsupported_grant_type", "invalid_grant"},
	http.StatusRequestEntityTooLarge: {"request_too_large"},
}

// post sends one request and checks the contract's headers and shape.
func (env *refreshFuzzEnv) post(t *testing.T, ct string, body []byte) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/functions/v1/refresh", io.NopCloser(bytes.NewReader(body)))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	w := httptest.NewRecorder()
	env.handler.ServeHTTP(w, r)
	if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("got headers %v", w.Header())
	}
	var got map[string]any
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	if err := dec.Decode(&got); err != nil || dec.More() || got == nil {
		t.Fatalf("status %d: body is not one JSON object: %q", w.Code, w.Body.String())
	}
	if w.Code == http.StatusOK {
		for _, k := range []string{"supabaseJwt", "access_token", "token_type", "expires_in", "expires_at", "issued_token_type", "refresh_token", "provider_token", "id_token"} {
			if _, ok := got[k]; !ok {
				t.Fatalf("got no %s in %v", k, got)
			}
		}
		return w.Code, got
	}
	codes, ok := refreshErrorCodes[w.Code]
	code, _ := got["error"].(string)
	desc, _ := got["error_description"].(string)
	if !ok || len(got) != 2 || !slices.Contains(codes, code) || desc == "" {
		t.Fatalf("got %d %v, want 200, 400 or 413 in the contract's shape", w.Code, got)
	}
	env.descriptions.Check(t, desc)
	return w.Code, got
}
