package rapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func url(s *Server, path string) string { return "http://" + s.Addr() + apiPrefix + path }

// next plays the runtime's GET /next. It returns errors rather than failing
// the test because the protocol tests call it from the runtime's goroutine.
func next(ctx context.Context, s *Server) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url(s, "/invocation/next"), nil)
	if err != nil {
		return nil, nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, body, err
}

// post plays the runtime's POSTs and returns the status; 0 on a transport error.
func post(ctx context.Context, s *Server, path, body string, hdr map[string]string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url(s, path), strings.NewReader(body))
	if err != nil {
		return 0
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode
}

func TestInvocationProtocol(t *testing.T) {
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		runtime    func(t *testing.T, ctx context.Context, s *Server, id string) // answers the invocation
		wantBody   string
		wantErr    *Error
		wantStatus int // of the runtime's POST
	}{
		{
			name: "response",
			runtime: func(t *testing.T, ctx context.Context, s *Server, id string) {
				if got := post(ctx, s, "/invocation/"+id+"/response", `{"ok":true}`, nil); got != http.StatusAccepted {
					t.Errorf("POST response: got %d, want 202", got)
				}
			},
			wantBody: `{"ok":true}`,
		},
		{
			name: "error",
			runtime: func(t *testing.T, ctx context.Context, s *Server, id string) {
				got := post(ctx, s, "/invocation/"+id+"/error",
					`{"errorMessage":"boom","errorType":"errorString"}`,
					map[string]string{HeaderFunctionErrorType: "errorString"})
				if got != http.StatusAccepted {
					t.Errorf("POST error: got %d, want 202", got)
				}
			},
			wantErr: &Error{Message: "boom", Type: "errorString", HeaderType: "errorString"},
		},
		{
			name: "error body not JSON is kept as the message",
			runtime: func(t *testing.T, ctx context.Context, s *Server, id string) {
				post(ctx, s, "/invocation/"+id+"/error", `plain text`, nil)
			},
			wantErr: &Error{Message: "plain text"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s := start(t, Options{FunctionARN: "arn:test", Timeout: 3 * time.Second, Now: func() time.Time { return fixed }})
			done := make(chan struct{})
			go func() {
				defer close(done)
				res, body, err := next(ctx, s)
				if err != nil {
					t.Errorf("GET next: %v", err)
					return
				}
				if res.StatusCode != http.StatusOK {
					t.Errorf("GET next: got %d, want 200", res.StatusCode)
					return
				}
				if got := string(body); got != `{"n":1}` {
					t.Errorf("event: got %s, want {\"n\":1}", got)
				}
				id := res.Header.Get(HeaderRequestID)
				if id == "" {
					t.Errorf("no %s header", HeaderRequestID)
				}
				if got, want := res.Header.Get(HeaderDeadlineMS), strconv.FormatInt(fixed.Add(3*time.Second).UnixMilli(), 10); got != want {
					t.Errorf("deadline: got %s, want %s", got, want)
				}
				if got := res.Header.Get(HeaderInvokedFunctionARN); got != "arn:test" {
					t.Errorf("arn: got %q, want arn:test", got)
				}
				if got := res.Header.Get(HeaderTraceID); !strings.HasPrefix(got, "Root=1-") {
					t.Errorf("trace id: got %q, want Root=1-…", got)
				}
				tt.runtime(t, ctx, s, id)
				// A second result for the same id is refused.
				if got := post(ctx, s, "/invocation/"+id+"/response", `{}`, nil); got != http.StatusBadRequest {
					t.Errorf("second POST for %s: got %d, want 400", id, got)
				}
			}()
			res, err := s.Invoke(ctx, []byte(`{"n":1}`))
			if err != nil {
				t.Fatal(err)
			}
			<-done
			select {
			case <-s.Polling():
			default:
				t.Errorf("Polling not closed after a GET next")
			}
			if res.RequestID == "" {
				t.Errorf("Response.RequestID empty")
			}
			if tt.wantErr == nil {
				if res.Err != nil {
					t.Fatalf("got error %v, want a response", res.Err)
				}
				if got := string(res.Payload); got != tt.wantBody {
					t.Errorf("payload: got %s, want %s", got, tt.wantBody)
				}
				return
			}
			if res.Err == nil {
				t.Fatalf("got payload %s, want error", res.Payload)
			}
			if res.Err.Message != tt.wantErr.Message || res.Err.Type != tt.wantErr.Type || res.Err.HeaderType != tt.wantErr.HeaderType {
				t.Errorf("got error %+v, want %+v", res.Err, tt.wantErr)
			}
			if res.Payload != nil {
				t.Errorf("payload %s set beside an error", res.Payload)
			}
		})
	}
}

func TestInitError(t *testing.T) {
	ctx := t.Context()
	s := start(t, Options{})
	body := `{"errorMessage":"config: SUPABASE_JWT_SECRET is required","errorType":"Runtime.InitError"}`
	if got := post(ctx, s, "/init/error", body, map[string]string{HeaderFunctionErrorType: "Runtime.InitError"}); got != http.StatusAccepted {
		t.Fatalf("POST init/error: got %d, want 202", got)
	}
	e, err := s.InitError(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.Message != "config: SUPABASE_JWT_SECRET is required" || e.Type != "Runtime.InitError" || e.HeaderType != "Runtime.InitError" {
		t.Errorf("got %+v", e)
	}
	if string(e.Raw) != body {
		t.Errorf("raw: got %s, want %s", e.Raw, body)
	}
	if got := len(s.InitErrors()); got != 1 {
		t.Errorf("InitErrors: got %d, want 1", got)
	}
}

func TestRefusals(t *testing.T) {
	ctx := t.Context()
	s := start(t, Options{})
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"unknown id response", http.MethodPost, "/invocation/nope/response", http.StatusBadRequest},
		{"unknown id error", http.MethodPost, "/invocation/nope/error", http.StatusBadRequest},
		{"next with POST", http.MethodPost, "/invocation/next", http.StatusMethodNotAllowed},
		{"init error with GET", http.MethodGet, "/init/error", http.StatusMethodNotAllowed},
		{"unknown path", http.MethodGet, "/invocation", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, tt.method, url(s, tt.path), strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("got %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
	t.Run("oversize response", func(t *testing.T) {
		go func() { _, _ = s.Invoke(ctx, []byte(`{}`)) }()
		res, _, err := next(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		id := res.Header.Get(HeaderRequestID)
		big := bytes.Repeat([]byte("a"), MaxPayload+1)
		if got := post(ctx, s, "/invocation/"+id+"/response", string(big), nil); got != http.StatusRequestEntityTooLarge {
			t.Errorf("got %d, want 413", got)
		}
	})
}

func TestInvokeEnds(t *testing.T) {
	t.Run("context", func(t *testing.T) {
		s := start(t, Options{})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := s.Invoke(ctx, []byte(`{}`)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want context.DeadlineExceeded (nobody polls)", err)
		}
		if _, err := s.InitError(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("InitError: got %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("close", func(t *testing.T) {
		s := start(t, Options{})
		errc := make(chan error, 1)
		go func() { _, err := s.Invoke(t.Context(), []byte(`{}`)); errc <- err }()
		polled := make(chan struct{})
		go func() {
			defer close(polled)
			// The long poll must end when the server closes.
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url(s, "/invocation/next"), nil)
			if res, err := http.DefaultClient.Do(req); err == nil {
				_ = res.Body.Close()
			}
		}()
		time.Sleep(20 * time.Millisecond)
		s.Close()
		s.Close() // idempotent
		select {
		case <-polled:
		case <-time.After(5 * time.Second):
			t.Fatal("GET next still blocked after Close")
		}
		// The poll may have taken the event before Close; either way Invoke ends.
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("got %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Invoke still blocked after Close")
		}
	})
}

// TestAWSLambdaGoClient runs a real aws-lambda-go function (testdata/echo)
// against the server: the protocol details that matter are the ones the
// official client relies on (chunked bodies with trailers, header names,
// deadline format, the 202 it insists on).
func TestAWSLambdaGoClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "echo")
	build := exec.CommandContext(t.Context(), goBin, "build", "-buildvcs=false", "-tags", "lambda.norpc", "-o", bin, "./testdata/echo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build echo: %v\n%s", err, out)
	}

	s := start(t, Options{FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:echo"})
	cmd := exec.CommandContext(t.Context(), bin)
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + s.Addr()}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for i := range 3 {
		res, err := s.Invoke(ctx, []byte(`{"i":`+strconv.Itoa(i)+`}`))
		if err != nil {
			t.Fatalf("invoke %d: %v (stderr: %s)", i, err, stderr.String())
		}
		if res.Err != nil {
			t.Fatalf("invoke %d: %v", i, res.Err)
		}
		var got struct {
			Event       json.RawMessage `json:"event"`
			RequestID   string          `json:"requestId"`
			FunctionARN string          `json:"functionArn"`
			HasDeadline bool            `json:"hasDeadline"`
		}
		if err := json.Unmarshal(res.Payload, &got); err != nil {
			t.Fatalf("invoke %d: %v in %s", i, err, res.Payload)
		}
		if want := `{"i":` + strconv.Itoa(i) + `}`; string(got.Event) != want {
			t.Errorf("event: got %s, want %s", got.Event, want)
		}
		if got.RequestID != res.RequestID {
			t.Errorf("request id in context: got %q, want %q", got.RequestID, res.RequestID)
		}
		if got.FunctionARN != "arn:aws:lambda:us-east-1:123456789012:function:echo" {
			t.Errorf("function arn in context: got %q", got.FunctionARN)
		}
		if !got.HasDeadline {
			t.Errorf("context has no future deadline")
		}
	}

	res, err := s.Invoke(ctx, []byte(`{"fail":"it broke"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Err == nil || res.Err.Message != "it broke" {
		t.Errorf("got %+v, want error message %q", res.Err, "it broke")
	}
}
