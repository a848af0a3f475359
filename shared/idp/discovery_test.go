package idp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// metaServer serves a metadata document and counts requests. Its answer
// can change while it runs.
type metaServer struct {
	*httptest.Server
	hits atomic.Int64

	mu     sync.Mutex
	status int
	body   string
	path   string
	accept string
}

func newMetaServer(t *testing.T) *metaServer {
	t.Helper()
	m := &metaServer{status: http.StatusOK}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.hits.Add(1)
		m.mu.Lock()
		status, body := m.status, m.body
		m.path, m.accept = r.URL.Path, r.Header.Get("Accept")
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *metaServer) answer(status int, body string) {
	m.mu.Lock()
	m.status, m.body = status, body
	m.mu.Unlock()
}

func (m *metaServer) seen() (path, accept string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.path, m.accept
}

// doc is a metadata document for issuer; extra members are added or, when
// nil, removed.
func doc(t *testing.T, issuer string, extra map[string]any) string {
	t.Helper()
	d := map[string]any{
		"issuer":                                issuer,
		"jwks_uri":                              issuer + "/keys",
		"token_endpoint":                        issuer + "/token",
		"id_token_signing_alg_values_supported": []string{"RS256", "EdDSA"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
	}
	for k, v := range extra {
		if v == nil {
			delete(d, k)
			continue
		}
		d[k] = v
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFetchMetadata(t *testing.T) {
	tests := []struct {
		name string
		// path is the issuer's path on the server.
		path   string
		status int
		// body is the document, given the issuer it should name.
		body     func(t *testing.T, issuer string) string
		wantPath string
		wantErr  []error
		notErr   []error
	}{
		{
			name: "ok", path: "/realms/main", status: 200,
			body:     func(t *testing.T, iss string) string { return doc(t, iss, nil) },
			wantPath: "/realms/main/.well-known/openid-configuration",
		},
		{
			name: "ok with a trailing slash on both sides", path: "/application/o/app/", status: 200,
			body:     func(t *testing.T, iss string) string { return doc(t, iss, nil) },
			wantPath: "/application/o/app/.well-known/openid-configuration",
		},
		{
			name: "document drops the configured trailing slash", path: "/application/o/app/", status: 200,
			body:    func(t *testing.T, iss string) string { return doc(t, strings.TrimSuffix(iss, "/"), nil) },
			wantErr: []error{ErrUnavailable, ErrIssuerMismatch},
		},
		{
			name: "document adds a trailing slash", path: "/realms/main", status: 200,
			body:    func(t *testing.T, iss string) string { return doc(t, iss+"/", nil) },
			wantErr: []error{ErrUnavailable, ErrIssuerMismatch},
		},
		{
			name: "issuer differs in its last byte", path: "/realms/main", status: 200,
			body:    func(t *testing.T, iss string) string { return doc(t, iss[:len(iss)-1]+"N", nil) },
			wantErr: []error{ErrUnavailable, ErrIssuerMismatch},
		},
		{
			name: "issuer differs in case", path: "/realms/main", status: 200,
			body:    func(t *testing.T, iss string) string { return doc(t, strings.ToUpper(iss[:4])+iss[4:], nil) },
			wantErr: []error{ErrUnavailable, ErrIssuerMismatch},
		},
		{
			name: "no issuer", path: "/realms/main", status: 200,
			body:    func(t *testing.T, iss string) string { return doc(t, iss, map[string]any{"issuer": nil}) },
			wantErr: []error{ErrUnavailable, ErrIssuerMismatch},
		},
		{
			name: "no jwks_uri", path: "/realms/main", status: 200,
			body:    func(t *testing.T, iss string) string { return doc(t, iss, map[string]any{"jwks_uri": nil}) },
			wantErr: []error{ErrUnavailable}, notErr: []error{ErrIssuerMismatch},
		},
		{
			name: "500", path: "/realms/main", status: 500,
			body:    func(t *testing.T, iss string) string { return doc(t, iss, nil) },
			wantErr: []error{ErrUnavailable}, notErr: []error{ErrIssuerMismatch},
		},
		{
			name: "404", path: "/realms/main", status: 404,
			body:    func(*testing.T, string) string { return "not found" },
			wantErr: []error{ErrUnavailable},
		},
		{
			name: "not JSON", path: "/realms/main", status: 200,
			body:    func(*testing.T, string) string { return "<html>sign in</html>" },
			wantErr: []error{ErrUnavailable},
		},
		{
			name: "JSON but not an object", path: "/realms/main", status: 200,
			body:    func(*testing.T, string) string { return `["issuer"]` },
			wantErr: []error{ErrUnavailable},
		},
		{
			name: "body over the limit", path: "/realms/main", status: 200,
			body: func(t *testing.T, iss string) string {
				return doc(t, iss, map[string]any{"pad": strings.Repeat("x", 4<<10)})
			},
			wantErr: []error{ErrUnavailable, ErrBodyTooLarge},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetaServer(t)
			issuer := m.URL + tt.path
			m.answer(tt.status, tt.body(t, issuer))
			c := NewHTTPClient(HTTPOptions{MaxBody: 2 << 10})

			d, err := FetchMetadata(t.Context(), c, issuer)
			if m.hits.Load() != 1 {
				t.Fatalf("server saw %d requests, want 1", m.hits.Load())
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("got %v, want it to match %q", err, want)
				}
			}
			for _, not := range tt.notErr {
				if errors.Is(err, not) {
					t.Errorf("got %v, want it not to match %q", err, not)
				}
			}
			if len(tt.wantErr) > 0 {
				return
			}
			if err != nil {
				t.Fatalf("got %v, want metadata", err)
			}
			path, accept := m.seen()
			if path != tt.wantPath || accept != "application/json" {
				t.Errorf("server saw %s with Accept %q, want %s with application/json", path, accept, tt.wantPath)
			}
			if d.Issuer != issuer || d.JWKSURI != issuer+"/keys" || d.TokenEndpoint != issuer+"/token" {
				t.Errorf("got %+v, want the document's issuer, jwks_uri and token_endpoint", d)
			}
			if strings.Join(d.IDTokenSigningAlgValuesSupported, ",") != "RS256,EdDSA" ||
				strings.Join(d.GrantTypesSupported, ",") != "authorization_code,refresh_token" {
				t.Errorf("got %+v, want the document's lists", d)
			}
		})
	}
}

func TestFetchMetadataTransportFailure(t *testing.T) {
	m := newMetaServer(t)
	issuer := m.URL
	m.Close()
	_, err := FetchMetadata(t.Context(), NewHTTPClient(HTTPOptions{}), issuer)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	_, err = FetchMetadata(t.Context(), NewHTTPClient(HTTPOptions{}), "http://bad host")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unparseable issuer: got %v, want ErrUnavailable", err)
	}
}

// fakeClock is a Discovery's clock under the test's control.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newDiscovery(t *testing.T, m *metaServer, retryAfter time.Duration) (*Discovery, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	d := NewDiscovery(m.URL, NewHTTPClient(HTTPOptions{}), retryAfter)
	d.now = clk.now
	return d, clk
}

func TestDiscoveryCaches(t *testing.T) {
	m := newMetaServer(t)
	m.answer(200, doc(t, m.URL, nil))
	d, _ := newDiscovery(t, m, time.Minute)
	if d.Issuer() != m.URL {
		t.Fatalf("Issuer() = %q, want %q", d.Issuer(), m.URL)
	}
	if m.hits.Load() != 0 {
		t.Fatal("NewDiscovery made a request")
	}

	const n = 64
	docs := make([]*Metadata, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { docs[i], errs[i] = d.Get(t.Context()) })
	}
	wg.Wait()
	for range 10 {
		got, err := d.Get(t.Context())
		docs, errs = append(docs, got), append(errs, err)
	}
	for i := range docs {
		if errs[i] != nil || docs[i] == nil || docs[i] != docs[0] {
			t.Fatalf("Get %d: got %p, %v; want the one cached document", i, docs[i], errs[i])
		}
	}
	if m.hits.Load() != 1 {
		t.Fatalf("server saw %d requests for %d Gets, want 1", m.hits.Load(), len(docs))
	}

	// Once fetched, the document is kept whatever the provider does next.
	m.answer(500, "")
	if _, err := d.Get(t.Context()); err != nil || m.hits.Load() != 1 {
		t.Fatalf("after caching: got %v with %d requests, want the cached document and no request", err, m.hits.Load())
	}
}

func TestDiscoveryBacksOffAfterFailure(t *testing.T) {
	for _, tt := range []struct {
		name       string
		retryAfter time.Duration
		wantWait   time.Duration
	}{
		{"given interval", time.Minute, time.Minute},
		{"default interval", 0, 5 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetaServer(t)
			m.answer(500, "")
			d, clk := newDiscovery(t, m, tt.retryAfter)

			_, first := d.Get(t.Context())
			if !errors.Is(first, ErrUnavailable) || m.hits.Load() != 1 {
				t.Fatalf("first Get: got %v after %d requests, want ErrUnavailable after 1", first, m.hits.Load())
			}

			// Concurrent callers within the interval share the failure.
			m.answer(200, doc(t, m.URL, nil))
			var wg sync.WaitGroup
			errs := make([]error, 16)
			for i := range errs {
				wg.Go(func() { _, errs[i] = d.Get(t.Context()) })
			}
			wg.Wait()
			clk.advance(tt.wantWait - time.Nanosecond)
			_, err := d.Get(t.Context())
			errs = append(errs, err)
			for i, err := range errs {
				if err != first {
					t.Fatalf("Get %d within the interval: got %v, want the cached error", i, err)
				}
			}
			if m.hits.Load() != 1 {
				t.Fatalf("server saw %d requests within the interval, want 1", m.hits.Load())
			}

			clk.advance(time.Nanosecond)
			got, err := d.Get(t.Context())
			if err != nil || got == nil || m.hits.Load() != 2 {
				t.Fatalf("Get after the interval: got %v after %d requests, want the document after 2", err, m.hits.Load())
			}
			if _, err := d.Get(t.Context()); err != nil || m.hits.Load() != 2 {
				t.Fatalf("Get after recovery: got %v after %d requests, want the cached document", err, m.hits.Load())
			}
		})
	}
}

func TestDiscoveryRetriesFailureAfterFailure(t *testing.T) {
	m := newMetaServer(t)
	m.answer(500, "")
	d, clk := newDiscovery(t, m, time.Second)
	for i := 1; i <= 3; i++ {
		if _, err := d.Get(t.Context()); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("round %d: got %v, want ErrUnavailable", i, err)
		}
		if _, err := d.Get(t.Context()); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("round %d, cached: got %v, want ErrUnavailable", i, err)
		}
		if got := m.hits.Load(); got != int64(i) {
			t.Fatalf("round %d: server saw %d requests, want %d", i, got, i)
		}
		clk.advance(time.Second)
	}
}

// A caller that gives up says nothing about the provider: its cancelled
// context must not be cached as the provider's failure for everyone else.
func TestDiscoveryCallerCancelNotCached(t *testing.T) {
	m := newMetaServer(t)
	m.answer(200, doc(t, m.URL, nil))
	d, _ := newDiscovery(t, m, time.Minute)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: got %v, want context.Canceled", err)
	}
	got, err := d.Get(t.Context())
	if err != nil || got == nil {
		t.Fatalf("next caller: got %v, want the document (the provider never failed)", err)
	}
}
