package exchange_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"

	"supabridge/shared/function"

	"supabridge/bench/floor"
	"supabridge/internal/testprovider"
	"supabridge/shared/config"
	"supabridge/shared/edge"
	"supabridge/shared/exchange"
)

// benchAlgs are the provider algorithms benchmarked; with three providers
// configured, provider i signs with benchAlgs[i].
var benchAlgs = []string{"RS256", "ES256", "EdDSA"}

// benchTokens is how many distinct tokens a benchmark cycles through.
const benchTokens = 64

// benchClaims is a realistic provider payload (the shape of an Authentik
// access token), not a minimal one: the decode cost is part of the path.
func benchClaims(p *testprovider.Provider, i int) map[string]any {
	c := p.Claims(fmt.Sprintf("8f2c1a%04d", i))
	c["aud"] = "app"
	c["azp"] = "app"
	c["auth_time"] = time.Now().Unix() - 60
	c["acr"] = "goauthentik.io/providers/oauth2/default"
	c["email_verified"] = true
	c["name"] = "Alice Example"
	c["given_name"] = "Alice"
	c["preferred_username"] = "alice"
	c["nickname"] = "alice"
	c["groups"] = []string{"users", "admins"}
	c["uid"] = "a3f9c1d2e4b5a3f9c1d2e4b5a3f9c1d2e4b5"
	return c
}

type benchFixture struct {
	handler http.Handler
	key     *testprovider.Key
	issuer  string // the issuer of key's provider
	// auth holds ready Authorization header values, one per token.
	auth [][]string
}

// newBenchFixture builds the exchange handler behind edge.Wrap exactly as
// platform.NewHandler does, with nProviders providers configured through
// AUTH_PROVIDERS (each its own httptest JWKS server), and tokens of the
// provider whose key uses alg. The access log is formatted as in
// production (JSON, info level) and written to io.Discard.
func newBenchFixture(b *testing.B, alg string, nProviders int) *benchFixture {
	b.Helper()
	return newSigningFixture(b, alg, nProviders, map[string]string{"SUPABASE_JWT_SECRET": secret})
}

// newSigningFixture is newBenchFixture with the signing variables of
// signing instead of the legacy secret.
func newSigningFixture(b *testing.B, alg string, nProviders int, signing map[string]string) *benchFixture {
	b.Helper()
	algs := []string{alg}
	if nProviders > 1 {
		algs = benchAlgs[:nProviders]
	}
	type entry struct {
		Name     string `json:"name"`
		Issuer   string `json:"issuer"`
		JWKSURL  string `json:"jwks_url"`
		Audience string `json:"audience"`
		Sub      string `json:"sub_mapping"`
	}
	var (
		entries []entry
		f       benchFixture
		prov    *testprovider.Provider
	)
	for i, a := range algs {
		k := testprovider.NewKey(b, fmt.Sprintf("k%d", i), a)
		p := testprovider.New(b, fmt.Sprintf("/application/o/app%d/", i), k)
		entries = append(entries, entry{Name: fmt.Sprintf("app%d", i), Issuer: p.Issuer, JWKSURL: p.JWKSURL(), Audience: "app", Sub: "passthrough"})
		if a == alg {
			f.key, prov, f.issuer = k, p, p.Issuer
		}
	}
	list, err := json.Marshal(entries)
	if err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"AUTH_PROVIDERS": string(list)}
	for k, v := range signing {
		env[k] = v
	}
	cfg, err := config.Load(config.MapEnv(env))
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h, err := exchange.New(b.Context(), cfg, function.Deps{Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	f.handler = edge.Wrap(h, edge.Options{Function: "exchange", Logger: log})
	for i := range benchTokens {
		f.auth = append(f.auth, []string{"Bearer " + f.key.Sign(b, benchClaims(prov, i), nil)})
	}
	// One warm-up request: the JWKS was fetched by the constructor; this
	// checks the path answers 200 before timing starts.
	if code := serve(f.handler, f.auth[0]); code != http.StatusOK {
		b.Fatalf("warm-up: got %d, want 200", code)
	}
	return &f
}

// serve is one exchange through httptest: a new request and recorder, as a
// server would allocate per request.
func serve(h http.Handler, auth []string) int {
	r := httptest.NewRequest(http.MethodPost, "/functions/v1/exchange", nil)
	r.Header["Authorization"] = auth
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// BenchmarkExchange is the exchange handler end to end through httptest
// and edge.Wrap, per provider algorithm, with one provider configured and
// with three (the iss lookup must not make the second case slower).
func BenchmarkExchange(b *testing.B) {
	for _, n := range []int{1, 3} {
		for _, alg := range benchAlgs {
			b.Run(fmt.Sprintf("alg=%s/providers=%d", alg, n), func(b *testing.B) {
				f := newBenchFixture(b, alg, n)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if code := serve(f.handler, f.auth[i%benchTokens]); code != http.StatusOK {
						b.Fatalf("got %d, want 200", code)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkProvidersRatio interleaves, in each iteration, one exchange
// through a handler with one provider configured and one through a
// handler with three (the token's provider in the middle of the list), per
// algorithm, and reports three/one: the issuer lookup must not make the
// second slower (issue 10 asks for at most 5% more).
func BenchmarkProvidersRatio(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run("alg="+alg, func(b *testing.B) {
			interleave(b, newBenchFixture(b, alg, 1), newBenchFixture(b, alg, 3), "one", "three")
		})
	}
}

// interleave times, in each iteration, one exchange through x and one
// through y, and reports "<nx>-ns/op", "<ny>-ns/op" and "<ny>/<nx>":
// interleaving keeps the ratio steady when the machine's speed drifts
// between separate benchmarks.
func interleave(b *testing.B, x, y *benchFixture, nx, ny string) {
	b.Helper()
	var inX, inY time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if code := serve(x.handler, x.auth[i%benchTokens]); code != http.StatusOK {
			b.Fatalf("%s: got %d, want 200", nx, code)
		}
		t1 := time.Now()
		if code := serve(y.handler, y.auth[i%benchTokens]); code != http.StatusOK {
			b.Fatalf("%s: got %d, want 200", ny, code)
		}
		inY += time.Since(t1)
		inX += t1.Sub(t0)
		i++
	}
	b.ReportMetric(float64(inX.Nanoseconds())/float64(i), nx+"-ns/op")
	b.ReportMetric(float64(inY.Nanoseconds())/float64(i), ny+"-ns/op")
	b.ReportMetric(float64(inY)/float64(inX), ny+"/"+nx)
}

// BenchmarkHarness is serve's own cost (request, recorder) around a handler
// that does nothing, to tell the harness from the handler in the figures.
func BenchmarkHarness(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	auth := []string{"Bearer x"}
	b.ReportAllocs()
	for b.Loop() {
		serve(h, auth)
	}
}

// BenchmarkExchangeFloorRatio times, in each iteration, one bare-crypto
// floor exchange (bench/floor Floor: RS256 verify + HS256 sign, standard
// library only), one exchange through the standard-library floor's handler
// (bench/floor Std: the same checks and claims with encoding/json and
// net/http, no libraries), one RS256 exchange through the handler with the
// same key, and the harness alone (serve around a handler that does
// nothing). It reports handler/floor (the bare-crypto budget is 1.3),
// handler/stdfloor (issue 20's target is 1.25: both through the same
// harness), and handler/floor with the harness's own cost taken out.
// Interleaving makes the ratios immune to the machine speeding up or
// slowing down between separate benchmarks.
func BenchmarkExchangeFloorRatio(b *testing.B) {
	f := newBenchFixture(b, "RS256", 1)
	pub := f.key.Signer.Public().(*rsa.PublicKey)
	fl := floor.New(pub, []byte(secret))
	std := floor.StdHandler(floor.NewStd(pub, []byte(secret), f.issuer, "app"))
	raw := make([]string, len(f.auth))
	for i, a := range f.auth {
		raw[i] = a[0][len("Bearer "):]
	}
	if code := serve(std, f.auth[0]); code != http.StatusOK {
		b.Fatalf("standard-library floor: got %d, want 200", code)
	}
	noop := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	var inFloor, inStd, inHandler, inHarness time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := fl.Exchange(raw[i%benchTokens]); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if code := serve(f.handler, f.auth[i%benchTokens]); code != http.StatusOK {
			b.Fatalf("got %d, want 200", code)
		}
		t2 := time.Now()
		serve(noop, f.auth[i%benchTokens])
		t3 := time.Now()
		if code := serve(std, f.auth[i%benchTokens]); code != http.StatusOK {
			b.Fatalf("standard-library floor: got %d, want 200", code)
		}
		inStd += time.Since(t3)
		inHarness += t3.Sub(t2)
		inHandler += t2.Sub(t1)
		inFloor += t1.Sub(t0)
		i++
	}
	n := float64(i)
	b.ReportMetric(float64(inFloor.Nanoseconds())/n, "floor-ns/op")
	b.ReportMetric(float64(inStd.Nanoseconds())/n, "stdfloor-ns/op")
	b.ReportMetric(float64(inHandler.Nanoseconds())/n, "handler-ns/op")
	b.ReportMetric(float64(inHarness.Nanoseconds())/n, "harness-ns/op")
	b.ReportMetric(float64(inHandler)/float64(inFloor), "handler/floor")
	b.ReportMetric(float64(inHandler)/float64(inStd), "handler/stdfloor")
	b.ReportMetric(float64(inHandler-inHarness)/float64(inFloor), "net-handler/floor")
}

// signingModes are the minting setups benchmarked side by side: the legacy
// secret (HS256, no kid) and a key of the bridge's own (ES256 with a kid).
func signingModes(b *testing.B) []struct {
	name string
	env  map[string]string
} {
	b.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	j, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: "bench-bridge", ALG: jwkset.AlgES256}})
	if err != nil {
		b.Fatal(err)
	}
	own, err := json.Marshal(j.Marshal())
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		env  map[string]string
	}{
		{"HS256", map[string]string{"SUPABASE_JWT_SECRET": secret}},
		{"ES256", map[string]string{"SUPABRIDGE_SIGNING_KEY": string(own)}},
	}
}

// BenchmarkExchangeSigning is the whole exchange (RS256 provider token in,
// one provider) minting with the legacy secret and with the bridge's own
// EC key, side by side: the difference is the cost of ES256 signing.
func BenchmarkExchangeSigning(b *testing.B) {
	for _, m := range signingModes(b) {
		b.Run("sign="+m.name, func(b *testing.B) {
			f := newSigningFixture(b, "RS256", 1, m.env)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if code := serve(f.handler, f.auth[i%benchTokens]); code != http.StatusOK {
					b.Fatalf("got %d, want 200", code)
				}
				i++
			}
		})
	}
}

// BenchmarkSigningRatio interleaves, in each iteration, one exchange
// minting HS256 and one minting ES256 (same provider token shape), and
// reports es256/hs256, immune to the machine's speed drifting between
// separate benchmarks.
func BenchmarkSigningRatio(b *testing.B) {
	modes := signingModes(b)
	interleave(b, newSigningFixture(b, "RS256", 1, modes[0].env), newSigningFixture(b, "RS256", 1, modes[1].env), "hs256", "es256")
}
