package lambda

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"
)

// Paths relative to this package; tests run in its directory.
const (
	repoRoot  = "../.."
	eventsDir = repoRoot + "/events"
)

// expectation is one entry of events/expect.json (see events/README.md).
type expectation struct {
	Function    string `json:"function"`
	Trigger     string `json:"trigger"`
	Case        string `json:"case"`
	Status      int    `json:"status"`
	Error       string `json:"error"`
	Description string `json:"description"`
}

// eventCase is one events/*.json file with what it must produce.
type eventCase struct {
	name   string // file name, e.g. exchange.http-v2.valid.json
	expect expectation
	raw    []byte
	req    request
}

// request is the HTTP request carried by an event, as far as the checks need it.
type request struct {
	trigger string // detected from the event's shape
	method  string
	headers http.Header
	body    []byte
}

// loadEvents reads every event file and its expectation. A file without an
// expectation, or an expectation without a file, fails the test: the list of
// events lives in events/ alone.
func loadEvents(t testing.TB) []eventCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(eventsDir, "expect.json"))
	if err != nil {
		t.Fatalf("read expectations: %v", err)
	}
	var expect map[string]expectation
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&expect); err != nil {
		t.Fatalf("events/expect.json: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []eventCase
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		if name == "expect.json" || name == "env.json" {
			continue
		}
		want, ok := expect[name]
		if !ok {
			t.Errorf("events/%s has no entry in events/expect.json", name)
			continue
		}
		seen[name] = true
		if got := want.Function + "." + want.Trigger + "." + want.Case + ".json"; got != name {
			t.Errorf("events/%s: expectation names %s", name, got)
		}
		if want.Status == 0 {
			t.Errorf("events/%s: expectation has no status", name)
		}
		if (want.Status >= 400) != (want.Error != "") {
			t.Errorf("events/%s: status %d with error %q: an error code goes with a 4xx/5xx status", name, want.Status, want.Error)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		req, err := parseEvent(data)
		if err != nil {
			t.Errorf("events/%s: %v", name, err)
			continue
		}
		if req.trigger != want.Trigger {
			t.Errorf("events/%s: shaped like %s, expect.json says %s", name, req.trigger, want.Trigger)
		}
		out = append(out, eventCase{name: name, expect: want, raw: data, req: req})
	}
	for name := range expect {
		if !seen[name] {
			t.Errorf("events/expect.json names %s, which does not exist", name)
		}
	}
	if len(out) == 0 {
		t.Fatal("no events found")
	}
	return out
}

// loadEnv reads events/env.json, keyed by function name ("exchange").
func loadEnv(t testing.TB) map[string]map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(eventsDir, "env.json"))
	if err != nil {
		t.Fatalf("read env: %v", err)
	}
	var byLogicalID map[string]map[string]string
	if err := json.Unmarshal(raw, &byLogicalID); err != nil {
		t.Fatalf("events/env.json: %v", err)
	}
	out := make(map[string]map[string]string, len(byLogicalID))
	for id, env := range byLogicalID {
		fn, ok := strings.CutSuffix(id, "Function")
		if !ok || fn == "" {
			t.Fatalf("events/env.json: key %q is not a <Name>Function logical id", id)
		}
		out[strings.ToLower(fn)] = env
	}
	return out
}

// logicalID is the template's resource name for a function.
func logicalID(fn string) string { return strings.ToUpper(fn[:1]) + fn[1:] + "Function" }

// functionsOf lists the functions the events cover, sorted.
func functionsOf(cases []eventCase) []string {
	var fns []string
	for _, c := range cases {
		if !slices.Contains(fns, c.expect.Function) {
			fns = append(fns, c.expect.Function)
		}
	}
	slices.Sort(fns)
	return fns
}

func casesOf(cases []eventCase, fn string) []eventCase {
	var out []eventCase
	for _, c := range cases {
		if c.expect.Function == fn {
			out = append(out, c)
		}
	}
	return out
}

// parseEvent recovers the HTTP request from any of the four event shapes,
// telling the shape apart the way AWS documents it.
func parseEvent(data []byte) (request, error) {
	var e struct {
		Version           string              `json:"version"`
		HTTPMethod        string              `json:"httpMethod"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              string              `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
		RequestContext    struct {
			ELB        json.RawMessage `json:"elb"`
			DomainName string          `json:"domainName"`
			HTTP       struct {
				Method string `json:"method"`
			} `json:"http"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return request{}, err
	}
	r := request{headers: http.Header{}, body: []byte(e.Body)}
	for k, v := range e.Headers {
		r.headers.Set(k, v)
	}
	for k, vs := range e.MultiValueHeaders {
		r.headers.Del(k)
		for _, v := range vs {
			r.headers.Add(k, v)
		}
	}
	if e.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(e.Body)
		if err != nil {
			return request{}, err
		}
		r.body = b
	}
	switch {
	case len(e.RequestContext.ELB) > 0:
		r.trigger, r.method = "alb", e.HTTPMethod
		if len(e.MultiValueHeaders) > 0 {
			r.trigger = "alb-mv"
		}
	case e.Version == "2.0":
		r.trigger, r.method = "http-v2", e.RequestContext.HTTP.Method
		if strings.Contains(e.RequestContext.DomainName, ".lambda-url.") {
			r.trigger = "function-url"
		}
	default:
		r.trigger, r.method = "apigw-v1", e.HTTPMethod
	}
	return r, nil
}

// form parses the request body as a form or as JSON, whichever it is.
func (r request) form() url.Values {
	if strings.HasPrefix(r.headers.Get("Content-Type"), "application/json") {
		var m map[string]any
		out := url.Values{}
		if json.Unmarshal(r.body, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok {
					out.Set(k, s)
				}
			}
		}
		return out
	}
	v, _ := url.ParseQuery(string(r.body))
	return v
}

// providerToken is the provider JWT the request carries, bearer or RFC 8693.
func (r request) providerToken() string {
	if tok, ok := strings.CutPrefix(r.headers.Get("Authorization"), "Bearer "); ok {
		return tok
	}
	return r.form().Get("subject_token")
}

// sensitive lists the request's credentials: none may appear in an error
// response or a log line.
func (r request) sensitive() []string {
	var out []string
	for _, s := range []string{r.providerToken(), r.form().Get("refresh_token")} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// response is a Lambda response as the platform in front would read it.
type response struct {
	status  int
	headers http.Header
	body    []byte
}

// decodeResponse reads the payload in the trigger's response shape, strictly,
// and keeps only the headers that platform reads: API Gateway REST merges
// headers and multiValueHeaders; HTTP APIs and Function URLs read headers;
// an ALB reads headers, or multiValueHeaders when the target group enables
// them (and then only those).
func decodeResponse(t testing.TB, trigger string, payload []byte) response {
	t.Helper()
	strict := func(v any) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("response is not a %s response (%T): %v\n%s", trigger, v, err, payload)
		}
	}
	var (
		status int
		single map[string]string
		multi  map[string][]string
		body   string
		b64    bool
	)
	switch trigger {
	case "apigw-v1":
		var r events.APIGatewayProxyResponse
		strict(&r)
		status, single, multi, body, b64 = r.StatusCode, r.Headers, r.MultiValueHeaders, r.Body, r.IsBase64Encoded
	case "http-v2", "function-url":
		var r events.APIGatewayV2HTTPResponse
		strict(&r)
		status, single, body, b64 = r.StatusCode, r.Headers, r.Body, r.IsBase64Encoded
	case "alb", "alb-mv":
		var r events.ALBTargetGroupResponse
		strict(&r)
		status, body, b64 = r.StatusCode, r.Body, r.IsBase64Encoded
		if trigger == "alb" {
			single = r.Headers
			if len(single) == 0 {
				t.Errorf("ALB response without \"headers\": a target group without multi-value headers answers 502")
			}
		} else {
			multi = r.MultiValueHeaders
			if len(multi) == 0 {
				t.Errorf("ALB response without \"multiValueHeaders\" to a multi-value request: ALB would drop the headers")
			}
		}
	default:
		t.Fatalf("unknown trigger %q", trigger)
	}
	h := http.Header{}
	for k, vs := range multi {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range single {
		if _, dup := h[http.CanonicalHeaderKey(k)]; !dup {
			h.Set(k, v)
		}
	}
	res := response{status: status, headers: h, body: []byte(body)}
	if b64 {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			t.Fatalf("isBase64Encoded body: %v", err)
		}
		res.body = b
	}
	return res
}

// checkResponse checks one response against the contract. before and after
// bracket the invocation, for the time claims.
func checkResponse(t testing.TB, ec eventCase, payload []byte, env map[string]string, before, after time.Time) {
	t.Helper()
	res := decodeResponse(t, ec.expect.Trigger, payload)
	want := ec.expect
	if res.status != want.Status {
		t.Errorf("status: got %d, want %d (%s)\nbody: %s", res.status, want.Status, want.Description, res.body)
	}
	h := res.headers

	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	checkCORS(t, ec, h, env)

	switch {
	case res.status == http.StatusNoContent:
		if len(res.body) != 0 {
			t.Errorf("204 with a body: %s", res.body)
		}
	case res.status == http.StatusOK:
		if cc := h.Get("Cache-Control"); !hasToken(cc, "no-store") {
			t.Errorf("Cache-Control: got %q, want no-store on a token response", cc)
		}
		checkTokenResponse(t, ec, res.body, env, before, after)
	case res.status >= 400:
		checkErrorBody(t, want.Error, res.body)
	}
	if res.status == http.StatusMethodNotAllowed {
		if allow := h.Get("Allow"); !hasToken(allow, "POST") {
			t.Errorf("Allow: got %q, want it to list POST", allow)
		}
	}
	if res.status == http.StatusUnauthorized {
		if wa := h.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") || !strings.Contains(wa, `error="invalid_token"`) {
			t.Errorf(`WWW-Authenticate: got %q, want Bearer error="invalid_token"`, wa)
		}
	}

	if s := env["SUPABASE_JWT_SECRET"]; s != "" && bytes.Contains(res.body, []byte(s)) {
		t.Errorf("response body contains SUPABASE_JWT_SECRET")
	}
	if res.status != http.StatusOK {
		for _, s := range ec.req.sensitive() {
			if bytes.Contains(res.body, []byte(s)) {
				t.Errorf("error response echoes a credential from the request")
			}
		}
	}
}

// checkCORS: every response carries the CORS headers; with an origin list
// the allowed origin is echoed with Vary: Origin.
func checkCORS(t testing.TB, ec eventCase, h http.Header, env map[string]string) {
	t.Helper()
	origin := ec.req.headers.Get("Origin")
	allowed := strings.TrimSpace(env["CORS_ALLOWED_ORIGINS"])
	wantOrigin := "*"
	if allowed != "" && allowed != "*" {
		wantOrigin = ""
		for _, o := range strings.Split(allowed, ",") {
			if strings.TrimSpace(o) == origin {
				wantOrigin = origin
			}
		}
		if vary := strings.Join(h.Values("Vary"), ","); !hasToken(vary, "Origin") {
			t.Errorf("Vary: got %q, want Origin (origin list configured)", vary)
		}
	}
	if got := h.Get("Access-Control-Allow-Origin"); got != wantOrigin {
		t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, wantOrigin)
	}
	allowHeaders := h.Get("Access-Control-Allow-Headers")
	for _, name := range []string{"authorization", "x-client-info", "apikey", "content-type"} {
		if !hasToken(allowHeaders, name) {
			t.Errorf("Access-Control-Allow-Headers: got %q, want it to list %s", allowHeaders, name)
		}
	}
	if ec.req.method == http.MethodOptions {
		if m := h.Get("Access-Control-Allow-Methods"); !hasToken(m, "POST") {
			t.Errorf("Access-Control-Allow-Methods: got %q, want it to list POST", m)
		}
	}
}

// hasToken reports whether a comma list holds tok, case-insensitively.
func hasToken(list, tok string) bool {
	for _, s := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(s), tok) {
			return true
		}
	}
	return false
}

func checkErrorBody(t testing.TB, wantCode string, body []byte) {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("error body is not JSON: %v\n%s", err, body)
		return
	}
	if got, _ := e["error"].(string); got != wantCode {
		t.Errorf("error: got %q, want %q", got, wantCode)
	}
	if d, ok := e["error_description"].(string); !ok || d == "" {
		t.Errorf("error_description: got %v, want a non-empty string", e["error_description"])
	}
	for k := range e {
		if k != "error" && k != "error_description" && k != "error_uri" {
			t.Errorf("error body has an unexpected field %q", k)
		}
	}
}

// checkTokenResponse checks a 200 body and the Supabase JWT inside it.
func checkTokenResponse(t testing.TB, ec eventCase, body []byte, env map[string]string, before, after time.Time) {
	t.Helper()
	var r struct {
		SupabaseJWT     string `json:"supabaseJwt"`
		AccessToken     string `json:"access_token"`
		TokenType       string `json:"token_type"`
		ExpiresIn       int64  `json:"expires_in"`
		ExpiresAt       int64  `json:"expires_at"`
		IssuedTokenType string `json:"issued_token_type"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("token response: %v\n%s", err, body)
	}
	if r.SupabaseJWT == "" || r.SupabaseJWT != r.AccessToken {
		t.Errorf("supabaseJwt and access_token: want the same non-empty token")
	}
	if r.TokenType != "bearer" {
		t.Errorf("token_type: got %q, want bearer", r.TokenType)
	}
	if r.IssuedTokenType != "urn:ietf:params:oauth:token-type:access_token" {
		t.Errorf("issued_token_type: got %q", r.IssuedTokenType)
	}

	secret := env["SUPABASE_JWT_SECRET"]
	tok, err := jwt.Parse(r.SupabaseJWT, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return after }))
	if err != nil {
		t.Fatalf("minted token does not verify with SUPABASE_JWT_SECRET: %v", err)
	}
	if _, ok := tok.Header["kid"]; ok {
		t.Errorf("minted token has a kid header: PostgREST 13+ would refuse it")
	}
	if typ := tok.Header["typ"]; typ != "JWT" {
		t.Errorf("typ header: got %v, want JWT", typ)
	}

	// Decode the payload again with json.Number, to see the exact JSON types.
	seg := strings.Split(r.SupabaseJWT, ".")[1]
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	prov := unverifiedClaims(t, ec.req.providerToken())

	wantAud := env["SUPABASE_JWT_AUDIENCE"]
	if wantAud == "" {
		wantAud = "authenticated"
	}
	wantIss := env["SUPABASE_JWT_ISSUER"]
	if wantIss == "" {
		wantIss = "supabase"
	}
	str := func(k string) string { s, _ := c[k].(string); return s }
	if str("role") != "authenticated" {
		t.Errorf("role: got %v, want authenticated (provider said %v)", c["role"], prov["role"])
	}
	if aud, ok := c["aud"].(string); !ok || aud != wantAud {
		t.Errorf("aud: got %#v, want the string %q", c["aud"], wantAud)
	}
	if str("iss") != wantIss {
		t.Errorf("iss: got %v, want %s", c["iss"], wantIss)
	}
	if str("sub") == "" || str("sub") != prov["sub"] {
		t.Errorf("sub: got %v, want the provider's %v", c["sub"], prov["sub"])
	}
	if str("email") != prov["email"] {
		t.Errorf("email: got %v, want %v", c["email"], prov["email"])
	}
	if env["CLAIMS_PASSTHROUGH"] == "" && prov["org_id"] != nil && str("org_id") != prov["org_id"] {
		t.Errorf("org_id: got %v, want %v (default passthrough)", c["org_id"], prov["org_id"])
	}
	if c["is_anonymous"] != false {
		t.Errorf("is_anonymous: got %v, want false", c["is_anonymous"])
	}
	if _, ok := c["session_id"]; ok {
		t.Errorf("session_id present: GoTrue would look it up and refuse the token")
	}
	if um, ok := c["user_metadata"].(map[string]any); !ok {
		t.Errorf("user_metadata: got %#v, want an object", c["user_metadata"])
	} else if um["iss"] != prov["iss"] || um["sub"] != prov["sub"] {
		t.Errorf("user_metadata iss/sub: got %v/%v, want %v/%v", um["iss"], um["sub"], prov["iss"], prov["sub"])
	}

	exp, err1 := c["exp"].(json.Number).Int64()
	iat, err2 := c["iat"].(json.Number).Int64()
	if err1 != nil || err2 != nil {
		t.Fatalf("exp/iat not integers: %v %v", c["exp"], c["iat"])
	}
	if iat < before.Unix()-1 || iat > after.Unix() {
		t.Errorf("iat: got %d, want between %d and %d", iat, before.Unix(), after.Unix())
	}
	if exp > after.Unix()+3600 || exp <= after.Unix() {
		t.Errorf("exp: got %d, want in (now, now+3600] = (%d, %d]", exp, after.Unix(), after.Unix()+3600)
	}
	if r.ExpiresAt != exp {
		t.Errorf("expires_at: got %d, want the token's exp %d", r.ExpiresAt, exp)
	}
	if r.ExpiresIn < exp-after.Unix()-1 || r.ExpiresIn > exp-before.Unix()+1 {
		t.Errorf("expires_in: got %d, want exp-now ≈ %d", r.ExpiresIn, exp-after.Unix())
	}
}

func unverifiedClaims(t testing.TB, tok string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
		t.Fatalf("provider token in the event: %v", err)
	}
	return c
}

// checkLog fails if the log holds a secret or a credential, or a line that is
// not JSON (the contract: one JSON line per request on stderr).
func checkLog(t testing.TB, log string, cases []eventCase, env map[string]string) {
	t.Helper()
	secrets := map[string]string{"SUPABASE_JWT_SECRET": env["SUPABASE_JWT_SECRET"]}
	for _, c := range cases {
		for i, s := range c.req.sensitive() {
			secrets[c.name+" credential "+string(rune('0'+i))] = s
		}
	}
	for what, s := range secrets {
		if s != "" && strings.Contains(log, s) {
			t.Errorf("log contains %s", what)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if line != "" && !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
}
