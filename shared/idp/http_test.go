package idp

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClientBoundsBodies(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		chunked bool
		wantErr error
	}{
		{name: "under the limit", size: 100},
		{name: "exactly the limit", size: 1024},
		{name: "over the limit with a length", size: 1025, wantErr: ErrBodyTooLarge},
		{name: "over the limit chunked", size: 4096, chunked: true, wantErr: ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.chunked {
					w.(http.Flusher).Flush()
				}
				_, _ = io.WriteString(w, strings.Repeat("a", tt.size))
			}))
			defer srv.Close()
			c := NewHTTPClient(HTTPOptions{MaxBody: 1024})
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			resp, err := c.Do(req)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got err %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && len(body) != tt.size {
				t.Fatalf("got %d bytes, want %d", len(body), tt.size)
			}
		})
	}
}

func TestClientTimeoutAndObserver(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	var seen []int
	c := NewHTTPClient(HTTPOptions{Timeout: 100 * time.Millisecond, Observe: func(status int, err error) {
		seen = append(seen, status)
	}})
	start := time.Now()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	_, err := c.Do(req)
	if err == nil {
		t.Fatal("got no error from a server that never answers")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("call took %v, want it bounded near 100ms", d)
	}
	if len(seen) != 1 || seen[0] != 0 {
		t.Fatalf("observer saw %v, want one failed call [0]", seen)
	}
}
