package bridge_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/bridge"
	"supabridge/shared/claims"
	"supabridge/shared/keys"
	"supabridge/shared/verify"
)

var (
	propertySeed  = flag.Uint64("property.seed", 0, "seed of TestMintProperties (0: a new one, printed on failure)")
	propertyIters = flag.Int("property.n", 200, "iterations of TestMintProperties")
)

// reservedNames are the claims never taken from a provider (CONTRACT.md).
var reservedNames = []string{"iss", "aud", "sub", "role", "iat", "exp", "nbf", "jti", "is_anonymous", "aal", "amr", "session_id", "app_metadata", "user_metadata"}

// TestMintProperties mints tokens for random claim sets (random names and
// values: reserved names, role, nested objects, unicode, names a JSON
// Pointer must escape), random mappings (passthrough lists and claims_map
// rules that name reserved claims too, uuid5 or passthrough subjects) and
// random provider keys (RS256, ES256, EdDSA), and checks every minted token
// against an expectation computed here from the contract: it verifies with
// the secret, carries role authenticated and our own value for every
// reserved claim, copies exactly the claims it should, and expires no later
// than the provider token. The seed is printed on failure; rerun with
// -property.seed to reproduce.
func TestMintProperties(t *testing.T) {
	seed := *propertySeed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	}
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	defer func() {
		if t.Failed() {
			t.Logf("reproduce with: go test ./shared/bridge -run TestMintProperties -property.seed=%d", seed)
		}
	}()

	// RSA keys are slow to make: two, reused. EC and Ed25519 keys are
	// made for each iteration.
	rsaKeys := make([]*rsa.PrivateKey, 2)
	for i := range rsaKeys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKeys[i] = k
	}
	now := time.Unix(1_900_000_000+rng.Int64N(1_000_000), 0)
	secret := []byte("property-test-secret-" + strings.Repeat("s", 12+rng.IntN(40)))

	for i := range *propertyIters {
		g := &gen{r: rng}
		var (
			alg    string
			signer crypto.Signer
		)
		switch rng.IntN(3) {
		case 0:
			alg, signer = "RS256", rsaKeys[rng.IntN(len(rsaKeys))]
		case 1:
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			alg, signer = "ES256", k
		default:
			_, k, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			alg, signer = "EdDSA", k
		}
		der, err := x509.MarshalPKIXPublicKey(signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		src, err := keys.NewStatic(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		if err != nil {
			t.Fatal(err)
		}

		// The Supabase side.
		hs, err := claims.NewHMACSigner(secret, "")
		if err != nil {
			t.Fatal(err)
		}
		cfg := claims.Config{Signer: hs, MaxTTL: time.Duration(60+rng.IntN(7200)) * time.Second}
		if rng.IntN(2) == 0 {
			cfg.Issuer = g.str()
		}
		if rng.IntN(2) == 0 {
			cfg.Audience = g.str()
		}
		minter, err := claims.NewMinter(cfg, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}

		// The provider's token.
		issuer := "https://idp.example.com/" + g.name()
		sub := g.str()
		pexp := now.Unix() + 5 + rng.Int64N(3*3600)
		c := map[string]any{"iss": issuer, "sub": sub, "exp": pexp}
		if rng.IntN(2) == 0 {
			c["iat"] = now.Unix() - rng.Int64N(600)
		}
		if rng.IntN(3) == 0 {
			c["nbf"] = now.Unix() - rng.Int64N(600)
		}
		if rng.IntN(3) == 0 {
			c["jti"] = g.str()
		}
		if rng.IntN(2) == 0 {
			c["aud"] = []any{g.str(), g.str()}
		}
		for _, name := range []string{"role", "is_anonymous", "aal", "amr", "session_id", "app_metadata", "user_metadata"} {
			if rng.IntN(2) == 0 {
				c[name] = g.value(2)
			}
		}
		if rng.IntN(2) == 0 {
			c["role"] = []string{"service_role", "supabase_admin", "authenticated", "anon"}[rng.IntN(4)]
		}
		if rng.IntN(4) > 0 {
			c["email"] = g.value(1)
		}
		// email_verified: the boolean true (the only promise), false, the
		// string "true", or absent.
		switch rng.IntN(4) {
		case 0:
			c["email_verified"] = true
		case 1:
			c["email_verified"] = false
		case 2:
			c["email_verified"] = "true"
		}
		var extra []string
		for range rng.IntN(8) {
			name := g.name()
			if _, taken := c[name]; taken {
				continue
			}
			c[name] = g.value(3)
			extra = append(extra, name)
		}
		// Round-trip through JSON so expectations see what the token holds.
		c = roundTrip(t, c)
		tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), jwt.MapClaims(c))
		raw, err := tok.SignedString(signer)
		if err != nil {
			t.Fatal(err)
		}

		// The mapping, reserved names included.
		candidates := append(append(append([]string{}, reservedNames...), extra...), "email", "email_verified", "absent_claim", "groups")
		mp := claims.Mapping{Provider: g.name(), Sub: claims.SubPassthrough, TrustUnverifiedEmail: rng.IntN(4) == 0}
		if rng.IntN(2) == 0 {
			mp.Sub = claims.SubUUID5
			if rng.IntN(2) == 0 {
				copy(mp.Namespace[:], g.bytes(16))
			}
		}
		for range rng.IntN(6) {
			mp.Passthrough = append(mp.Passthrough, candidates[rng.IntN(len(candidates))])
		}
		for range rng.IntN(5) {
			r := claims.Rule{Pointer: g.pointer(c, candidates)}
			if rng.IntN(3) == 0 {
				r.AppMetadata = true
				r.Target = []string{"provider", "providers", "tenant", "roles", g.name()}[rng.IntN(5)]
			} else {
				r.Target = candidates[rng.IntN(len(candidates))]
			}
			mp.Rules = append(mp.Rules, r)
		}

		b, err := bridge.New([]*bridge.Trusted{{
			Policy:  verify.Policy{Name: mp.Provider, Issuer: issuer, Leeway: verify.DefaultLeeway, Keys: src},
			Mapping: mp,
		}}, minter, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		s, err := b.Exchange(t.Context(), raw)
		if err != nil {
			t.Fatalf("iteration %d: exchange of a valid %s token failed: %v\nclaims: %v", i, alg, err, c)
		}
		checkMinted(t, i, s.Token.JWT, secret, cfg, now, c, &mp)
	}
}

// checkMinted compares a minted token with what the contract says it holds.
func checkMinted(t *testing.T, i int, minted string, secret []byte, cfg claims.Config, now time.Time, c map[string]any, mp *claims.Mapping) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("iteration %d: %s\nprovider claims: %s\nmapping: %+v", i, fmt.Sprintf(format, args...), mustJSON(t, c), *mp)
	}
	parsed, err := jwt.Parse(minted, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithExpirationRequired())
	if err != nil {
		fail("the minted token does not verify with the secret: %v", err)
	}
	if !reflect.DeepEqual(parsed.Header, map[string]any{"alg": "HS256", "typ": "JWT"}) {
		fail("got header %v, want exactly alg HS256 and typ JWT", parsed.Header)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(minted, ".")[1])
	if err != nil {
		fail("payload: %v", err)
	}
	var got map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		fail("payload is not a JSON object: %v", err)
	}

	iss, aud := cfg.Issuer, cfg.Audience
	if iss == "" {
		iss = "supabase"
	}
	if aud == "" {
		aud = "authenticated"
	}
	psub, piss := c["sub"].(string), c["iss"].(string)
	sub := psub
	if mp.Sub == claims.SubUUID5 {
		ns := mp.Namespace
		if ns == (claims.UUID{}) {
			ns = claims.NamespaceURL
		}
		sub = uuid5(ns, piss+"#"+psub)
	}
	pexp, _ := c["exp"].(json.Number).Int64()
	exp := min(pexp, now.Add(cfg.MaxTTL).Unix())

	present := func(name string) bool { _, ok := c[name]; return ok }
	isReserved := func(name string) bool { return slices.Contains(reservedNames, name) }
	want := map[string]any{
		"iss": iss, "aud": aud, "sub": sub, "role": "authenticated",
		"iat": now.Unix(), "exp": exp, "is_anonymous": false,
	}
	app := map[string]any{"provider": mp.Provider, "providers": []any{mp.Provider}}
	user := map[string]any{}
	// The provider's email counts only when it says it verified it (the
	// JSON boolean true), or when the mapping trusts its emails anyway;
	// otherwise it is as if absent, whoever asks for it.
	emailOK := mp.TrustUnverifiedEmail || c["email_verified"] == true
	if present("email") && emailOK {
		want["email"], user["email"] = c["email"], c["email"]
	}
	for _, name := range mp.Passthrough {
		if !isReserved(name) && present(name) && (name != "email" || emailOK) {
			want[name], user[name] = c[name], c[name]
		}
	}
	for _, r := range mp.Rules {
		v, ok := resolve(c, r.Pointer)
		first := strings.ReplaceAll(strings.ReplaceAll(strings.SplitN(r.Pointer+"/", "/", 3)[1], "~1", "/"), "~0", "~")
		switch {
		case !ok:
		case first == "email" && !emailOK:
		case r.AppMetadata && r.Target != "provider" && r.Target != "providers":
			app[r.Target] = v
		case !r.AppMetadata && !isReserved(r.Target):
			want[r.Target] = v
		}
	}
	user["iss"], user["sub"] = piss, psub
	want["app_metadata"], want["user_metadata"] = app, user
	want = roundTrip(t, want)

	if got["role"] != "authenticated" {
		fail("got role %v, want authenticated", got["role"])
	}
	for _, name := range reservedNames {
		if !reflect.DeepEqual(got[name], want[name]) {
			fail("reserved claim %q: got %s, want %s (the provider's was %s)", name, mustJSON(t, got[name]), mustJSON(t, want[name]), mustJSON(t, c[name]))
		}
	}
	if e, _ := got["exp"].(json.Number).Int64(); e > pexp || e <= now.Unix() {
		fail("got exp %d, want in (now, provider exp %d]", e, pexp)
	}
	if !reflect.DeepEqual(got, want) {
		fail("got claims %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
	}
}

// uuid5 is RFC 9562 §5.5, written here rather than taken from package
// claims so that the test checks the mapping independently.
func uuid5(ns claims.UUID, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// resolve is an RFC 6901 JSON Pointer over decoded JSON.
func resolve(v any, ptr string) (any, bool) {
	if ptr == "" || ptr[0] != '/' {
		return nil, false
	}
	for _, seg := range strings.Split(ptr[1:], "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(x) {
				return nil, false
			}
			v = x[n]
		default:
			return nil, false
		}
	}
	return v, true
}

// roundTrip returns v as JSON decodes it, numbers as json.Number.
func roundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// gen makes random names and values.
type gen struct{ r *mrand.Rand }

var alphabet = []rune("abcxyz_-.~/ 09AZéß日本😀\u00a0\u2028\"\\<>&\x01")

func (g *gen) str() string {
	n := 1 + g.r.IntN(12)
	var b strings.Builder
	for range n {
		b.WriteRune(alphabet[g.r.IntN(len(alphabet))])
	}
	return b.String()
}

// name is a claim name: often plain, sometimes with characters a JSON
// Pointer must escape, unicode, or a reserved name.
func (g *gen) name() string {
	switch g.r.IntN(6) {
	case 0:
		return g.str()
	case 1:
		return reservedNames[g.r.IntN(len(reservedNames))] + g.str()
	}
	return "c" + strconv.Itoa(g.r.IntN(50))
}

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	return b
}

// value is a random JSON value; integers stay within float64's exact range.
func (g *gen) value(depth int) any {
	k := g.r.IntN(8)
	if depth <= 0 {
		k %= 5
	}
	switch k {
	case 0:
		return g.str()
	case 1:
		return g.r.Int64N(1<<53) - 1<<52
	case 2:
		return g.r.IntN(2) == 0
	case 3:
		return nil
	case 4:
		return float64(g.r.IntN(1000)) / 8
	case 5, 6:
		m := map[string]any{}
		for range g.r.IntN(4) {
			m[g.name()] = g.value(depth - 1)
		}
		return m
	default:
		a := make([]any, g.r.IntN(4))
		for i := range a {
			a[i] = g.value(depth - 1)
		}
		return a
	}
}

// pointer is a JSON Pointer into c (escaped per RFC 6901), or one to a
// name that is absent or reserved.
func (g *gen) pointer(c map[string]any, names []string) string {
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }
	if g.r.IntN(4) == 0 {
		return "/" + esc(names[g.r.IntN(len(names))])
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	// Map order is random; sort for a reproducible choice.
	slices.Sort(keys)
	k := keys[g.r.IntN(len(keys))]
	ptr, v := "/"+esc(k), c[k]
	for g.r.IntN(2) == 0 {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				return ptr
			}
			ks := make([]string, 0, len(x))
			for kk := range x {
				ks = append(ks, kk)
			}
			slices.Sort(ks)
			kk := ks[g.r.IntN(len(ks))]
			ptr, v = ptr+"/"+esc(kk), x[kk]
		case []any:
			if len(x) == 0 {
				return ptr + "/0"
			}
			n := g.r.IntN(len(x))
			ptr, v = ptr+"/"+strconv.Itoa(n), x[n]
		default:
			return ptr
		}
	}
	return ptr
}
