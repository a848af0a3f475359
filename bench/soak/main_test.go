package main

import (
	"net/http"
	"testing"
	"time"
)

// TestJudge checks the soak's judge on hand-made answers: the run is only
// as good as its idea of a wrong answer.
func TestJudge(t *testing.T) {
	o := options{downAt: 15 * time.Second, downFor: 20 * time.Second, unknownKID: 30 * time.Second, httpTimeout: 2 * time.Second}
	m := &mix{secret: "s"}
	valid := &kind{name: "valid", status: 200}
	unknown := &kind{name: "unknown kid", status: 401, unknownKID: true}
	expired := &kind{name: "expired", status: 401}
	pre := &kind{name: "preflight", status: 204}
	hdr := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "Access-Control-Allow-Origin": {"*"}}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	unavailable := `{"error":"temporarily_unavailable","error_description":"down"}`
	invalid := `{"error":"invalid_token","error_description":"bad"}`
	tests := []struct {
		name   string
		k      *kind
		status int
		h      http.Header
		body   string
		at     time.Duration
		want   bool
	}{
		{"401 for an expired token", expired, 401, hdr("WWW-Authenticate", "Bearer"), invalid, 0, true},
		{"401 without WWW-Authenticate", expired, 401, hdr(), invalid, 0, false},
		{"401 with the wrong code", expired, 401, hdr("WWW-Authenticate", "Bearer"), `{"error":"invalid_request","error_description":"x"}`, 0, false},
		{"502 for an expired token, even in the outage", expired, 502, hdr(), unavailable, 20 * time.Second, false},
		{"502 for an unknown kid in the outage", unknown, 502, hdr(), unavailable, 20 * time.Second, true},
		{"502 for an unknown kid just after it", unknown, 502, hdr(), unavailable, 60 * time.Second, true},
		{"502 for an unknown kid long after it", unknown, 502, hdr(), unavailable, 70 * time.Second, false},
		{"502 for an unknown kid before it", unknown, 502, hdr(), unavailable, 14 * time.Second, false},
		{"500 for an unknown kid in the outage", unknown, 500, hdr(), `{"error":"server_error","error_description":"x"}`, 20 * time.Second, false},
		{"200 for a token that does not verify", valid, 200, hdr("Cache-Control", "no-store"), `{"access_token":"a.b.c","supabaseJwt":"a.b.c"}`, 0, false},
		{"a 4xx for a valid token", valid, 401, hdr("WWW-Authenticate", "Bearer"), invalid, 0, false},
		{"204 preflight", pre, 204, hdr(), "", 0, true},
		{"text/plain", pre, 204, http.Header{"Content-Type": {"text/plain"}, "Access-Control-Allow-Origin": {"*"}}, "", 0, false},
		{"no CORS", pre, 204, http.Header{"Content-Type": {"application/json"}}, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: tt.h}
			got, why := m.judge(tt.k, resp, []byte(tt.body), "alice", tt.at, o)
			if got != tt.want {
				t.Fatalf("got %v (%s), want %v", got, why, tt.want)
			}
		})
	}
}

func TestCheckSamples(t *testing.T) {
	flat := []sample{{phase: "before", rssKiB: 10 << 10, fds: 10}, {phase: "during", rssKiB: 20 << 10}, {phase: "during", rssKiB: 21 << 10}, {phase: "during", rssKiB: 21 << 10}, {phase: "during", rssKiB: 22 << 10}, {phase: "after", rssKiB: 22 << 10, fds: 11}}
	if p := checkSamples(flat); len(p) != 0 {
		t.Fatalf("got %v for a settled process", p)
	}
	growing := []sample{{phase: "before", rssKiB: 10 << 10, fds: 10}, {phase: "during", rssKiB: 20 << 10}, {phase: "during", rssKiB: 30 << 10}, {phase: "during", rssKiB: 60 << 10}, {phase: "during", rssKiB: 90 << 10}, {phase: "after", rssKiB: 90 << 10, fds: 40}}
	if p := checkSamples(growing); len(p) != 2 {
		t.Fatalf("got %v for growing memory and leaked fds, want two problems", p)
	}
}
