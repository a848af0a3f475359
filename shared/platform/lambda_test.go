package platform

import (
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"supabridge/internal/testkit"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"supabridge/shared/edge"
	"supabridge/shared/oauth"
)

// logLines decodes the JSON lines of s whose msg is msg.
func logLines(t *testing.T, s, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func readEvent(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// patch returns ev changed by f.
func patch(t *testing.T, ev json.RawMessage, f func(m map[string]any)) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// echoBody is what the echo handler answers.
type echoBody struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Body   string `json:"body"`
	Auth   bool   `json:"auth"`
}

// echo answers 200 with what it received, and a two-valued header.
func echo(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		oauth.WriteError(w, oauth.New(http.StatusBadRequest, oauth.CodeInvalidRequest, "read"))
		return
	}
	w.Header().Add("X-Multi", "a")
	w.Header().Add("X-Multi", "b")
	oauth.WriteJSON(w, http.StatusOK, echoBody{Method: r.Method, Path: r.URL.Path, Body: string(b), Auth: r.Header.Get("Authorization") != ""})
}

func newLambda(t *testing.T) (func(ctxEvent json.RawMessage) (any, error), *testkit.Buffer) {
	t.Helper()
	var logs testkit.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	h := NewLambdaHandler(edge.Wrap(http.HandlerFunc(echo), edge.Options{Function: "exchange", Logger: logger}), logger)
	return func(ev json.RawMessage) (any, error) { return h(t.Context(), ev) }, &logs
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name  string
		event string
		want  Trigger
	}{
		{"REST API v1", string(readEvent(t, "apigw-v1.json")), TriggerAPIGatewayV1},
		{"REST API v1, base64 body", string(readEvent(t, "apigw-v1-base64.json")), TriggerAPIGatewayV1},
		{"HTTP API v2", string(readEvent(t, "http-v2.json")), TriggerHTTPAPIV2},
		{"Function URL", string(readEvent(t, "function-url.json")), TriggerHTTPAPIV2},
		{"ALB", string(readEvent(t, "alb.json")), TriggerALB},
		{"ALB, multi-value headers", string(readEvent(t, "alb-multi.json")), TriggerALB},
		{"HTTP API payload 1.0", `{"version":"1.0","httpMethod":"POST","path":"/"}`, TriggerAPIGatewayV1},
		{"bare version 2.0", `{"version":"2.0"}`, TriggerHTTPAPIV2},
		{"elb null is not ALB", `{"requestContext":{"elb":null},"httpMethod":"GET"}`, TriggerAPIGatewayV1},
		{"empty elb object", `{"requestContext":{"elb":{}},"httpMethod":"GET"}`, TriggerALB},
		{"garbage", `this is not JSON`, TriggerUnknown},
		{"truncated", `{"version":"2.0",`, TriggerUnknown},
		{"empty input", ``, TriggerUnknown},
		{"empty object", `{}`, TriggerUnknown},
		{"JSON null", `null`, TriggerUnknown},
		{"array", `[]`, TriggerUnknown},
		{"string", `"GET"`, TriggerUnknown},
		{"S3 event", `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put"}]}`, TriggerUnknown},
		{"EventBridge schedule", `{"version":"0","source":"aws.events","detail-type":"Scheduled Event"}`, TriggerUnknown},
		{"wrong type for version", `{"version":2,"httpMethod":"GET"}`, TriggerUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Probe([]byte(tt.event)); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTriggerString(t *testing.T) {
	for tr, want := range map[Trigger]string{TriggerUnknown: "unknown", TriggerAPIGatewayV1: "apigw-v1", TriggerHTTPAPIV2: "http-v2", TriggerALB: "alb"} {
		if got := tr.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// response is the common view of the three response types.
type response struct {
	status  int
	headers http.Header // merged from Headers and MultiValueHeaders
	single  map[string]string
	multi   map[string][]string
	body    string
	base64  bool
}

func view(t *testing.T, v any) response {
	t.Helper()
	var r response
	switch x := v.(type) {
	case events.APIGatewayProxyResponse:
		r = response{status: x.StatusCode, single: x.Headers, multi: x.MultiValueHeaders, body: x.Body, base64: x.IsBase64Encoded}
	case events.APIGatewayV2HTTPResponse:
		r = response{status: x.StatusCode, single: x.Headers, multi: x.MultiValueHeaders, body: x.Body, base64: x.IsBase64Encoded}
	case events.ALBTargetGroupResponse:
		r = response{status: x.StatusCode, single: x.Headers, multi: x.MultiValueHeaders, body: x.Body, base64: x.IsBase64Encoded}
	default:
		t.Fatalf("got a %T, want an API Gateway, HTTP API or ALB response", v)
	}
	r.headers = http.Header{}
	for k, vs := range r.multi {
		for _, v := range vs {
			r.headers.Add(k, v)
		}
	}
	for k, v := range r.single {
		if r.headers.Get(k) == "" {
			r.headers.Set(k, v)
		}
	}
	return r
}

func TestLambdaTriggers(t *testing.T) {
	wantBody := "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=abc"
	tests := []struct {
		event     string
		wantType  any
		wantPath  string
		wantMulti bool // response must use MultiValueHeaders, not Headers
		wantXM    string
	}{
		{"apigw-v1.json", events.APIGatewayProxyResponse{}, "/functions/v1/exchange", true, ""},
		{"apigw-v1-base64.json", events.APIGatewayProxyResponse{}, "/functions/v1/exchange", true, ""},
		{"http-v2.json", events.APIGatewayV2HTTPResponse{}, "/functions/v1/exchange", false, "a,b"},
		{"function-url.json", events.APIGatewayV2HTTPResponse{}, "/", false, "a,b"},
		{"alb.json", events.ALBTargetGroupResponse{}, "/functions/v1/exchange", false, "a, b"},
		{"alb-multi.json", events.ALBTargetGroupResponse{}, "/functions/v1/exchange", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			h, _ := newLambda(t)
			got, err := h(readEvent(t, tt.event))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(tt.wantType) {
				t.Fatalf("got a %T, want a %T", got, tt.wantType)
			}
			r := view(t, got)
			if r.status != http.StatusOK {
				t.Fatalf("status: got %d, want 200 (body %q)", r.status, r.body)
			}
			if r.base64 {
				t.Errorf("IsBase64Encoded: got true, want false for a JSON body")
			}
			if alb, ok := got.(events.ALBTargetGroupResponse); ok && alb.StatusDescription != "200 OK" {
				t.Errorf("StatusDescription: got %q, want %q as ALB writes it", alb.StatusDescription, "200 OK")
			}
			var body echoBody
			if err := json.Unmarshal([]byte(r.body), &body); err != nil {
				t.Fatalf("body %q: %v", r.body, err)
			}
			if want := (echoBody{Method: "POST", Path: tt.wantPath, Body: wantBody, Auth: true}); body != want {
				t.Errorf("handler saw %+v, want %+v", body, want)
			}
			if tt.wantMulti {
				if len(r.multi) == 0 || len(r.single) != 0 {
					t.Errorf("got Headers %v and MultiValueHeaders %v, want only MultiValueHeaders", r.single, r.multi)
				}
				if got := r.multi["X-Multi"]; !reflect.DeepEqual(got, []string{"a", "b"}) {
					t.Errorf("MultiValueHeaders[X-Multi]: got %q, want [a b]", got)
				}
			} else {
				if len(r.single) == 0 || len(r.multi) != 0 {
					t.Errorf("got Headers %v and MultiValueHeaders %v, want only Headers", r.single, r.multi)
				}
				if got := r.single["X-Multi"]; got != tt.wantXM {
					t.Errorf("Headers[X-Multi]: got %q, want %q", got, tt.wantXM)
				}
			}
			for k, want := range map[string]string{
				"Content-Type":                "application/json",
				"Cache-Control":               "no-store",
				"Access-Control-Allow-Origin": "*",
			} {
				if got := r.headers.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestLambdaEdge checks the edge's answers (preflight, health, method gate)
// through each trigger.
func TestLambdaEdge(t *testing.T) {
	setMethod := map[string]func(m map[string]any, method, path string){
		"apigw-v1.json": func(m map[string]any, method, path string) { m["httpMethod"], m["path"] = method, path },
		"http-v2.json": func(m map[string]any, method, path string) {
			http := m["requestContext"].(map[string]any)["http"].(map[string]any)
			http["method"], http["path"], m["rawPath"] = method, path, path
		},
		"function-url.json": func(m map[string]any, method, path string) {
			http := m["requestContext"].(map[string]any)["http"].(map[string]any)
			http["method"], http["path"], m["rawPath"] = method, path, path
		},
		"alb.json":       func(m map[string]any, method, path string) { m["httpMethod"], m["path"] = method, path },
		"alb-multi.json": func(m map[string]any, method, path string) { m["httpMethod"], m["path"] = method, path },
	}
	tests := []struct {
		method, path string
		wantStatus   int
		wantCode     string
	}{
		{"OPTIONS", "/functions/v1/exchange", 204, ""},
		{"GET", "/healthz", 200, ""},
		{"GET", "/functions/v1/exchange/healthz", 200, ""},
		{"PUT", "/functions/v1/exchange", 405, "method_not_allowed"},
		{"GET", "/functions/v1/exchange", 405, "method_not_allowed"},
	}
	for event, set := range setMethod {
		for _, tt := range tests {
			t.Run(event+" "+tt.method+" "+tt.path, func(t *testing.T) {
				h, _ := newLambda(t)
				ev := patch(t, readEvent(t, event), func(m map[string]any) { set(m, tt.method, tt.path) })
				got, err := h(ev)
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				r := view(t, got)
				if r.status != tt.wantStatus {
					t.Fatalf("status: got %d, want %d (body %q)", r.status, tt.wantStatus, r.body)
				}
				if got := r.headers.Get("Content-Type"); got != "application/json" {
					t.Errorf("Content-Type: got %q, want application/json", got)
				}
				if got := r.headers.Get("Access-Control-Allow-Headers"); got != edge.AllowHeaders {
					t.Errorf("Access-Control-Allow-Headers: got %q, want %q", got, edge.AllowHeaders)
				}
				if tt.wantStatus == 405 && r.headers.Get("Allow") == "" {
					t.Error("Allow: got none, want one on a 405")
				}
				if tt.wantCode != "" && !strings.Contains(r.body, `"error":"`+tt.wantCode+`"`) {
					t.Errorf("body: got %q, want error %q", r.body, tt.wantCode)
				}
				if tt.wantStatus == 204 && r.body != "" {
					t.Errorf("body: got %q, want none on a preflight", r.body)
				}
			})
		}
	}
}

func TestLambdaBadEvents(t *testing.T) {
	badBase64 := func(m map[string]any) { m["isBase64Encoded"], m["body"] = true, "%%% not base64 %%%" }
	tests := []struct {
		name      string
		event     json.RawMessage
		wantType  any
		wantMulti bool
	}{
		{"v1 with a body that is not base64", readEvent(t, "apigw-v1-bad-base64.json"), events.APIGatewayProxyResponse{}, false},
		{"v2 with a body that is not base64", patch(t, readEvent(t, "http-v2.json"), badBase64), events.APIGatewayV2HTTPResponse{}, false},
		{"Function URL with a body that is not base64", patch(t, readEvent(t, "function-url.json"), badBase64), events.APIGatewayV2HTTPResponse{}, false},
		{"ALB with a body that is not base64", patch(t, readEvent(t, "alb.json"), badBase64), events.ALBTargetGroupResponse{}, false},
		{"ALB multi-value with a body that is not base64", patch(t, readEvent(t, "alb-multi.json"), badBase64), events.ALBTargetGroupResponse{}, true},
		{"v1 with headers of the wrong type", patch(t, readEvent(t, "apigw-v1.json"), func(m map[string]any) { m["headers"] = 5 }), events.APIGatewayProxyResponse{}, false},
		{"v2 with a requestContext of the wrong type", patch(t, readEvent(t, "http-v2.json"), func(m map[string]any) { m["requestContext"] = "x" }), events.APIGatewayProxyResponse{}, false},
		{"v2 with headers of the wrong type", patch(t, readEvent(t, "http-v2.json"), func(m map[string]any) { m["headers"] = []any{1} }), events.APIGatewayV2HTTPResponse{}, false},
		{"ALB with headers of the wrong type", patch(t, readEvent(t, "alb.json"), func(m map[string]any) { m["headers"] = 5 }), events.ALBTargetGroupResponse{}, false},
		{"garbage", json.RawMessage(`not json`), events.APIGatewayProxyResponse{}, false},
		{"empty object", json.RawMessage(`{}`), events.APIGatewayProxyResponse{}, false},
		{"JSON null", json.RawMessage(`null`), events.APIGatewayProxyResponse{}, false},
		{"S3 event", json.RawMessage(`{"Records":[{"eventSource":"aws:s3"}]}`), events.APIGatewayProxyResponse{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := newLambda(t)
			got, err := h(tt.event)
			if err != nil {
				t.Fatalf("got error %v, want a JSON 400 and no error", err)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(tt.wantType) {
				t.Fatalf("got a %T, want a %T", got, tt.wantType)
			}
			r := view(t, got)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status: got %d, want 400", r.status)
			}
			if got := r.headers.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", got)
			}
			if got := r.headers.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin: got %q, want *", got)
			}
			var e struct{ Error, ErrorDescription string }
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error != "invalid_request" {
				t.Errorf("body: got %q (%v), want a JSON invalid_request error", r.body, err)
			}
			if alb, ok := got.(events.ALBTargetGroupResponse); ok {
				if alb.StatusDescription != "400 Bad Request" {
					t.Errorf("StatusDescription: got %q, want %q", alb.StatusDescription, "400 Bad Request")
				}
				if tt.wantMulti && (len(r.multi) == 0 || len(r.single) != 0) {
					t.Errorf("got Headers %v, MultiValueHeaders %v; want only MultiValueHeaders", r.single, r.multi)
				}
				if !tt.wantMulti && (len(r.single) == 0 || len(r.multi) != 0) {
					t.Errorf("got Headers %v, MultiValueHeaders %v; want only Headers", r.single, r.multi)
				}
			}
			if strings.Contains(logs.String(), "eyJhbGciOiJSUzI1NiJ9") {
				t.Errorf("log: got %q, want no token", logs.String())
			}
		})
	}
}

func TestLambdaRequestID(t *testing.T) {
	const id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
	for _, event := range []string{"apigw-v1.json", "http-v2.json", "function-url.json", "alb.json", "alb-multi.json"} {
		t.Run(event, func(t *testing.T) {
			var logs testkit.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			h := NewLambdaHandler(edge.Wrap(http.HandlerFunc(echo), edge.Options{Function: "exchange", Logger: logger}), logger)
			ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: id})
			if _, err := h(ctx, readEvent(t, event)); err != nil {
				t.Fatal(err)
			}
			lines := logLines(t, logs.String(), "request")
			if len(lines) != 1 {
				t.Fatalf("access log: got %d lines, want 1:\n%s", len(lines), logs.String())
			}
			if got := lines[0]["request_id"]; got != id {
				t.Errorf("request_id: got %v, want %q", got, id)
			}
			if strings.Contains(logs.String(), "eyJhbGciOiJSUzI1NiJ9") || strings.Contains(logs.String(), "subject_token") {
				t.Errorf("log: got %q, want no token or body", logs.String())
			}
		})
	}
}

// TestLambdaBadEventLogsNoToken checks that an event the adapter cannot turn
// into a request (here a path that is not valid percent-encoding, which a
// client can send as /%25zz) never puts its query string, which may hold a
// token, in the log: neither ours nor the standard logger, which
// aws-lambda-go-api-proxy writes to (it also prints to stdout, which this
// test does not capture).
func TestLambdaBadEventLogsNoToken(t *testing.T) {
	var std testkit.Buffer
	prev := log.Writer()
	log.SetOutput(&std)
	t.Cleanup(func() { log.SetOutput(prev) })

	const token = "eyJhbGciOiJSUzI1NiJ9.SECRET-IN-QUERY.c2ln"
	tests := []struct {
		event string
		set   func(m map[string]any)
	}{
		{"apigw-v1.json", func(m map[string]any) {
			m["path"] = "/%zz"
			m["queryStringParameters"] = map[string]any{"access_token": token}
			m["multiValueQueryStringParameters"] = map[string]any{"access_token": []any{token}}
		}},
		{"http-v2.json", func(m map[string]any) { m["rawPath"], m["rawQueryString"] = "/%zz", "access_token="+token }},
		{"function-url.json", func(m map[string]any) { m["rawPath"], m["rawQueryString"] = "/%zz", "access_token="+token }},
		{"alb.json", func(m map[string]any) {
			m["path"] = "/%zz"
			m["queryStringParameters"] = map[string]any{"access_token": token}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			h, logs := newLambda(t)
			got, err := h(patch(t, readEvent(t, tt.event), tt.set))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if r := view(t, got); r.status != http.StatusBadRequest {
				t.Fatalf("status: got %d, want 400", r.status)
			}
			if strings.Contains(logs.String(), "SECRET-IN-QUERY") {
				t.Errorf("log: got %q, want no trace of the query's token", logs.String())
			}
			if strings.Contains(std.String(), "SECRET-IN-QUERY") {
				t.Errorf("standard log: got %q, want no trace of the query's token", std.String())
			}
		})
	}
}

// TestLambdaBadEventsThroughTheEdge: a bad event is answered by the edge, so
// CORS_ALLOWED_ORIGINS holds there too (no "*" when a list is configured)
// and the access log has its line, like every other response.
func TestLambdaBadEventsThroughTheEdge(t *testing.T) {
	badBase64 := func(m map[string]any) { m["isBase64Encoded"], m["body"] = true, "%%% not base64 %%%" }
	tests := []struct {
		name  string
		event json.RawMessage
	}{
		{"v1 with a body that is not base64", readEvent(t, "apigw-v1-bad-base64.json")},
		{"v2 with a body that is not base64", patch(t, readEvent(t, "http-v2.json"), badBase64)},
		{"ALB with a body that is not base64", patch(t, readEvent(t, "alb.json"), badBase64)},
		{"garbage", json.RawMessage(`not json`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testkit.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			e := edge.Wrap(http.HandlerFunc(echo), edge.Options{Function: "exchange", CORSOrigins: []string{"https://app.example.com"}, Logger: logger})
			got, err := NewLambdaHandler(e, logger)(t.Context(), tt.event)
			if err != nil {
				t.Fatalf("got error %v, want a JSON 400", err)
			}
			r := view(t, got)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status: got %d, want 400", r.status)
			}
			if got := r.headers.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin: got %q, want none (a list is configured and no origin is known)", got)
			}
			if got := r.headers.Get("Vary"); got != "Origin" {
				t.Errorf("Vary: got %q, want Origin", got)
			}
			var access []map[string]any
			for _, l := range logs.Lines(t) {
				if l["msg"] == "request" {
					access = append(access, l)
				}
			}
			if len(access) != 1 || access[0]["status"] != float64(http.StatusBadRequest) || access[0]["error"] != "invalid_request" {
				t.Errorf("access log: got %v, want one line with status 400 and error invalid_request", access)
			}
		})
	}
}
