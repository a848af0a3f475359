package rapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Header names of the Runtime API, as the aws-lambda-go client reads them.
const (
	HeaderRequestID          = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMS         = "Lambda-Runtime-Deadline-Ms"
	HeaderInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID            = "Lambda-Runtime-Trace-Id"
	HeaderFunctionErrorType  = "Lambda-Runtime-Function-Error-Type"
	trailerFunctionErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// MaxPayload is Lambda's limit on a synchronous response (6 MB); a larger
// response is refused with 413 as Lambda does.
const MaxPayload = 6 * 1024 * 1024

const apiPrefix = "/2018-06-01/runtime"

// ErrClosed is returned by Invoke and InitError once the server is closed.
var ErrClosed = errors.New("rapi: server closed")

// Options configures a Server. The zero value is usable.
type Options struct {
	// FunctionARN is sent in Lambda-Runtime-Invoked-Function-Arn. Default:
	// arn:aws:lambda:us-east-1:123456789012:function:test.
	FunctionARN string
	// Timeout sets each invocation's deadline (Lambda-Runtime-Deadline-Ms =
	// now + Timeout when the runtime receives it). Default 10 s, the
	// template's function timeout.
	Timeout time.Duration
	// Now replaces time.Now for the deadline header.
	Now func() time.Time
}

// Error is the JSON body a runtime posts to /error or /init/error.
type Error struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
	// HeaderType is the Lambda-Runtime-Function-Error-Type request header.
	HeaderType string `json:"-"`
	// Raw is the body exactly as posted.
	Raw []byte `json:"-"`
}

// Error formats the error as the Lambda console shows it.
func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Response is what the runtime posted for one invocation.
type Response struct {
	// RequestID is the Lambda-Runtime-Aws-Request-Id the event was sent with.
	RequestID string
	// Payload is the body of /response (nil when Err is set).
	Payload []byte
	// Err is set when the runtime posted /error, or when the /response body
	// failed midway (the client then reports through the
	// Lambda-Runtime-Function-Error-Type/-Body trailers).
	Err *Error
	// Received is when the runtime fetched the event with /next, and
	// Completed when it posted the result.
	Received, Completed time.Time
}

type invocation struct {
	id      string
	payload []byte
	done    chan *Response // buffered 1; written once, by whoever take()s it
	recv    time.Time
}

// Server is a Lambda Runtime API endpoint on a loopback port.
type Server struct {
	opts    Options
	ln      net.Listener
	srv     *http.Server
	queue   chan *invocation
	closed  chan struct{}
	polling chan struct{} // closed on the first GET /next

	mu          sync.Mutex
	inflight    map[string]*invocation
	initErrs    []*Error
	initErrCh   chan struct{} // closed on the first init error
	pollOnce    sync.Once
	closeOnce   sync.Once
	initErrOnce sync.Once
}

// Start listens on 127.0.0.1 on a free port and serves the Runtime API until
// Close.
func Start(opts Options) (*Server, error) {
	if opts.FunctionARN == "" {
		opts.FunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:test"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("rapi: listen: %w", err)
	}
	s := &Server{
		opts:      opts,
		ln:        ln,
		queue:     make(chan *invocation, 128),
		closed:    make(chan struct{}),
		polling:   make(chan struct{}),
		inflight:  make(map[string]*invocation),
		initErrCh: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"/invocation/next", s.next)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/response", s.response)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/error", s.invocationError)
	mux.HandleFunc("POST "+apiPrefix+"/init/error", s.initError)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }() // returns http.ErrServerClosed on Close
	return s, nil
}

// Addr is the host:port to put in AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, ending any pending long poll; pending Invoke and
// InitError calls return ErrClosed. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		_ = s.srv.Close()
	})
}

// Polling is closed when a runtime first calls /invocation/next, that is when
// it has finished initialising.
func (s *Server) Polling() <-chan struct{} { return s.polling }

// Invoke queues payload as the next event and waits until the runtime posts
// its response or error, ctx ends, or the server closes. An invocation
// abandoned by ctx stays queued; a later runtime may still receive it.
func (s *Server) Invoke(ctx context.Context, payload []byte) (*Response, error) {
	inv := &invocation{
		id:      newRequestID(),
		payload: payload,
		done:    make(chan *Response, 1),
	}
	select {
	case s.queue <- inv:
	case <-ctx.Done():
		return nil, fmt.Errorf("rapi: queue event: %w", ctx.Err())
	case <-s.closed:
		return nil, ErrClosed
	}
	select {
	case r := <-inv.done:
		return r, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("rapi: wait for invocation %s: %w", inv.id, ctx.Err())
	case <-s.closed:
		return nil, ErrClosed
	}
}

// InitError waits for the runtime to post /init/error and returns the first
// one posted.
func (s *Server) InitError(ctx context.Context) (*Error, error) {
	select {
	case <-s.initErrCh:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.initErrs[0], nil
	case <-ctx.Done():
		return nil, fmt.Errorf("rapi: wait for init error: %w", ctx.Err())
	case <-s.closed:
		return nil, ErrClosed
	}
}

// InitErrors returns every init error posted so far.
func (s *Server) InitErrors() []*Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Error(nil), s.initErrs...)
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.pollOnce.Do(func() { close(s.polling) })
	var inv *invocation
	select {
	case inv = <-s.queue:
	case <-r.Context().Done():
		return // the runtime went away (or Close): nothing was handed out
	case <-s.closed:
		writeStatus(w, http.StatusGone, "ServerClosed", "runtime API closed")
		return
	}
	now := s.opts.Now()
	inv.recv = now
	s.mu.Lock()
	s.inflight[inv.id] = inv
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(HeaderRequestID, inv.id)
	h.Set(HeaderDeadlineMS, strconv.FormatInt(now.Add(s.opts.Timeout).UnixMilli(), 10))
	h.Set(HeaderInvokedFunctionARN, s.opts.FunctionARN)
	h.Set(HeaderTraceID, traceID(now))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// take removes an in-flight invocation: each gets exactly one result.
func (s *Server) take(id string) *invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.inflight[id]
	delete(s.inflight, id)
	return inv
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	inv := s.take(r.PathValue("id"))
	if inv == nil {
		writeStatus(w, http.StatusBadRequest, "InvalidRequestID", "unknown or completed request id")
		return
	}
	res := &Response{RequestID: inv.id, Received: inv.recv, Completed: s.opts.Now()}
	// The aws-lambda-go client streams the body and, if reading the handler's
	// output fails midway, reports the error in trailers instead.
	if t := r.Trailer.Get(HeaderFunctionErrorType); t != "" {
		res.Err = &Error{Type: t, HeaderType: t, Raw: []byte(r.Trailer.Get(trailerFunctionErrorBody))}
	} else {
		res.Payload = body
	}
	inv.done <- res
	writeStatus(w, http.StatusAccepted, "", "")
}

func (s *Server) invocationError(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	inv := s.take(r.PathValue("id"))
	if inv == nil {
		writeStatus(w, http.StatusBadRequest, "InvalidRequestID", "unknown or completed request id")
		return
	}
	e := parseError(r, body)
	inv.done <- &Response{RequestID: inv.id, Err: e, Received: inv.recv, Completed: s.opts.Now()}
	writeStatus(w, http.StatusAccepted, "", "")
}

func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	e := parseError(r, body)
	s.mu.Lock()
	s.initErrs = append(s.initErrs, e)
	s.mu.Unlock()
	s.initErrOnce.Do(func() { close(s.initErrCh) })
	writeStatus(w, http.StatusAccepted, "", "")
}

// parseError keeps the raw body even when it is not the documented JSON, so a
// test can show what the runtime actually sent.
func parseError(r *http.Request, body []byte) *Error {
	e := &Error{}
	if err := json.Unmarshal(body, e); err != nil {
		e = &Error{Message: string(body)}
	}
	e.HeaderType = r.Header.Get(HeaderFunctionErrorType)
	e.Raw = body
	return e
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayload))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeStatus(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "payload over 6 MB")
			return nil, false
		}
		writeStatus(w, http.StatusBadRequest, "InvalidRequest", "read body failed")
		return nil, false
	}
	return body, true
}

// writeStatus answers as the Runtime API does: {"status":"OK"} on 202, else
// an error document.
func writeStatus(w http.ResponseWriter, code int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code == http.StatusAccepted {
		_, _ = io.WriteString(w, `{"status":"OK"}`)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": errType, "errorMessage": msg})
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// traceID has the X-Ray shape Lambda sends: Root=1-<epoch hex>-<96-bit hex>.
func traceID(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", now.Unix(), hex.EncodeToString(b[:]), hex.EncodeToString(b[:8]))
}
