package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"
)

// Test-only values shared by the events and events/env.json. None of them is
// a secret: they are public in this repository and trusted nowhere else.
const (
	keyFile = "TEST-ONLY-signing-key.pem"

	issuer    = "https://issuer.test.invalid/" // .invalid (RFC 2606): never resolves
	audience  = "supabridge-events"
	subject   = "6f1c1f2e-7d3a-4b8e-9a52-3c0d2f4b9e17"
	email     = "test.user@example.test"
	origin    = "https://app.example.test"
	jwtSecret = "TEST-ONLY-supabase-jwt-secret-not-for-production-use"
	clientID  = "supabridge-events"

	// refreshToken is what the refresh events send. Offline there is no
	// provider to accept it: tokenURL points at a port nothing listens on, so
	// a well-formed refresh request answers 502 temporarily_unavailable.
	refreshToken = "TEST-ONLY-refresh-token-0001"
	tokenURL     = "http://127.0.0.1:1/token"

	sourceIP  = "203.0.113.10" // TEST-NET-3 (RFC 5737)
	userAgent = "supabridge-events/1 (sam local invoke)"
	accountID = "123456789012"
)

var (
	// issuedAt fixes every timestamp in the events so the output is byte-stable.
	issuedAt = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	// expiresAt is far enough away that the committed events keep working.
	expiresAt = time.Date(2100, time.January, 1, 0, 0, 0, 0, time.UTC)
)

func main() {
	dir := flag.String("dir", "events", "directory to write the events to")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "events/gen:", err)
		os.Exit(1)
	}
}

// Expectation is one entry of expect.json: what replaying the event must give.
type Expectation struct {
	Function    string `json:"function"`
	Trigger     string `json:"trigger"`
	Case        string `json:"case"`
	Status      int    `json:"status"`
	Error       string `json:"error,omitempty"`
	Description string `json:"description"`
}

// event is one generated file before it is written.
type event struct {
	expect  Expectation
	payload any
}

func (e event) fileName() string {
	return e.expect.Function + "." + e.expect.Trigger + "." + e.expect.Case + ".json"
}

func run(dir string) error {
	key, err := loadOrCreateKey(filepath.Join(dir, keyFile))
	if err != nil {
		return err
	}
	valid, err := providerToken(key)
	if err != nil {
		return err
	}
	forged, err := forge(valid)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("marshal public key: %w", err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))

	evs, err := build(valid, forged)
	if err != nil {
		return err
	}
	expect := make(map[string]Expectation, len(evs))
	keep := make(map[string]bool, len(evs))
	for _, e := range evs {
		name := e.fileName()
		if _, dup := expect[name]; dup {
			return fmt.Errorf("duplicate event %s", name)
		}
		expect[name] = e.expect
		keep[name] = true
		if err := writeJSON(filepath.Join(dir, name), e.payload); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(dir, "expect.json"), expect); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "env.json"), envFile(pubPEM)); err != nil {
		return err
	}
	return removeStale(dir, keep)
}

// envFile is events/env.json: per-function overrides for
// `sam local invoke --env-vars`. SAM applies only variables the template
// declares for that function, so refresh-only settings sit under
// RefreshFunction.
func envFile(pubPEM string) map[string]map[string]string {
	common := func() map[string]string {
		return map[string]string{
			"SUPABASE_JWT_SECRET":  jwtSecret,
			"AUTH_ISSUER":          issuer,
			"AUTH_PUBLIC_KEY":      pubPEM,
			"AUTH_AUDIENCE":        audience,
			"CORS_ALLOWED_ORIGINS": origin + ",http://localhost:3000",
		}
	}
	refresh := common()
	refresh["AUTH_TOKEN_URL"] = tokenURL
	refresh["AUTH_CLIENT_ID"] = clientID
	return map[string]map[string]string{
		"ExchangeFunction": common(),
		"RefreshFunction":  refresh,
	}
}

// loadOrCreateKey reads the test-only RSA key, creating it when missing.
func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%s: no PRIVATE KEY block", path)
		}
		if block.Type != "PRIVATE KEY" {
			continue
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: want an RSA key, got %T", path, k)
		}
		return rk, nil
	}
}

// keyNotice precedes the PEM block; PEM parsers skip text before BEGIN.
const keyNotice = `TEST-ONLY signing key for the SAM events in events/ (see events/README.md).
It is public in this repository and is NOT a secret. It is trusted only through
AUTH_PUBLIC_KEY in events/env.json, for local testing. Never configure its public
half in a real deployment. Regenerate by deleting this file and running
"go run ./events/gen".
`

func createKey(path string) (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(keyNotice)
	if err := pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	return k, nil
}

// providerClaims is the provider token the valid events carry. role is there
// on purpose: the minted token must say "authenticated" whatever it says.
func providerClaims(sub string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":            issuer,
		"sub":            sub,
		"aud":            audience,
		"email":          email,
		"email_verified": true,
		"name":           "Test User",
		"org_id":         "org-test-0001",
		"role":           "admin",
		"iat":            issuedAt.Unix(),
		"exp":            expiresAt.Unix(),
	}
}

// providerToken signs the provider token. RS256 (PKCS #1 v1.5) signatures are
// deterministic, and MapClaims marshal with sorted keys, so the token is
// byte-stable for a given key. The header carries no kid: AUTH_PUBLIC_KEY is a
// bare PEM key, which has none to match.
func providerToken(key *rsa.PrivateKey) (string, error) {
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, providerClaims(subject)).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign provider token: %w", err)
	}
	return s, nil
}

// forge keeps the valid token's header and signature but swaps its payload for
// one with another subject: a well-formed token whose signature does not verify.
func forge(valid string) (string, error) {
	parts := strings.Split(valid, ".")
	if len(parts) != 3 {
		return "", errors.New("forge: not a compact JWT")
	}
	payload, err := json.Marshal(providerClaims("attacker-controlled-subject"))
	if err != nil {
		return "", fmt.Errorf("forge: %w", err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, "."), nil
}

// request is one HTTP request, before it is wrapped in a trigger's event.
type request struct {
	method  string
	headers []header // in the case a browser sends them
	body    string
	binary  bool // v2 and Function URL deliver this body base64-encoded
}

type header struct{ name, value string }

// cases lists each function's requests; extra lists cases generated for
// only some triggers, to cover the request forms without multiplying files.
type caseSpec struct {
	name   string
	req    request
	status int
	errorC string
	desc   string
}

func exchangeCases(valid, forged string) []caseSpec {
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {valid},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"},
	}.Encode()
	return []caseSpec{
		{"valid", request{method: "POST", headers: []header{{"Authorization", "Bearer " + valid}}},
			200, "", "provider JWT signed by the test-only key as a bearer token: a Supabase JWT comes back"},
		{"invalid-token", request{method: "POST", headers: []header{{"Authorization", "Bearer " + forged}}},
			401, "invalid_token", "bearer token whose payload was altered after signing: the signature does not verify"},
		{"preflight", request{method: "OPTIONS", headers: []header{
			{"Access-Control-Request-Method", "POST"},
			{"Access-Control-Request-Headers", "authorization, x-client-info, apikey, content-type"},
		}}, 204, "", "CORS preflight from an allowed origin"},
		{"wrong-method", request{method: "GET"},
			405, "method_not_allowed", "GET is not served: 405 with an Allow header"},
		{"form", request{method: "POST", headers: []header{
			{"Content-Type", "application/x-www-form-urlencoded"},
		}, body: form, binary: true},
			200, "", "RFC 8693 token exchange form carrying the same provider JWT as subject_token"},
	}
}

func refreshCases() []caseSpec {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}.Encode()
	return []caseSpec{
		{"valid", request{method: "POST", headers: []header{
			{"Content-Type", "application/json"},
		}, body: `{"refresh_token":"` + refreshToken + `"}`},
			502, "temporarily_unavailable", "well-formed refresh request; offline the token endpoint (AUTH_TOKEN_URL=" + tokenURL + ") refuses connections, so 502"},
		{"invalid-token", request{method: "POST", headers: []header{
			{"Content-Type", "application/x-www-form-urlencoded"},
		}, body: "grant_type=refresh_token"},
			400, "invalid_request", "no refresh_token: refused before any call to the provider"},
		{"preflight", request{method: "OPTIONS", headers: []header{
			{"Access-Control-Request-Method", "POST"},
			{"Access-Control-Request-Headers", "content-type, x-client-info, apikey"},
		}}, 204, "", "CORS preflight from an allowed origin"},
		{"wrong-method", request{method: "GET"},
			405, "method_not_allowed", "GET is not served: 405 with an Allow header"},
		{"form", request{method: "POST", headers: []header{
			{"Content-Type", "application/x-www-form-urlencoded"},
		}, body: form, binary: true},
			502, "temporarily_unavailable", "refresh_token grant as a form; offline the token endpoint refuses connections, so 502"},
		{"wrong-grant", request{method: "POST", headers: []header{
			{"Content-Type", "application/x-www-form-urlencoded"},
		}, body: "grant_type=password&username=u&password=p"},
			400, "unsupported_grant_type", "a grant_type refresh does not serve"},
	}
}

// Triggers, as named in the event files and expect.json.
const (
	trigV1    = "apigw-v1"     // API Gateway REST API, proxy integration
	trigV2    = "http-v2"      // API Gateway HTTP API, payload format 2.0
	trigURL   = "function-url" // Lambda Function URL
	trigALB   = "alb"          // ALB target group, multi-value headers off
	trigALBMV = "alb-mv"       // ALB target group, multi-value headers on
)

// matrix says which cases each trigger gets. The four core cases run on
// every trigger; the extra ones run where they test something new (form
// bodies base64-encoded by v2 and Function URLs, multi-value ALB headers).
var matrix = map[string][]string{
	trigV1:    {"valid", "invalid-token", "preflight", "wrong-method", "form", "wrong-grant"},
	trigV2:    {"valid", "invalid-token", "preflight", "wrong-method", "form"},
	trigURL:   {"valid", "invalid-token", "preflight", "wrong-method", "form"},
	trigALB:   {"valid", "invalid-token", "preflight", "wrong-method"},
	trigALBMV: {"valid", "invalid-token"},
}

func build(valid, forged string) ([]event, error) {
	fns := []struct {
		name  string
		cases []caseSpec
	}{
		{"exchange", exchangeCases(valid, forged)},
		{"refresh", refreshCases()},
	}
	triggers := make([]string, 0, len(matrix))
	for t := range matrix {
		triggers = append(triggers, t)
	}
	sort.Strings(triggers)

	var out []event
	for _, fn := range fns {
		byName := make(map[string]caseSpec, len(fn.cases))
		for _, c := range fn.cases {
			byName[c.name] = c
		}
		for _, trig := range triggers {
			for _, cname := range matrix[trig] {
				c, ok := byName[cname]
				if !ok {
					continue // e.g. wrong-grant is a refresh-only case
				}
				e := event{expect: Expectation{
					Function: fn.name, Trigger: trig, Case: c.name,
					Status: c.status, Error: c.errorC, Description: c.desc,
				}}
				p, err := wrap(trig, fn.name, e.fileName(), c.req)
				if err != nil {
					return nil, err
				}
				e.payload = p
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// requestID derives a stable, UUID-shaped id from the file name.
func requestID(name string) string {
	s := sha256.Sum256([]byte(name))
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// wrap turns a request into the event the trigger would deliver.
func wrap(trig, fn, name string, r request) (any, error) {
	path := "/functions/v1/" + fn
	id := requestID(name)
	reqTime := issuedAt.Format("02/Jan/2006:15:04:05 -0700")
	epochMS := issuedAt.UnixMilli()

	// Headers every trigger forwards, then the case's own, then Origin.
	hs := []header{
		{"Accept", "application/json"},
		{"User-Agent", userAgent},
		{"Origin", origin},
		{"X-Forwarded-For", sourceIP},
		{"X-Forwarded-Port", "443"},
		{"X-Forwarded-Proto", "https"},
	}
	hs = append(hs, r.headers...)

	switch trig {
	case trigV1:
		host := "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
		hs = append(hs, header{"Host", host})
		single, multi := headerMaps(hs, false)
		return events.APIGatewayProxyRequest{
			Resource:          path,
			Path:              path,
			HTTPMethod:        r.method,
			Headers:           single,
			MultiValueHeaders: multi,
			RequestContext: events.APIGatewayProxyRequestContext{
				AccountID:         accountID,
				ResourceID:        "abc123",
				Stage:             "prod",
				DomainName:        host,
				DomainPrefix:      "a1b2c3d4e5",
				RequestID:         id,
				ExtendedRequestID: "TEST-ONLY=",
				Protocol:          "HTTP/1.1",
				Identity:          events.APIGatewayRequestIdentity{SourceIP: sourceIP, UserAgent: userAgent},
				ResourcePath:      path,
				Path:              "/prod" + path,
				HTTPMethod:        r.method,
				RequestTime:       reqTime,
				RequestTimeEpoch:  epochMS,
				APIID:             "a1b2c3d4e5",
			},
			Body: r.body,
		}, nil
	case trigV2:
		host := "f6g7h8i9j0.execute-api.us-east-1.amazonaws.com"
		hs = append(hs, header{"Host", host})
		single, _ := headerMaps(hs, true)
		body, b64 := encodeBody(r)
		routeKey := r.method + " " + path
		if r.method != "POST" && r.method != "OPTIONS" {
			routeKey = "$default" // only POST and OPTIONS have routes in template.yaml
		}
		return v2Event{
			APIGatewayV2HTTPRequest: events.APIGatewayV2HTTPRequest{
				Version:         "2.0",
				RouteKey:        routeKey,
				RawPath:         path,
				RawQueryString:  "",
				Headers:         single,
				Body:            body,
				IsBase64Encoded: b64,
			},
			RequestContext: v2Context{APIGatewayV2HTTPRequestContext: events.APIGatewayV2HTTPRequestContext{
				RouteKey:     routeKey,
				AccountID:    accountID,
				Stage:        "$default",
				RequestID:    id,
				APIID:        "f6g7h8i9j0",
				DomainName:   host,
				DomainPrefix: "f6g7h8i9j0",
				Time:         reqTime,
				TimeEpoch:    epochMS,
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
					Method: r.method, Path: path, Protocol: "HTTP/1.1", SourceIP: sourceIP, UserAgent: userAgent,
				},
			}},
		}, nil
	case trigURL:
		host := "k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6.lambda-url.us-east-1.on.aws"
		hs = append(hs, header{"Host", host})
		single, _ := headerMaps(hs, true)
		body, b64 := encodeBody(r)
		return events.LambdaFunctionURLRequest{
			Version:         "2.0",
			RawPath:         "/",
			RawQueryString:  "",
			Headers:         single,
			Body:            body,
			IsBase64Encoded: b64,
			RequestContext: events.LambdaFunctionURLRequestContext{
				AccountID:    "anonymous",
				RequestID:    id,
				APIID:        "k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6",
				DomainName:   host,
				DomainPrefix: "k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6",
				Time:         reqTime,
				TimeEpoch:    epochMS,
				HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
					Method: r.method, Path: "/", Protocol: "HTTP/1.1", SourceIP: sourceIP, UserAgent: userAgent,
				},
			},
		}, nil
	case trigALB, trigALBMV:
		hs = append(hs,
			header{"Host", "supabridge-alb-1234567890.us-east-1.elb.amazonaws.com"},
			header{"X-Amzn-Trace-Id", "Root=1-67748580-" + strings.ReplaceAll(id, "-", "")[:24]},
		)
		single, multi := headerMaps(hs, true)
		ev := events.ALBTargetGroupRequest{
			HTTPMethod: r.method,
			Path:       path,
			Body:       r.body,
			RequestContext: events.ALBTargetGroupRequestContext{ELB: events.ELBContext{
				TargetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:" + accountID + ":targetgroup/supabridge-" + fn + "/0123456789abcdef",
			}},
		}
		// An ALB sends exactly one of the two maps, depending on the target
		// group's lambda.multi_value_headers.enabled attribute.
		if trig == trigALBMV {
			ev.MultiValueHeaders = multi
			ev.MultiValueQueryStringParameters = map[string][]string{}
		} else {
			ev.Headers = single
			ev.QueryStringParameters = map[string]string{}
		}
		return ev, nil
	}
	return nil, fmt.Errorf("unknown trigger %q", trig)
}

// v2Event and v2Context drop the mTLS "authentication" block the events
// package always marshals: an HTTP API without mutual TLS sends none.
type v2Event struct {
	events.APIGatewayV2HTTPRequest
	RequestContext v2Context `json:"requestContext"`
}

type v2Context struct {
	events.APIGatewayV2HTTPRequestContext
	Authentication *struct{} `json:"authentication,omitempty"`
}

func headerMaps(hs []header, lower bool) (map[string]string, map[string][]string) {
	single := make(map[string]string, len(hs))
	multi := make(map[string][]string, len(hs))
	for _, h := range hs {
		n := h.name
		if lower {
			n = strings.ToLower(n)
		}
		single[n] = h.value
		multi[n] = append(multi[n], h.value)
	}
	return single, multi
}

func encodeBody(r request) (string, bool) {
	if r.binary && r.body != "" {
		return base64.StdEncoding.EncodeToString([]byte(r.body)), true
	}
	return r.body, false
}

func writeJSON(path string, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// generated matches the names this program writes, so stale ones (a case
// that was removed) can be deleted without touching anything else.
var generated = regexp.MustCompile(`^(exchange|refresh)\.[a-z0-9-]+\.[a-z0-9-]+\.json$`)

func removeStale(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() || keep[e.Name()] || !generated.MatchString(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove stale %s: %w", e.Name(), err)
		}
	}
	return nil
}
