package edge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"supabridge/internal/testkit"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"supabridge/shared/edge"
	"supabridge/shared/oauth"
)

// accessLines returns the access-log lines (msg "request").
func accessLines(t *testing.T, b *testkit.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range b.Lines(t) {
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// inner is a POST handler that counts its calls and answers 200 {"ok":true}.
type inner struct{ calls atomic.Int32 }

func (h *inner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	oauth.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func newEdge(h http.Handler, origins []string) (http.Handler, *testkit.Buffer) {
	var buf testkit.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	return edge.Wrap(h, edge.Options{Function: "exchange", CORSOrigins: origins, Logger: logger}), &buf
}

// checkCommon asserts the headers the contract puts on every response.
func checkCommon(t *testing.T, h http.Header) {
	t.Helper()
	if got := h.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", got)
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	if got := h.Get("Access-Control-Allow-Headers"); got != "authorization, x-client-info, apikey, content-type" {
		t.Errorf("Access-Control-Allow-Headers: got %q, want the contract's list", got)
	}
}

func decodeError(t *testing.T, body []byte) (code, desc string) {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	return e.Error, e.Description
}

func TestMethodGate(t *testing.T) {
	tests := []struct {
		method, path string
		wantAllow    []string // methods Allow must list
	}{
		{http.MethodPut, "/", []string{"POST", "OPTIONS"}},
		{http.MethodDelete, "/functions/v1/exchange", []string{"POST", "OPTIONS"}},
		{http.MethodPatch, "/exchange", []string{"POST", "OPTIONS"}},
		{http.MethodGet, "/", []string{"POST", "OPTIONS"}},
		{http.MethodGet, "/functions/v1/exchange", []string{"POST", "OPTIONS"}},
		{http.MethodGet, "/healthzz", []string{"POST", "OPTIONS"}},
		{http.MethodHead, "/", []string{"POST", "OPTIONS"}},
		{http.MethodPut, "/healthz", []string{"GET", "POST", "OPTIONS"}},
		{http.MethodDelete, "/functions/v1/exchange/healthz", []string{"GET", "POST", "OPTIONS"}},
		{"TRACE", "/", []string{"POST", "OPTIONS"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			in := &inner{}
			h, logs := newEdge(in, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, nil))
			if rec.Code != http.StatusMethodNotAllowed {
				t.Fatalf("status: got %d, want 405", rec.Code)
			}
			allow := rec.Header().Get("Allow")
			for _, m := range tt.wantAllow {
				if !strings.Contains(allow, m) {
					t.Errorf("Allow: got %q, want it to list %s", allow, m)
				}
			}
			if strings.Contains(allow, tt.method) {
				t.Errorf("Allow: got %q, want it without %s", allow, tt.method)
			}
			checkCommon(t, rec.Header())
			if tt.method != http.MethodHead {
				if code, desc := decodeError(t, rec.Body.Bytes()); code != "method_not_allowed" || desc == "" {
					t.Errorf("body: got error %q description %q, want method_not_allowed with a description", code, desc)
				}
			}
			if n := in.calls.Load(); n != 0 {
				t.Errorf("inner handler: got %d calls, want 0", n)
			}
			lines := accessLines(t, logs)
			if len(lines) != 1 || lines[0]["error"] != "method_not_allowed" || lines[0]["status"] != float64(405) {
				t.Errorf("access log: got %v, want one line with status 405 and error method_not_allowed", lines)
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	for _, path := range []string{"/", "/exchange", "/functions/v1/exchange", "/functions/v1/exchange/healthz"} {
		t.Run(path, func(t *testing.T) {
			in := &inner{}
			h, logs := newEdge(in, nil)
			req := httptest.NewRequestWithContext(t.Context(), http.MethodOptions, path, nil)
			req.Header.Set("Origin", "https://app.example.com")
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNoContent {
				t.Fatalf("status: got %d, want 204", rec.Code)
			}
			if rec.Body.Len() != 0 {
				t.Errorf("body: got %q, want none", rec.Body)
			}
			checkCommon(t, rec.Header())
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin: got %q, want *", got)
			}
			if got := rec.Header().Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") || !strings.Contains(got, "OPTIONS") {
				t.Errorf("Access-Control-Allow-Methods: got %q, want POST and OPTIONS", got)
			}
			if in.calls.Load() != 0 {
				t.Error("inner handler: called on a preflight, want not")
			}
			if lines := accessLines(t, logs); len(lines) != 1 || lines[0]["status"] != float64(204) {
				t.Errorf("access log: got %v, want one line with status 204", lines)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	tests := []struct {
		method, path string
	}{
		{http.MethodGet, "/healthz"},
		{http.MethodGet, "/functions/v1/exchange/healthz"},
		{http.MethodGet, "/healthz?probe=1"},
		{http.MethodHead, "/healthz"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			in := &inner{}
			h, logs := newEdge(in, []string{"https://app.example.com"})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", rec.Code)
			}
			checkCommon(t, rec.Header())
			if tt.method == http.MethodGet {
				var body map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body) != 1 || body["status"] != "ok" {
					t.Errorf("body: got %q (%v), want {\"status\":\"ok\"}", rec.Body, err)
				}
			}
			if in.calls.Load() != 0 {
				t.Error("inner handler: called by a health check, want not (it calls no dependency)")
			}
			if lines := accessLines(t, logs); len(lines) != 1 || lines[0]["status"] != float64(200) {
				t.Errorf("access log: got %v, want one line with status 200", lines)
			}
		})
	}
}

func TestPostReachesHandler(t *testing.T) {
	for _, path := range []string{"/", "/exchange", "/functions/v1/exchange", "/healthz"} {
		t.Run(path, func(t *testing.T) {
			in := &inner{}
			h, _ := newEdge(in, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, strings.NewReader("x=1")))
			if rec.Code != http.StatusOK || in.calls.Load() != 1 {
				t.Fatalf("got status %d after %d calls, want 200 after 1", rec.Code, in.calls.Load())
			}
			checkCommon(t, rec.Header())
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin: got %q, want *", got)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	allowed := []string{"https://app.example.com", "http://localhost:3000"}
	tests := []struct {
		name     string
		origins  []string
		method   string
		origin   string
		wantACAO string
		wantVary bool
	}{
		{"* without Origin", nil, http.MethodPost, "", "*", false},
		{"* with an Origin", nil, http.MethodPost, "https://evil.example", "*", false},
		{"list, allowed origin", allowed, http.MethodPost, "https://app.example.com", "https://app.example.com", true},
		{"list, second allowed origin", allowed, http.MethodPost, "http://localhost:3000", "http://localhost:3000", true},
		{"list, allowed origin on a preflight", allowed, http.MethodOptions, "http://localhost:3000", "http://localhost:3000", true},
		{"list, allowed origin on an error", allowed, http.MethodPut, "https://app.example.com", "https://app.example.com", true},
		{"list, allowed origin on health", allowed, http.MethodGet, "https://app.example.com", "https://app.example.com", true},
		{"list, disallowed origin", allowed, http.MethodPost, "https://evil.example", "", true},
		{"list, disallowed origin on a preflight", allowed, http.MethodOptions, "https://evil.example", "", true},
		{"list, a prefix of an allowed origin", allowed, http.MethodPost, "https://app.example.co", "", true},
		{"list, different scheme", allowed, http.MethodPost, "http://app.example.com", "", true},
		{"list, null origin", allowed, http.MethodPost, "null", "", true},
		{"list, no Origin", allowed, http.MethodPost, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newEdge(&inner{}, tt.origins)
			path := "/"
			if tt.method == http.MethodGet {
				path = "/healthz"
			}
			req := httptest.NewRequestWithContext(t.Context(), tt.method, path, nil)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.wantACAO {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, tt.wantACAO)
			}
			if got := rec.Header().Values("Access-Control-Allow-Origin"); len(got) > 1 {
				t.Errorf("Access-Control-Allow-Origin: got %d values, want at most 1", len(got))
			}
			vary := strings.Join(rec.Header().Values("Vary"), ",")
			if hasOrigin := strings.Contains(vary, "Origin"); hasOrigin != tt.wantVary {
				t.Errorf("Vary: got %q, want Origin listed: %v", vary, tt.wantVary)
			}
			checkCommon(t, rec.Header())
		})
	}
}

// TestHeadersSurviveHandler checks that a handler cannot drop the edge's
// headers by writing an error through oauth.WriteError.
func TestHeadersOnHandlerError(t *testing.T) {
	h, logs := newEdge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteError(w, oauth.New(http.StatusUnauthorized, oauth.CodeInvalidToken, "The token is not acceptable."))
	}), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status: got %d, want 401", rec.Code)
	}
	checkCommon(t, rec.Header())
	if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate: got %q", got)
	}
	if lines := accessLines(t, logs); len(lines) != 1 || lines[0]["error"] != "invalid_token" || lines[0]["status"] != float64(401) {
		t.Errorf("access log: got %v, want status 401 and error invalid_token", lines)
	}
}

func TestBodyLimit(t *testing.T) {
	tests := []struct {
		name        string
		size        int
		wantTooBig  bool
		wantReadLen int
	}{
		{"empty", 0, false, 0},
		{"exactly 64 KiB", 64 << 10, false, 64 << 10},
		{"64 KiB + 1", 64<<10 + 1, true, 0},
		{"1 MiB", 1 << 20, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotErr error
			var gotLen int
			h, _ := newEdge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				gotErr, gotLen = err, len(b)
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					oauth.WriteError(w, oauth.New(http.StatusRequestEntityTooLarge, oauth.CodeRequestTooLarge, "The request body is too large."))
					return
				}
				oauth.WriteJSON(w, http.StatusOK, map[string]int{"len": len(b)})
			}), nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", bytes.NewReader(bytes.Repeat([]byte("a"), tt.size))))
			var mbe *http.MaxBytesError
			if got := errors.As(gotErr, &mbe); got != tt.wantTooBig {
				t.Fatalf("read error: got %v, want *http.MaxBytesError: %v", gotErr, tt.wantTooBig)
			}
			if tt.wantTooBig {
				if mbe.Limit != 64<<10 {
					t.Errorf("limit: got %d, want %d", mbe.Limit, 64<<10)
				}
				if rec.Code != http.StatusRequestEntityTooLarge {
					t.Errorf("status: got %d, want 413", rec.Code)
				}
				return
			}
			if gotLen != tt.wantReadLen || rec.Code != http.StatusOK {
				t.Errorf("got %d bytes and status %d, want %d bytes and 200", gotLen, rec.Code, tt.wantReadLen)
			}
		})
	}
}

func TestPanicAndNoResponse(t *testing.T) {
	var logs testkit.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom SECRET-IN-PANIC") })
	mux.HandleFunc("/silent", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	srv := httptest.NewServer(edge.Wrap(mux, edge.Options{Function: "exchange", Logger: logger}))
	defer srv.Close()

	tests := []struct {
		path       string
		wantStatus int
		wantCode   string
	}{
		{"/panic", 500, "server_error"},
		{"/ok", 200, ""},
		{"/silent", 500, "server_error"},
		{"/panic", 500, "server_error"},
		{"/ok", 200, ""},
	}
	for i, tt := range tests {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+tt.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("request %d (%s): %v; want the server to keep serving", i, tt.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%d %s: status got %d, want %d", i, tt.path, resp.StatusCode, tt.wantStatus)
		}
		checkCommon(t, resp.Header)
		if tt.wantCode != "" {
			if code, _ := decodeError(t, body); code != tt.wantCode {
				t.Errorf("%d %s: error got %q, want %q", i, tt.path, code, tt.wantCode)
			}
			if strings.Contains(string(body), "boom") {
				t.Errorf("%d %s: body %q echoes the panic, want a fixed phrase", i, tt.path, body)
			}
		}
	}
	access := accessLines(t, &logs)
	if len(access) != len(tests) {
		t.Fatalf("access log: got %d lines, want %d:\n%s", len(access), len(tests), logs.String())
	}
	for i, tt := range tests {
		if got := access[i]["status"]; got != float64(tt.wantStatus) {
			t.Errorf("access line %d: status got %v, want %d", i, got, tt.wantStatus)
		}
		got, has := access[i]["error"]
		if tt.wantCode == "" && has {
			t.Errorf("access line %d: got error %v, want none", i, got)
		}
		if tt.wantCode != "" && got != tt.wantCode {
			t.Errorf("access line %d: error got %v, want %q", i, got, tt.wantCode)
		}
	}
}

// TestPanicAfterWrite checks that a panic after the response started keeps
// the status already sent.
func TestPanicAfterWrite(t *testing.T) {
	h, logs := newEdge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late")
	}), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", nil))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status: got %d, want 202", rec.Code)
	}
	if lines := accessLines(t, logs); len(lines) != 1 || lines[0]["status"] != float64(202) {
		t.Errorf("access log: got %v, want one line with status 202", lines)
	}
}

func TestAccessLog(t *testing.T) {
	const secret = "SECRET-TOKEN-VALUE"
	lc := lambdacontext.NewContext
	tests := []struct {
		name       string
		method     string
		path       string
		header     map[string]string
		body       string
		lambdaID   string
		handler    http.HandlerFunc
		wantStatus int
		wantCode   string
		wantID     string // "" means a generated id
	}{
		{
			name: "bearer and form body never logged", method: http.MethodPost, path: "/functions/v1/exchange?subject_token=" + secret,
			header: map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "application/x-www-form-urlencoded", "Cookie": "sb=" + secret, "User-Agent": secret},
			body:   "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=" + secret,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				oauth.WriteError(w, oauth.New(http.StatusUnauthorized, oauth.CodeInvalidToken, "The token is not acceptable."))
			},
			wantStatus: 401, wantCode: "invalid_token",
		},
		{
			name: "success has no error code", method: http.MethodPost, path: "/",
			header: map[string]string{"Authorization": "bearer " + secret},
			handler: func(w http.ResponseWriter, r *http.Request) {
				oauth.WriteJSON(w, 200, map[string]string{"access_token": "minted"})
			},
			wantStatus: 200,
		},
		{
			name: "sane X-Request-Id is used", method: http.MethodPost, path: "/",
			header:     map[string]string{"X-Request-Id": "req-1234_abc.DEF"},
			handler:    func(w http.ResponseWriter, r *http.Request) { oauth.WriteJSON(w, 200, map[string]string{}) },
			wantStatus: 200, wantID: "req-1234_abc.DEF",
		},
		{
			name: "X-Request-Id with a space is replaced", method: http.MethodPost, path: "/",
			header:     map[string]string{"X-Request-Id": "req 1"},
			handler:    func(w http.ResponseWriter, r *http.Request) { oauth.WriteJSON(w, 200, map[string]string{}) },
			wantStatus: 200,
		},
		{
			name: "X-Request-Id with a quote is replaced", method: http.MethodPost, path: "/",
			header:     map[string]string{"X-Request-Id": `req"1`},
			handler:    func(w http.ResponseWriter, r *http.Request) { oauth.WriteJSON(w, 200, map[string]string{}) },
			wantStatus: 200,
		},
		{
			name: "overlong X-Request-Id is replaced", method: http.MethodPost, path: "/",
			header:     map[string]string{"X-Request-Id": strings.Repeat("r", 129)},
			handler:    func(w http.ResponseWriter, r *http.Request) { oauth.WriteJSON(w, 200, map[string]string{}) },
			wantStatus: 200,
		},
		{
			name: "128-byte X-Request-Id is kept", method: http.MethodPost, path: "/",
			header:     map[string]string{"X-Request-Id": strings.Repeat("r", 128)},
			handler:    func(w http.ResponseWriter, r *http.Request) { oauth.WriteJSON(w, 200, map[string]string{}) },
			wantStatus: 200, wantID: strings.Repeat("r", 128),
		},
		{
			name: "Lambda request id wins", method: http.MethodPost, path: "/",
			header:     map[string]string{"X-Request-Id": "from-header"},
			lambdaID:   "c6af9ac6-7b61-11e6-9a41-93e812345678",
			handler:    func(w http.ResponseWriter, r *http.Request) { oauth.WriteJSON(w, 200, map[string]string{}) },
			wantStatus: 200, wantID: "c6af9ac6-7b61-11e6-9a41-93e812345678",
		},
		{
			name: "method gate", method: http.MethodGet, path: "/?access_token=" + secret,
			header:     map[string]string{"Authorization": "Bearer " + secret},
			wantStatus: 405, wantCode: "method_not_allowed",
		},
	}
	generated := regexp.MustCompile(`^[0-9a-f]{24}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := newEdge(tt.handler, nil)
			req := httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.lambdaID != "" {
				req = req.WithContext(lc(req.Context(), &lambdacontext.LambdaContext{AwsRequestID: tt.lambdaID}))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d", rec.Code, tt.wantStatus)
			}
			raw := logs.String()
			if strings.Count(raw, "\n") != 1 {
				t.Fatalf("log: got %q, want exactly one line", raw)
			}
			if strings.Contains(raw, secret) {
				t.Fatalf("log: got %q, want no trace of the token", raw)
			}
			line := logs.Lines(t)[0]
			want := map[string]any{"msg": "request", "function": "exchange", "method": tt.method, "status": float64(tt.wantStatus)}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("log %s: got %v, want %v", k, line[k], v)
				}
			}
			if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("log duration_ms: got %v, want a non-negative number", line["duration_ms"])
			}
			code, hasCode := line["error"]
			if tt.wantCode == "" && hasCode {
				t.Errorf("log error: got %v, want none", code)
			}
			if tt.wantCode != "" && code != tt.wantCode {
				t.Errorf("log error: got %v, want %q", code, tt.wantCode)
			}
			id, _ := line["request_id"].(string)
			if tt.wantID != "" && id != tt.wantID {
				t.Errorf("log request_id: got %q, want %q", id, tt.wantID)
			}
			if tt.wantID == "" && !generated.MatchString(id) {
				t.Errorf("log request_id: got %q, want a generated 24-hex-digit id", id)
			}
			for _, k := range []string{"path", "url", "query", "headers", "body", "authorization", "remote_addr"} {
				if _, ok := line[k]; ok {
					t.Errorf("log: got key %q, want no request detail", k)
				}
			}
		})
	}
}

func TestGeneratedRequestIDsDiffer(t *testing.T) {
	h, logs := newEdge(&inner{}, nil)
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", nil))
	}
	lines := accessLines(t, logs)
	if len(lines) != 2 || lines[0]["request_id"] == lines[1]["request_id"] {
		t.Fatalf("got %v, want two lines with different request ids", lines)
	}
}

func TestNilLogger(t *testing.T) {
	h := edge.Wrap(&inner{}, edge.Options{Function: "exchange"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200", rec.Code)
	}
}

// TestResponseController checks that the edge's writer still lets a handler
// reach the connection (deadlines, flushing) through http.ResponseController.
func TestResponseController(t *testing.T) {
	srv := httptest.NewServer(edge.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the edge: %v", err)
		}
		_, _ = io.WriteString(w, "{}\n")
	}), edge.Options{}))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status: got %d, want 202", resp.StatusCode)
	}
}

// TestJWKS: GET on any path ending in /.well-known/jwks.json answers the
// configured key set, cacheable, with the CORS headers of every response;
// other methods there are gated like /healthz, and POST still reaches the
// function.
func TestJWKS(t *testing.T) {
	const set = `{"keys":[{"kty":"EC","kid":"k1"}]}`
	var buf testkit.Buffer
	in := &inner{}
	h := edge.Wrap(in, edge.Options{Function: "exchange", CORSOrigins: []string{"https://app.example.com"},
		Logger: slog.New(slog.NewJSONHandler(&buf, nil)), JWKS: []byte(set)})
	for _, path := range []string{"/.well-known/jwks.json", "/functions/v1/exchange/.well-known/jwks.json", "/exchange/.well-known/jwks.json"} {
		t.Run(path, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Origin", "https://app.example.com")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Body.String() != set {
				t.Fatalf("got %d %q, want 200 and the set", rec.Code, rec.Body.String())
			}
			hd := rec.Header()
			if got := hd.Get("Cache-Control"); got != "public, max-age=600" {
				t.Errorf("Cache-Control: got %q, want public, max-age=600 (not no-store)", got)
			}
			if hd.Get("Content-Type") != "application/json" || hd.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
				hd.Get("Access-Control-Allow-Headers") == "" || hd.Get("Vary") != "Origin" {
				t.Errorf("headers %v, want JSON and the CORS headers of every response", hd)
			}
		})
	}
	t.Run("HEAD", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/.well-known/jwks.json", nil))
		if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != strconv.Itoa(len(set)) {
			t.Errorf("got %d, %d body bytes, Content-Length %q; want 200, none, %d", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"), len(set))
		}
	})
	t.Run("PUT is gated", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/.well-known/jwks.json", nil))
		if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), "GET") {
			t.Errorf("got %d, Allow %q; want 405 listing GET", rec.Code, rec.Header().Get("Allow"))
		}
	})
	t.Run("POST reaches the function", func(t *testing.T) {
		before := in.calls.Load()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/.well-known/jwks.json", nil))
		if rec.Code != http.StatusOK || in.calls.Load() != before+1 {
			t.Errorf("got %d, %d calls; want the function's answer", rec.Code, in.calls.Load()-before)
		}
	})
	t.Run("a longer name is not the key set", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json.bak", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("got %d, want 405", rec.Code)
		}
	})
	t.Run("no set configured", func(t *testing.T) {
		rec := httptest.NewRecorder()
		edge.Wrap(in, edge.Options{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
		if rec.Code != http.StatusOK || rec.Body.String() != `{"keys":[]}` {
			t.Errorf("got %d %q, want an empty set", rec.Code, rec.Body.String())
		}
	})
	if lines := accessLines(t, &buf); len(lines) < 3 || lines[0]["status"] != float64(200) || lines[0]["method"] != "GET" {
		t.Errorf("access log %v, want a line per request", lines)
	}
}
