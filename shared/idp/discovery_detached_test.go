package idp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDiscoveryFetchOutlivesCaller: callers share one fetch; a caller whose
// context ends stops waiting without cancelling it, and its cancellation is
// not remembered as the provider's failure.
func TestDiscoveryFetchOutlivesCaller(t *testing.T) {
	var requests atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case <-time.After(200 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		_ = json.NewEncoder(w).Encode(Metadata{Issuer: srv.URL, JWKSURI: srv.URL + "/jwks"})
	}))
	defer srv.Close()
	d := NewDiscovery(srv.URL, NewHTTPClient(HTTPOptions{Timeout: 2 * time.Second}), 0)

	hangup, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := d.Get(hangup); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller that gave up: got %v, want ErrUnavailable and its own deadline", err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if doc, err := d.Get(t.Context()); err != nil || doc.JWKSURI != srv.URL+"/jwks" {
				t.Errorf("caller after the hang-up: got %+v, %v", doc, err)
			}
		})
	}
	wg.Wait()
	if n := requests.Load(); n != 1 {
		t.Fatalf("got %d discovery requests for 5 callers, want 1 shared fetch", n)
	}
}

// TestDiscoveryRemembersProviderFailure: a fetch that fails on its own (not
// because a caller left) is remembered for the retry interval.
func TestDiscoveryRemembersProviderFailure(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	d := NewDiscovery(srv.URL, NewHTTPClient(HTTPOptions{}), time.Hour)
	for range 3 {
		if _, err := d.Get(t.Context()); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("got %d requests within the retry interval, want 1", n)
	}
}
