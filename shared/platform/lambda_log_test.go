package platform

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"testing"

	"supabridge/internal/testkit"
)

// TestLambdaEventNeverLogsTheURL sends events the adapter cannot turn into
// a request because of a control character (in rawQueryString, in the
// path taken from requestContext.http.path when rawPath is empty, in the
// method). aws-lambda-go-api-proxy would then print the whole URL, query
// string and the token in it included, with the standard logger, and the
// method and path to stdout. Such events must be refused before the
// adapter, with the fixed 400, leaving both untouched. Neither output is
// safe to share between tests, so this one does not run in parallel.
func TestLambdaEventNeverLogsTheURL(t *testing.T) {
	var std testkit.Buffer
	prevLog := log.Writer()
	log.SetOutput(&std)
	t.Cleanup(func() { log.SetOutput(prevLog) })
	stdout := captureStdout(t)

	const token = "eyJhbGciOiJSUzI1NiJ9.SECRET-IN-QUERY.c2ln"
	tests := []struct {
		name, event string
		set         func(m map[string]any)
	}{
		{"v2, control character in rawQueryString", "http-v2.json", func(m map[string]any) {
			m["rawQueryString"] = "access_token=" + token + "\x01"
		}},
		{"v2, DEL in rawQueryString", "http-v2.json", func(m map[string]any) {
			m["rawQueryString"] = "access_token=" + token + "&x=\x7f"
		}},
		{"Function URL, newline in rawQueryString", "function-url.json", func(m map[string]any) {
			m["rawQueryString"] = "x=1\n&access_token=" + token
		}},
		{"v2 without rawPath, control character in requestContext.http.path", "http-v2.json", func(m map[string]any) {
			m["rawPath"] = ""
			m["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = "/SECRET-IN-QUERY/\x00"
			m["rawQueryString"] = "access_token=" + token
		}},
		{"v2, control character in the method", "http-v2.json", func(m map[string]any) {
			m["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = "POST\x01SECRET-IN-QUERY"
			m["rawQueryString"] = "access_token=" + token
		}},
		{"v1, space in the method", "apigw-v1.json", func(m map[string]any) {
			m["httpMethod"] = "PO ST-SECRET-IN-QUERY"
			m["path"] = "/SECRET-IN-QUERY"
		}},
		{"ALB, control character in the method", "alb.json", func(m map[string]any) {
			m["httpMethod"] = "POST\x01SECRET-IN-QUERY"
			m["queryStringParameters"] = map[string]any{"access_token": token}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := newLambda(t)
			before := len(std.String())
			got, err := h(patch(t, readEvent(t, tt.event), tt.set))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			r := view(t, got)
			var e struct{ Error string }
			if r.status != http.StatusBadRequest || json.Unmarshal([]byte(r.body), &e) != nil || e.Error != "invalid_request" {
				t.Fatalf("got %d %q, want the fixed 400 invalid_request", r.status, r.body)
			}
			if strings.Contains(logs.String(), "SECRET-IN-QUERY") {
				t.Errorf("log: got %q, want nothing of the event", logs.String())
			}
			if s := std.String()[before:]; s != "" {
				t.Errorf("standard log: got %q, want nothing", s)
			}
		})
	}
	if s := stdout(); s != "" {
		t.Errorf("stdout: got %q, want nothing", s)
	}
}

// captureStdout sends os.Stdout to a pipe until the test ends; the
// function it returns stops the capture and returns what was written.
func captureStdout(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	prev := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, r)
		done <- b.String()
	}()
	stopped := false
	stop := func() string {
		if stopped {
			return ""
		}
		stopped = true
		os.Stdout = prev
		w.Close()
		s := <-done
		r.Close()
		return s
	}
	t.Cleanup(func() { stop() })
	return stop
}
