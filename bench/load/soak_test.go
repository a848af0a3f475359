package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TestJudge checks the soak's judge on hand-made answers: the run is only
// as good as its idea of a wrong answer.
func TestJudge(t *testing.T) {
	c := contract{secret: "s", soakOptions: soakOptions{downAt: 15 * time.Second, downFor: 20 * time.Second, unknownKID: 30 * time.Second, httpTimeout: 2 * time.Second}}
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
	mint := func(secret, sub string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "role": "authenticated", "aud": "authenticated", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return `{"access_token":"` + tok + `","supabaseJwt":"` + tok + `"}`
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
		{"200 with a token for the subject", valid, 200, hdr("Cache-Control", "no-store"), mint("s", "alice"), 0, true},
		{"200 with a token for another subject", valid, 200, hdr("Cache-Control", "no-store"), mint("s", "bob"), 0, false},
		{"200 with a token under another secret", valid, 200, hdr("Cache-Control", "no-store"), mint("t", "alice"), 0, false},
		{"200 with a token but no no-store", valid, 200, hdr(), mint("s", "alice"), 0, false},
		{"200 for a token that does not verify", valid, 200, hdr("Cache-Control", "no-store"), `{"access_token":"a.b.c","supabaseJwt":"a.b.c"}`, 0, false},
		{"a 4xx for a valid token", valid, 401, hdr("WWW-Authenticate", "Bearer"), invalid, 0, false},
		{"204 preflight", pre, 204, hdr(), "", 0, true},
		{"text/plain", pre, 204, http.Header{"Content-Type": {"text/plain"}, "Access-Control-Allow-Origin": {"*"}}, "", 0, false},
		{"no CORS", pre, 204, http.Header{"Content-Type": {"application/json"}}, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &vegeta.Result{Code: uint16(tt.status), Headers: tt.h, Body: []byte(tt.body)}
			got, why := c.judge(tt.k, res, "alice", tt.at)
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

func TestCheckLogs(t *testing.T) {
	const tok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
	access := `{"level":"INFO","msg":"request","status":200}` + "\n"
	tests := []struct {
		name, logs string
		problems   int
	}{
		{"clean", access + access, 0},
		{"the secret", access + `{"level":"INFO","msg":"x","s":"the-secret"}` + "\n", 1},
		{"a token's signature", `{"level":"WARN","msg":"c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"}` + "\n", 1},
		{"an ERROR line", access + `{"level":"ERROR","msg":"boom"}` + "\n", 1},
		{"not JSON", access + "panic: boom\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, p := checkLogs([]byte(tt.logs), "the-secret", []string{tok}); len(p) != tt.problems {
				t.Fatalf("got %v, want %d problem(s)", p, tt.problems)
			}
		})
	}
}
