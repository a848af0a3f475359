package platform_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"supabridge/internal/testkit"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/config"
	"supabridge/shared/edge"
	"supabridge/shared/exchange"
	"supabridge/shared/platform"
)

// lambdaErrorCodes maps each status the exchange function may answer with a
// static key to its error codes.
var lambdaErrorCodes = map[int][]string{
	http.StatusBadRequest:            {"invalid_request", "unsupported_grant_type"},
	http.StatusUnauthorized:          {"invalid_token"},
	http.StatusMethodNotAllowed:      {"method_not_allowed"},
	http.StatusRequestEntityTooLarge: {"request_too_large"},
}

// FuzzLambdaEvent sends any JSON (or not) as a Lambda event to the handler
// Main runs under Lambda, over the real exchange function. It must never
// panic and never return an error (Lambda would turn that into a bodyless
// 502), and must always return the response type of the trigger Probe names,
// with a contract status, Content-Type application/json and a JSON body (a
// 204 preflight has none). Nothing the event carries may reach the standard
// logger, where aws-lambda-go-api-proxy prints what it cannot convert.
func FuzzLambdaEvent(f *testing.F) {
	h, good := lambdaFuzzHandler(f)
	lambda := platform.NewLambdaHandler(h, slog.New(slog.DiscardHandler))
	for _, ev := range lambdaSeeds(f, good) {
		f.Add(ev)
	}
	logs := &testkit.Buffer{} // what the standard logger writes to during the run
	prev := log.Writer()
	log.SetOutput(logs)
	f.Cleanup(func() { log.SetOutput(prev) })
	f.Fuzz(func(t *testing.T, event []byte) {
		logs.Take()
		resp, err := lambda(t.Context(), json.RawMessage(event))
		if err != nil {
			t.Fatalf("got error %v, want a response", err)
		}
		var (
			status  int
			headers = map[string]string{}
			body    string
			b64     bool
		)
		want := platform.Probe(event)
		switch r := resp.(type) {
		case events.APIGatewayProxyResponse:
			if want == platform.TriggerHTTPAPIV2 || want == platform.TriggerALB {
				t.Fatalf("got a REST API response for a %v event", want)
			}
			status, body, b64 = r.StatusCode, r.Body, r.IsBase64Encoded
			mergeHeaders(headers, r.Headers, r.MultiValueHeaders)
		case events.APIGatewayV2HTTPResponse:
			if want != platform.TriggerHTTPAPIV2 {
				t.Fatalf("got an HTTP API response for a %v event", want)
			}
			status, body, b64 = r.StatusCode, r.Body, r.IsBase64Encoded
			mergeHeaders(headers, r.Headers, r.MultiValueHeaders)
		case events.ALBTargetGroupResponse:
			if want != platform.TriggerALB {
				t.Fatalf("got an ALB response for a %v event", want)
			}
			if r.Headers == nil && r.MultiValueHeaders == nil {
				t.Fatal("got an ALB response without headers; ALB answers 502 for it")
			}
			if r.StatusDescription == "" {
				t.Fatal("got an ALB response without a status description")
			}
			status, body, b64 = r.StatusCode, r.Body, r.IsBase64Encoded
			mergeHeaders(headers, r.Headers, r.MultiValueHeaders)
		default:
			t.Fatalf("got a %T, want a trigger's response type", resp)
		}
		if ct := headers["content-type"]; ct != "application/json" {
			t.Fatalf("got Content-Type %q (status %d), want application/json", ct, status)
		}
		if b64 {
			raw, err := base64.StdEncoding.DecodeString(body)
			if err != nil {
				t.Fatalf("got a base64 body that does not decode: %v", err)
			}
			body = string(raw)
		}
		checkLambdaBody(t, status, body)
		if leaked := leakedToLog(event, logs.Take()); leaked != "" {
			t.Fatalf("the standard log holds %q from the event", leaked)
		}
	})
}

func mergeHeaders(dst map[string]string, single map[string]string, multi map[string][]string) {
	for k, v := range single {
		dst[strings.ToLower(k)] = v
	}
	for k, v := range multi {
		dst[strings.ToLower(k)] = strings.Join(v, ", ")
	}
}

func checkLambdaBody(t *testing.T, status int, body string) {
	t.Helper()
	if status == http.StatusNoContent {
		if body != "" {
			t.Fatalf("got a body with 204: %q", body)
		}
		return
	}
	var got map[string]any
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&got); err != nil || dec.More() || got == nil {
		t.Fatalf("status %d: body is not one JSON object: %q", status, body)
	}
	if status == http.StatusOK {
		_, minted := got["access_token"].(string)
		if got["status"] != "ok" && !minted {
			t.Fatalf("got 200 with %v", got)
		}
		return
	}
	codes, ok := lambdaErrorCodes[status]
	code, _ := got["error"].(string)
	desc, _ := got["error_description"].(string)
	if !ok || len(got) != 2 || !slices.Contains(codes, code) || desc == "" {
		t.Fatalf("got %d %v, not a contract error", status, got)
	}
}

// leakedToLog returns a URL part, query or header value of event found in
// logged, or "".
func leakedToLog(event []byte, logged string) string {
	if logged == "" {
		return ""
	}
	var e struct {
		Path                  string              `json:"path"`
		RawPath               string              `json:"rawPath"`
		RawQueryString        string              `json:"rawQueryString"`
		Body                  string              `json:"body"`
		Headers               map[string]string   `json:"headers"`
		QueryStringParameters map[string]string   `json:"queryStringParameters"`
		MultiValueQuery       map[string][]string `json:"multiValueQueryStringParameters"`
	}
	_ = json.Unmarshal(event, &e)
	parts := []string{e.Path, e.RawPath, e.RawQueryString, e.Body, e.Headers["authorization"], e.Headers["Authorization"]}
	for _, v := range e.QueryStringParameters {
		parts = append(parts, v)
	}
	for _, vs := range e.MultiValueQuery {
		parts = append(parts, vs...)
	}
	for _, p := range parts {
		// A logger may quote the value (%q escapes a control character), so
		// each run of printable characters counts on its own.
		for _, run := range strings.FieldsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\\' }) {
			if len(run) >= 8 && strings.Contains(logged, run) {
				return run
			}
		}
	}
	return ""
}

// lambdaFuzzHandler is platform.NewHandler over the exchange function with a
// static Ed25519 key; good is a token it accepts.
func lambdaFuzzHandler(tb testing.TB) (*edge.Edge, string) {
	tb.Helper()
	seed := sha256.Sum256([]byte("supabridge fuzz lambda ed25519"))
	key := ed25519.NewKeyFromSeed(seed[:])
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		tb.Fatal(err)
	}
	const iss = "https://auth.fuzz.example/"
	h, err := platform.NewHandler(tb.Context(), "exchange", exchange.New, config.MapEnv(map[string]string{
		"SUPABASE_JWT_SECRET": "fuzz-secret-for-lambda-at-least-32-bytes!",
		"AUTH_ISSUER":         iss,
		"AUTH_PUBLIC_KEY":     string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	good, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": iss, "sub": "lambda-user", "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return h, good
}

// lambdaSeeds are events of every trigger, made in the test around a token
// that verifies; the malformed ones are in testdata/fuzz/FuzzLambdaEvent.
func lambdaSeeds(tb testing.TB, good string) [][]byte {
	tb.Helper()
	bearer := map[string]string{"authorization": "Bearer " + good, "content-type": "application/json"}
	form := "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=" + good +
		"&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"
	formHeaders := map[string]string{"content-type": "application/x-www-form-urlencoded"}
	v1 := func(method, path string, h map[string]string, body string, b64 bool) any {
		return events.APIGatewayProxyRequest{
			Resource: "/{proxy+}", Path: path, HTTPMethod: method, Headers: h, Body: body, IsBase64Encoded: b64,
			RequestContext: events.APIGatewayProxyRequestContext{DomainName: "abc.execute-api.us-east-1.amazonaws.com", Stage: "prod", RequestID: "r1"},
		}
	}
	v2 := func(method, path, query string, h map[string]string, body string, b64 bool) any {
		return events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "$default", RawPath: path, RawQueryString: query, Headers: h, Body: body, IsBase64Encoded: b64,
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				DomainName: "abc.lambda-url.us-east-1.on.aws", RequestID: "r2",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "192.0.2.1"},
			},
		}
	}
	alb := func(method, path string, h map[string]string, multi bool, body string) any {
		r := events.ALBTargetGroupRequest{
			HTTPMethod: method, Path: path, Body: body,
			RequestContext: events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}},
		}
		h2 := map[string]string{"host": "lb.example.com"}
		for k, v := range h {
			h2[k] = v
		}
		if multi {
			r.MultiValueHeaders = map[string][]string{}
			for k, v := range h2 {
				r.MultiValueHeaders[k] = []string{v}
			}
		} else {
			r.Headers = h2
		}
		return r
	}
	var out [][]byte
	for _, ev := range []any{
		v1("POST", "/exchange", bearer, "", false),
		v1("POST", "/exchange", formHeaders, base64.StdEncoding.EncodeToString([]byte(form)), true),
		v1("OPTIONS", "/exchange", map[string]string{"origin": "https://app.example.com"}, "", false),
		v1("GET", "/healthz", nil, "", false),
		v1("PUT", "/exchange", bearer, "", false),
		v2("POST", "/functions/v1/exchange", "", bearer, "", false),
		v2("POST", "/", "a=1", formHeaders, form, false),
		v2("POST", "/", "", formHeaders, base64.StdEncoding.EncodeToString([]byte(form)), true),
		v2("DELETE", "/", "", nil, "", false),
		v2("POST", "/", "access_token="+good, nil, "", false),
		alb("POST", "/exchange", bearer, false, ""),
		alb("POST", "/exchange", bearer, true, ""),
		alb("OPTIONS", "/exchange", nil, true, ""),
		alb("POST", "/exchange", formHeaders, false, form),
		v2("POST", "/", "access_token="+good+"\x01", nil, "", false),
		v2("POST\x01", "/", "access_token="+good, nil, "", false),
	} {
		b, err := json.Marshal(ev)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestFuzzLambdaSeeds checks that the seeds reach the function and get its
// real answers, so that the fuzz target cannot pass on bad-event replies
// alone.
func TestFuzzLambdaSeeds(t *testing.T) {
	h, good := lambdaFuzzHandler(t)
	lambda := platform.NewLambdaHandler(h, slog.New(slog.DiscardHandler))
	want := []int{200, 200, 204, 200, 405, 200, 200, 200, 405, 401, 200, 200, 204, 200, 400, 400}
	for i, ev := range lambdaSeeds(t, good) {
		resp, err := lambda(t.Context(), ev)
		if err != nil {
			t.Fatalf("seed %d: got error %v", i, err)
		}
		var status int
		switch r := resp.(type) {
		case events.APIGatewayProxyResponse:
			status = r.StatusCode
		case events.APIGatewayV2HTTPResponse:
			status = r.StatusCode
		case events.ALBTargetGroupResponse:
			status = r.StatusCode
		}
		if status != want[i] {
			t.Errorf("seed %d: got status %d, want %d (%+v)", i, status, want[i], resp)
		}
	}
}
