package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// testServer is an HTTP server in this process, measured as if it were
// the server under test.
func testServer(t *testing.T, h http.HandlerFunc) (*server, *jwksServer) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jwks, err := startJWKS()
	if err != nil {
		t.Fatal(err)
	}
	return &server{name: "test", url: srv.URL, pid: os.Getpid()}, jwks
}

// TestAttackNamesEachAnswer checks that every answer reaches check with the
// number of the request it answers, concurrent workers notwithstanding, that
// the number never reaches the server, and what each kind sends.
func TestAttackNamesEachAnswer(t *testing.T) {
	s, jwks := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "%s %s|%s|%s|%s|%s", r.Method, r.RequestURI, r.Header.Get("Authorization"), r.Header.Get("Origin"), r.Header.Get("Content-Type"), body)
	})
	const form = "application/x-www-form-urlencoded"
	ks := []*kind{
		{tokens: []string{"a0", "a1"}, status: 200},
		{tokens: []string{"b0", "b1", "b2", "b3"}, form: true, status: 400},
		{method: "DELETE", path: "/", header: map[string]string{"Origin": "o"}, body: "x=1", status: 405},
	}
	want := func(n int) (string, string) {
		switch n % 3 {
		case 0:
			return "POST /functions/v1/exchange|Bearer a" + strconv.Itoa(n%2) + "|||", subject(n % 2)
		case 1:
			v := url.Values{"grant_type": {grantTE}, "subject_token": {"b" + strconv.Itoa(n%4)}, "subject_token_type": {typeJWT}}
			return "POST /functions/v1/exchange|||" + form + "|" + v.Encode(), ""
		}
		return "DELETE /||o|" + form + "|x=1", ""
	}
	var checked atomic.Int64
	out, err := attack(t.Context(), s, run{name: "t", hits: 300, workers: 8, keepPeak: true, pick: cycle(ks...),
		check: func(n int, res *vegeta.Result, _ time.Duration) string {
			checked.Add(1)
			body, sub := want(n)
			if string(res.Body) != body || ks[n%3].subject(n) != sub {
				return fmt.Sprintf("request %d: got %q, subject %q; want %q, %q", n, res.Body, ks[n%3].subject(n), body, sub)
			}
			return ""
		}}, jwks)
	if err != nil {
		t.Fatal(err)
	}
	if out.requests != 300 || out.ok != 300 || checked.Load() != 300 {
		t.Fatalf("got %d requests, %d right, %d checked, errors %s; want 300 of each", out.requests, out.ok, checked.Load(), out.errorSummary())
	}
}

// TestAttackOpenLoop checks the rate mode: an event fires, not before its
// time; answers that are not 200 are tallied; and requests that find
// -max-in-flight already waiting are counted.
func TestAttackOpenLoop(t *testing.T) {
	release := make(chan struct{})
	s, jwks := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release // every request waits for the event
		w.WriteHeader(http.StatusTeapot)
	})
	var firedAt atomic.Int64
	begin := time.Now()
	r := run{name: "t", rate: 200, duration: 400 * time.Millisecond, maxInFlight: 5, keepPeak: true, pick: cycle(&kind{}),
		events: []event{{200 * time.Millisecond, func() { firedAt.Store(int64(time.Since(begin))); close(release) }}}}
	out, err := attack(t.Context(), s, r, jwks)
	if err != nil {
		t.Fatal(err)
	}
	if at := time.Duration(firedAt.Load()); at < 200*time.Millisecond {
		t.Errorf("the event fired at %v, want 200 ms or later", at)
	}
	if out.requests == 0 || out.ok != 0 || out.errors["HTTP 418"] != out.requests {
		t.Errorf("got %d requests, %d right, errors %s; want every one tallied as HTTP 418", out.requests, out.ok, out.errorSummary())
	}
	if out.overLimit == 0 {
		t.Errorf("got no request over -max-in-flight while the server held every request for 200 ms at 200/s")
	}
}

// TestAttackTalliesErrorsByCause checks that transport errors, each about a
// request of its own, are tallied by their cause.
func TestAttackTalliesErrorsByCause(t *testing.T) {
	s, jwks := testServer(t, func(http.ResponseWriter, *http.Request) {})
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://127.0.0.1:" + strconv.Itoa(port) // nothing listens there
	out, err := attack(t.Context(), s, run{name: "t", hits: 20, workers: 4, keepPeak: true, pick: cycle(&kind{})}, jwks)
	if err != nil {
		t.Fatal(err)
	}
	if out.requests != 20 || len(out.errors) != 1 {
		t.Fatalf("got %d requests, errors %s; want 20 refused connections under one cause", out.requests, out.errorSummary())
	}
}
