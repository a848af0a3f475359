package edge_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"supabridge/shared/edge"
)

// TestPreflightMaxAge checks that a preflight answer lets the browser cache
// it (Access-Control-Max-Age, Fetch standard §3.2.3): without the header a
// browser keeps a preflight 5 s, so nearly every exchange from a web app
// costs two requests.
func TestPreflightMaxAge(t *testing.T) {
	tests := []struct {
		name    string
		origins []string
		origin  string
	}{
		{"any origin", nil, "https://app.example.com"},
		{"listed origin", []string{"https://app.example.com"}, "https://app.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := edge.Wrap(http.NotFoundHandler(), edge.Options{Function: "exchange", CORSOrigins: tt.origins})
			req := httptest.NewRequestWithContext(t.Context(), http.MethodOptions, "/functions/v1/exchange", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "authorization")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNoContent {
				t.Fatalf("status: got %d, want 204", rec.Code)
			}
			if got := rec.Header().Get("Access-Control-Max-Age"); got != "7200" {
				t.Errorf("Access-Control-Max-Age: got %q, want 7200", got)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.origin && !(tt.origins == nil && got == "*") {
				t.Errorf("Access-Control-Allow-Origin: got %q", got)
			}
		})
	}
}
