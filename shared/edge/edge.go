package edge

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"supabridge/shared/bridge"
	"supabridge/shared/metrics"
	"supabridge/shared/oauth"
)

// Header values of the contract.
const (
	AllowHeaders = "authorization, x-client-info, apikey, content-type"
	AllowMethods = "POST, GET, OPTIONS"
	// MaxAge is how long, in seconds, a browser may cache a preflight
	// answer: two hours, the most Chromium honours (Firefox allows a day).
	// Without it a browser keeps a preflight for 5 s, and nearly every
	// exchange from a web app costs an extra OPTIONS round trip.
	MaxAge = "7200"
)

// Options configures [Wrap].
type Options struct {
	// Function names the function in the access log.
	Function string
	// CORSOrigins is nil for "*", else the allowed origins.
	CORSOrigins []string
	// Logger receives the access log; nil discards it.
	Logger *slog.Logger
	// JWKS is the JWK Set served at /.well-known/jwks.json: the public keys
	// the function signs with (claims.Config.JWKS). Nil serves an empty set.
	JWKS []byte
	// Metrics receives each request's outcome and latency; nil is off.
	Metrics *metrics.Metrics
}

// JWKSPath is where a function publishes its public keys; any path ending
// in it answers (/.well-known/jwks.json, /functions/v1/exchange/.well-known/jwks.json).
const JWKSPath = "/.well-known/jwks.json"

// JWKSCacheControl lets verifiers cache the key set for ten minutes, as
// Supabase Auth's own /.well-known/jwks.json does: a key added before a
// rotation is seen by every verifier well before it signs anything.
const JWKSCacheControl = "public, max-age=600"

// Edge is one function's handler behind the edge.
type Edge struct {
	next    http.Handler
	fn      string
	origins []string
	log     *slog.Logger
	jwks    []byte
	metrics *metrics.Metrics
	static  staticHeaders
}

// staticHeaders are the header values every response carries, made once:
// each response's header map gets these slices instead of new ones. Nothing
// changes a header value in place (Set replaces the slice, Add appends to a
// slice of length and capacity one, so to a copy), so sharing them is safe.
type staticHeaders struct {
	allowHeaders, allowMethods, anyOrigin, noStore, json []string
}

// Wrap returns h behind the edge. h sees only POST requests, with the body
// already limited to bridge.MaxBody.
func Wrap(h http.Handler, o Options) *Edge {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	jwks := o.JWKS
	if jwks == nil {
		jwks = []byte(`{"keys":[]}`)
	}
	one := func(v string) []string { return []string{v} }
	return &Edge{next: h, fn: o.Function, origins: o.CORSOrigins, log: log, jwks: jwks, metrics: o.Metrics, static: staticHeaders{
		allowHeaders: one(AllowHeaders), allowMethods: one(AllowMethods), anyOrigin: one("*"),
		noStore: one("no-store"), json: one("application/json"),
	}}
}

// ServeHTTP implements http.Handler.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.serve(w, r, nil) }

// RejectEvent answers a Lambda event that is no HTTP request (r is a
// stand-in) with bridge.ErrBadEvent, without calling the handler, through
// the same CORS headers, error writer and access log as every other
// response.
func (e *Edge) RejectEvent(w http.ResponseWriter, r *http.Request) { e.serve(w, r, bridge.ErrBadEvent) }

func (e *Edge) serve(w http.ResponseWriter, r *http.Request, reject *oauth.Error) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	id := requestID(r)
	defer func() {
		if p := recover(); p != nil {
			e.log.ErrorContext(r.Context(), "panic", "function", e.fn, "request_id", id, "panic", slog.AnyValue(p).String())
			if !rec.wrote {
				oauth.WriteError(rec, bridge.ErrServer)
			}
		}
		took := time.Since(start)
		attrs := []slog.Attr{
			slog.String("function", e.fn),
			slog.String("method", r.Method),
			slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(took.Microseconds())/1000),
			slog.String("request_id", id),
		}
		if e.metrics != nil {
			outcome := rec.code
			if outcome == "" {
				outcome = "ok"
			}
			e.metrics.Request(outcome, took)
		}
		if rec.code != "" {
			attrs = append(attrs, slog.String("error", rec.code))
		}
		e.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}()

	h := w.Header()
	e.cors(h, r)
	h["Cache-Control"] = e.static.noStore
	h["Content-Type"] = e.static.json

	health := r.URL.Path == "/healthz" || strings.HasSuffix(r.URL.Path, "/healthz")
	keys := strings.HasSuffix(r.URL.Path, JWKSPath)
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case reject != nil:
		oauth.WriteError(rec, reject)
	case r.Method == http.MethodOptions:
		h.Set("Access-Control-Max-Age", MaxAge)
		rec.WriteHeader(http.StatusNoContent)
	case health && read:
		oauth.WriteJSON(rec, http.StatusOK, map[string]string{"status": "ok"})
	case keys && read:
		h.Set("Cache-Control", JWKSCacheControl)
		h.Set("Content-Length", strconv.Itoa(len(e.jwks)))
		rec.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = rec.Write(e.jwks)
		}
	case r.Method == http.MethodPost:
		r.Body = http.MaxBytesReader(rec, r.Body, bridge.MaxBody)
		e.next.ServeHTTP(rec, r)
		if !rec.wrote {
			e.log.ErrorContext(r.Context(), "handler wrote no response", "function", e.fn, "request_id", id)
			oauth.WriteError(rec, bridge.ErrServer)
		}
	default:
		if health || keys {
			h.Set("Allow", "GET, HEAD, POST, OPTIONS")
		} else {
			h.Set("Allow", "POST, OPTIONS")
		}
		oauth.WriteError(rec, bridge.ErrMethodNotAllowed)
	}
}

func (e *Edge) cors(h http.Header, r *http.Request) {
	h["Access-Control-Allow-Headers"] = e.static.allowHeaders
	h["Access-Control-Allow-Methods"] = e.static.allowMethods
	if e.origins == nil {
		h["Access-Control-Allow-Origin"] = e.static.anyOrigin
		return
	}
	h.Add("Vary", "Origin")
	if o := r.Header.Get("Origin"); o != "" && slices.Contains(e.origins, o) {
		h.Set("Access-Control-Allow-Origin", o)
	}
}

// requestID is the Lambda request id, else a sane X-Request-Id from the
// platform in front, else a new random id.
func requestID(r *http.Request) string {
	if lc, ok := lambdacontext.FromContext(r.Context()); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	if v := r.Header.Get("X-Request-Id"); v != "" && len(v) <= 128 && printable(v) {
		return v
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\' {
			return false
		}
	}
	return true
}

// recorder remembers the status and the error code of the response.
type recorder struct {
	http.ResponseWriter
	status int
	code   string
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if r.wrote {
		return
	}
	r.status, r.wrote = status, true
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// RecordError implements oauth.ErrorRecorder.
func (r *recorder) RecordError(code string) { r.code = code }

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
