package exchange_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"supabridge/internal/testkit"

	"supabridge/shared/function"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/jwtoracle"
	"supabridge/shared/bridge"
	"supabridge/shared/config"
	"supabridge/shared/edge"
	"supabridge/shared/exchange"
	"supabridge/shared/verify"
)

// The fuzz targets of this file run the real exchange handler, behind the
// edge, over a static key set and a fixed clock. Its keys are derived from
// fixed seeds, so a token in the corpus (or in a crasher) verifies again on
// the next run: a finding reproduces.
const (
	fuzzIss    = "https://auth.fuzz.example/application/o/app/"
	fuzzSecret = "fuzz-secret-for-exchange-at-least-32-bytes"
)

var fuzzNow = time.Unix(1_900_000_000, 0)

type fuzzEnv struct {
	handler http.Handler
	ed      ed25519.PrivateKey
	ec      *ecdsa.PrivateKey
	oracle  []jwtoracle.Policy
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	seed := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	fe := &fuzzEnv{ed: ed25519.NewKeyFromSeed(seed("supabridge fuzz ed25519"))}
	var err error
	if fe.ec, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), seed("supabridge fuzz p256")); err != nil {
		tb.Fatal(err)
	}
	ks := []jwtoracle.Key{
		{Kid: "fz-ed", Alg: "EdDSA", Pub: fe.ed.Public()},
		{Kid: "fz-ec", Alg: "ES256", Pub: fe.ec.Public()},
	}
	var set []jwkset.JWKMarshal
	for _, k := range ks {
		j, err := jwkset.NewJWKFromKey(k.Pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.Kid, ALG: jwkset.ALG(k.Alg), USE: jwkset.UseSig}})
		if err != nil {
			tb.Fatal(err)
		}
		set = append(set, j.Marshal())
	}
	setJSON, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(config.MapEnv(map[string]string{
		"SUPABASE_JWT_SECRET": fuzzSecret,
		"AUTH_ISSUER":         fuzzIss,
		"AUTH_PUBLIC_KEY":     string(setJSON),
		"AUTH_AUDIENCE":       "app",
	}))
	if err != nil {
		tb.Fatal(err)
	}
	h, err := exchange.New(tb.Context(), cfg, function.Deps{Now: func() time.Time { return fuzzNow }})
	if err != nil {
		tb.Fatal(err)
	}
	fe.handler = edge.Wrap(h, edge.Options{Function: "exchange"})
	fe.oracle = []jwtoracle.Policy{{Issuer: fuzzIss, Audience: []string{"app"}, Algs: verify.Algorithms, Leeway: verify.DefaultLeeway, Keys: ks}}
	return fe
}

// sign signs claims with the Ed25519 key (or the P-256 one when ec is set);
// header entries are added to alg and kid.
func (fe *fuzzEnv) sign(tb testing.TB, ec bool, claims map[string]any, header map[string]any) string {
	tb.Helper()
	m, key, kid := jwt.SigningMethod(jwt.SigningMethodEdDSA), crypto.Signer(fe.ed), "fz-ed"
	if ec {
		m, key, kid = jwt.SigningMethodES256, fe.ec, "fz-ec"
	}
	t := jwt.NewWithClaims(m, jwt.MapClaims(claims))
	t.Header["kid"] = kid
	for k, v := range header {
		if v == nil {
			delete(t.Header, k)
			continue
		}
		t.Header[k] = v
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func fuzzClaims(kv ...any) map[string]any {
	c := map[string]any{"iss": fuzzIss, "sub": "fuzz-user", "aud": "app", "iat": fuzzNow.Unix(), "exp": fuzzNow.Unix() + 600, "email": "f@example.com"}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
			continue
		}
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

// seedToken is a token made in the test and the status it must get.
type seedToken struct {
	name  string
	token string
	want  int
}

// seedTokens are tokens on either side of each rule, made in the test so
// the fuzzer can mutate a token that verifies.
func (fe *fuzzEnv) seedTokens(tb testing.TB) []seedToken {
	now := fuzzNow.Unix()
	jwk, err := jwkset.NewJWKFromKey(fe.ec.Public(), jwkset.JWKOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	pubJWK, err := json.Marshal(jwk.Marshal())
	if err != nil {
		tb.Fatal(err)
	}
	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(fuzzClaims())).SignedString(pubJWK)
	if err != nil {
		tb.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(fuzzClaims())).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		tb.Fatal(err)
	}
	return []seedToken{
		{"EdDSA", fe.sign(tb, false, fuzzClaims(), nil), 200},
		{"ES256", fe.sign(tb, true, fuzzClaims(), nil), 200},
		{"no kid", fe.sign(tb, false, fuzzClaims(), map[string]any{"kid": nil}), 200},
		{"expired within leeway", fe.sign(tb, false, fuzzClaims("exp", now-10), nil), 401},
		{"expired", fe.sign(tb, false, fuzzClaims("exp", now-40), nil), 401},
		{"exp in a second", fe.sign(tb, false, fuzzClaims("exp", now+1), nil), 200},
		{"no exp", fe.sign(tb, false, fuzzClaims("exp", nil), nil), 401},
		{"nbf ahead", fe.sign(tb, false, fuzzClaims("nbf", now+40), nil), 401},
		{"no sub", fe.sign(tb, false, fuzzClaims("sub", nil), nil), 401},
		{"empty sub", fe.sign(tb, false, fuzzClaims("sub", ""), nil), 401},
		{"aud list", fe.sign(tb, false, fuzzClaims("aud", []string{"x", "app"}), nil), 200},
		{"wrong aud", fe.sign(tb, false, fuzzClaims("aud", "other"), nil), 401},
		{"wrong iss", fe.sign(tb, false, fuzzClaims("iss", "https://evil.example/"), nil), 401},
		{"provider role", fe.sign(tb, false, fuzzClaims("role", "service_role", "app_metadata", map[string]any{"role": "service_role"}), nil), 200},
		{"crit", fe.sign(tb, false, fuzzClaims(), map[string]any{"crit": []string{"exp"}}), 401},
		{"kid of the other key", fe.sign(tb, false, fuzzClaims(), map[string]any{"kid": "fz-ec"}), 401},
		{"jku and an unknown kid", fe.sign(tb, false, fuzzClaims(), map[string]any{"jku": "http://127.0.0.1:1/jwks", "kid": "attacker"}), 401},
		{"HS256 keyed with the public JWK", hs, 401},
		{"alg none", none, 401},
		{"empty", "", 401},
		{"three garbage segments", "not.a.jwt", 401},
		{"over 16 KiB", strings.Repeat("A", verify.MaxTokenLen+1), 413},
	}
}

// TestFuzzExchangeSeeds runs the bearer seeds with their expected answers,
// so that the fuzz targets cannot pass because nothing ever verifies, and
// checks the oracle agrees with each.
func TestFuzzExchangeSeeds(t *testing.T) {
	fe := newFuzzEnv(t)
	for _, s := range fe.seedTokens(t) {
		t.Run(s.name, func(t *testing.T) {
			r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", nil)
			r.Header.Set("Authorization", "Bearer "+s.token)
			w := httptest.NewRecorder()
			fe.handler.ServeHTTP(w, r)
			body := checkContract(t, w)
			if w.Code != s.want {
				t.Fatalf("got %d %v, want %d", w.Code, body, s.want)
			}
			if o := oracleExchange(s.token, fe.oracle); o.OK != (s.want == 200) {
				t.Fatalf("oracle: got %v (%s), want accepted=%v", o.OK, o.Why, s.want == 200)
			} else if o.OK {
				checkMintedFor(t, body, o)
			}
		})
	}
}

// FuzzExchangeBearer sends any bytes as the bearer token through the real
// exchange handler. It must never panic, answer only 200, 401 or 413 (the
// keys are static, so never 5xx), and answer 200 only for a token that an
// independent verifier, golang-jwt's signing methods with the contract's
// rules, accepts; the minted token then verifies with the secret and
// carries that token's subject.
func FuzzExchangeBearer(f *testing.F) {
	fe := newFuzzEnv(f)
	for _, s := range fe.seedTokens(f) {
		f.Add(s.token)
	}
	f.Fuzz(func(t *testing.T, token string) {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/functions/v1/exchange", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		fe.handler.ServeHTTP(w, r)
		body := checkContract(t, w)
		tok := strings.TrimSpace(token)
		o := oracleExchange(tok, fe.oracle)
		switch w.Code {
		case http.StatusOK:
			if !o.OK {
				t.Fatalf("minted a token for a token the contract refuses (%s)\ntoken: %q", o.Why, tok)
			}
			checkMintedFor(t, body, o)
		case http.StatusRequestEntityTooLarge:
			if len(tok) <= verify.MaxTokenLen {
				t.Fatalf("got 413 for a %d-byte token", len(tok))
			}
		case http.StatusUnauthorized:
			if len(tok) > verify.MaxTokenLen {
				t.Fatalf("got 401 for a %d-byte token, want 413", len(tok))
			}
			if o.OK && o.Sane {
				t.Fatalf("refused (%v) a token the contract accepts\ntoken: %q", body["error_description"], tok)
			}
		default:
			t.Fatalf("got status %d %v, want 200, 401 or 413", w.Code, body)
		}
	})
}

// FuzzExchangeRequest fuzzes the whole request: method, path, Content-Type,
// Authorization and body (forms, JSON, RFC 8693 fields). Whatever comes in,
// the answer is one of the contract's statuses with the contract's headers
// and JSON shape, and a 200 to a POST needs a token in the Authorization
// header or the form's subject_token that the independent verifier accepts.
func FuzzExchangeRequest(f *testing.F) {
	fe := newFuzzEnv(f)
	good := fe.sign(f, false, fuzzClaims(), nil)
	expired := fe.sign(f, false, fuzzClaims("exp", fuzzNow.Unix()-3600), nil)
	const formCT = "application/x-www-form-urlencoded"
	te := func(tok, typ string) []byte {
		return []byte(url.Values{
			"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"subject_token":      {tok},
			"subject_token_type": {typ},
		}.Encode())
	}
	for _, s := range []struct {
		method, path, ct, auth string
		body                   []byte
	}{
		{"POST", "/functions/v1/exchange", "", "Bearer " + good, nil},
		{"POST", "/", "application/json", "bearer " + good, []byte(`{"token":"x"}`)},
		{"POST", "/exchange", formCT, "", te(good, "urn:ietf:params:oauth:token-type:jwt")},
		{"POST", "/exchange", formCT + "; charset=utf-8", "", te(good, "urn:ietf:params:oauth:token-type:id_token")},
		{"POST", "/exchange", formCT, "Basic Y2xpZW50OnNlY3JldA==", te(good, "urn:ietf:params:oauth:token-type:access_token")},
		{"POST", "/exchange", formCT, "", te(expired, "urn:ietf:params:oauth:token-type:jwt")},
		{"POST", "/exchange", formCT, "", te(good, "urn:ietf:params:oauth:token-type:saml2")},
		{"POST", "/exchange", formCT, "Bearer " + good, []byte("grant_type=password&username=a")},
		{"POST", "/exchange", formCT, "Bearer " + good, []byte("subject_token=" + good)},
		{"POST", "/exchange", formCT, "", []byte("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=a&subject_token=b&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt")},
		{"POST", "/exchange", formCT, "", []byte("grant_type=%zz")},
		{"POST", "/exchange?subject_token=" + good + "&grant_type=urn:ietf:params:oauth:grant-type:token-exchange", "", "", nil},
		{"POST", "/exchange?access_token=" + good, formCT, "", []byte("access_token=" + good)},
		{"POST", "/exchange", "multipart/form-data; boundary=x", "", []byte("--x\r\nContent-Disposition: form-data; name=\"subject_token\"\r\n\r\n" + good + "\r\n--x--\r\n")},
		{"POST", "/exchange", formCT, "", bytes.Repeat([]byte("a"), bridge.MaxBody+1)},
		{"POST", "/", "", "Bearer", nil},
		{"POST", "/", "", "Bearer  " + good + " ", nil},
		{"POST", "/", "", "Token " + good, nil},
		{"OPTIONS", "/functions/v1/exchange", "", "", nil},
		{"GET", "/healthz", "", "", nil},
		{"HEAD", "/functions/v1/exchange/healthz", "", "", nil},
		{"GET", "/functions/v1/exchange", "", "Bearer " + good, nil},
		{"PUT", "/", formCT, "", te(good, "urn:ietf:params:oauth:token-type:jwt")},
		{"DELETE", "/healthz", "", "", nil},
		{"BREW", "/", "", "", nil},
	} {
		f.Add(s.method, s.path, s.ct, s.auth, s.body)
	}
	f.Fuzz(func(t *testing.T, method, path, ct, auth string, body []byte) {
		u, err := url.ParseRequestURI(path)
		if err != nil {
			u = &url.URL{Path: "/"}
		}
		r := (&http.Request{
			Method: method, URL: u, RequestURI: u.RequestURI(), Host: "functions.example",
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, RemoteAddr: "192.0.2.1:1234",
			Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		}).WithContext(t.Context())
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		fe.handler.ServeHTTP(w, r)
		got := checkContract(t, w)
		if w.Code != http.StatusOK || method != http.MethodPost {
			return
		}
		// A 200 to a POST: some token we sent must verify, and the minted
		// token is for it.
		var candidates []string
		if scheme, tok, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "bearer") {
			candidates = append(candidates, strings.TrimSpace(tok))
		}
		if form, err := url.ParseQuery(string(body)); err == nil || len(form) > 0 {
			candidates = append(candidates, form["subject_token"]...)
		}
		for _, c := range candidates {
			if o := oracleExchange(c, fe.oracle); o.OK {
				checkMintedFor(t, got, o)
				return
			}
		}
		t.Fatalf("minted a token though no token in the request verifies\nauth: %q\nbody: %q", auth, body)
	})
}

// errorCodes maps each error status of the contract to its codes.
var errorCodes = map[int][]string{
	http.StatusBadRequest:            {"invalid_request", "unsupported_grant_type"},
	http.StatusUnauthorized:          {"invalid_token"},
	http.StatusMethodNotAllowed:      {"method_not_allowed"},
	http.StatusRequestEntityTooLarge: {"request_too_large"},
}

// descriptions is shared by the fuzz targets of one process; the fuzzer
// runs one input at a time in each.
var descriptions testkit.Phrases

// checkContract asserts the contract's headers and body shape and returns
// the decoded body (nil for a 204).
func checkContract(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	h := w.Header()
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("got Content-Type %q, want application/json", ct)
	}
	if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Headers") == "" {
		t.Fatalf("got CORS headers %v", h)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Fatalf("got Cache-Control %q, want no-store", h.Get("Cache-Control"))
	}
	if w.Code == http.StatusNoContent {
		if w.Body.Len() != 0 {
			t.Fatalf("got a body with 204: %q", w.Body.String())
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.UseNumber()
	var got map[string]any
	if err := dec.Decode(&got); err != nil || dec.More() {
		t.Fatalf("status %d: body is not one JSON object: %q", w.Code, w.Body.String())
	}
	if w.Code == http.StatusOK {
		if len(got) == 1 && got["status"] == "ok" {
			return got // /healthz
		}
		want := []string{"access_token", "expires_at", "expires_in", "issued_token_type", "supabaseJwt", "token_type"}
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("got success keys %v, want %v", keys, want)
		}
		if got["token_type"] != "bearer" || got["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" || got["supabaseJwt"] != got["access_token"] {
			t.Fatalf("got success body %v", got)
		}
		return got
	}
	codes, ok := errorCodes[w.Code]
	if !ok {
		t.Fatalf("got status %d %v, not one of the contract's", w.Code, got)
	}
	code, _ := got["error"].(string)
	desc, _ := got["error_description"].(string)
	if len(got) != 2 || !slices.Contains(codes, code) || desc == "" {
		t.Fatalf("got error body %v for status %d, want error one of %v and a description", got, w.Code, codes)
	}
	descriptions.Check(t, desc)
	switch w.Code {
	case http.StatusUnauthorized:
		if h.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Fatalf("got WWW-Authenticate %q on 401", h.Get("WWW-Authenticate"))
		}
	case http.StatusMethodNotAllowed:
		if h.Get("Allow") == "" {
			t.Fatal("got no Allow header on 405")
		}
	}
	return got
}

// checkMintedFor checks the minted token of a 200 body against the provider
// token the oracle accepted.
func checkMintedFor(t *testing.T, body map[string]any, o jwtoracle.Result) {
	t.Helper()
	minted, _ := body["access_token"].(string)
	var c jwt.MapClaims
	tok, err := jwt.ParseWithClaims(minted, &c, func(*jwt.Token) (any, error) { return []byte(fuzzSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return fuzzNow }),
		jwt.WithExpirationRequired(), jwt.WithIssuer("supabase"), jwt.WithAudience("authenticated"))
	if err != nil {
		t.Fatalf("the minted token does not verify with the secret: %v", err)
	}
	if _, ok := tok.Header["kid"]; ok {
		t.Fatal("the minted token has a kid")
	}
	var sub string
	_ = json.Unmarshal(o.Claims["sub"], &sub)
	if c["sub"] != sub || c["role"] != "authenticated" {
		t.Fatalf("got sub %v role %v, want %q authenticated", c["sub"], c["role"], sub)
	}
	var pexp float64
	_ = json.Unmarshal(o.Claims["exp"], &pexp)
	if exp, _ := c["exp"].(float64); exp > math.Floor(pexp) || exp <= float64(fuzzNow.Unix()) {
		t.Fatalf("got exp %v, want in (now, %v]", exp, pexp)
	}
}

// oracleExchange adds the minting rules to the verification oracle: a
// non-empty subject, and an exp that leaves a session of at least a second.
func oracleExchange(tok string, policies []jwtoracle.Policy) jwtoracle.Result {
	o := jwtoracle.Verify(tok, policies, fuzzNow)
	if !o.OK {
		return o
	}
	var sub string
	if json.Unmarshal(o.Claims["sub"], &sub) != nil || sub == "" {
		o.OK, o.Why = false, "no subject"
		return o
	}
	var exp json.Number
	_ = json.Unmarshal(o.Claims["exp"], &exp)
	if f, _ := exp.Float64(); math.Floor(f) <= float64(fuzzNow.Unix()) {
		o.OK, o.Why = false, "expires before a session could start"
	}
	return o
}
