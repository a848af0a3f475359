package idp

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestCheckURL(t *testing.T) {
	for _, tt := range []struct {
		url      string
		insecure bool
		want     error
	}{
		{"https://idp.example.com/", false, nil},
		{"HTTPS://idp.example.com/", false, nil},
		{"http://127.0.0.1:5556/dex", false, nil},
		{"http://127.255.0.9/", false, nil},
		{"http://[::1]:8080/", false, nil},
		{"http://[::ffff:127.0.0.1]/", false, nil},
		{"http://localhost/", false, nil},
		{"http://idp.example.com/", false, ErrInsecureURL},
		{"http://10.0.0.1/", false, ErrInsecureURL},
		{"http://[::2]/", false, ErrInsecureURL},
		{"http://127.0.0.1.nip.io/", false, ErrInsecureURL},
		{"http://localhost.example.com/", false, ErrInsecureURL},
		{"http://idp.example.com/", true, nil},
		{"ftp://idp.example.com/", true, ErrNotHTTPURL},
		{"/relative", false, ErrNotHTTPURL},
		{"https://", false, ErrNotHTTPURL},
	} {
		if got := CheckURL(tt.url, tt.insecure); !errors.Is(got, tt.want) || (tt.want == nil && got != nil) {
			t.Errorf("CheckURL(%q, %v): got %v, want %v", tt.url, tt.insecure, got, tt.want)
		}
	}
}

// countingTransport counts the requests that reach the network.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("test: no network")
}

// TestDiscoveredTokenEndpointMustBeHTTPS: a token_endpoint that discovery
// announces in plain http to a host that is not loopback is refused before
// the refresh token is sent, unless the provider allows plain http.
func TestDiscoveredTokenEndpointMustBeHTTPS(t *testing.T) {
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(Metadata{Issuer: issuer, JWKSURI: issuer + "/jwks", TokenEndpoint: "http://idp.example.invalid/token"})
	}))
	defer srv.Close()
	issuer = srv.URL
	for _, insecure := range []bool{false, true} {
		tokenTransport := &countingTransport{}
		disc := NewDiscovery(issuer, NewHTTPClient(HTTPOptions{}), 0)
		c, err := NewTokenClient(TokenConfig{ClientID: "app", InsecureHTTP: insecure}, disc, NewHTTPClient(HTTPOptions{Transport: tokenTransport}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Refresh(t.Context(), "rt")
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("insecure_http %v: got %v, want ErrUnavailable", insecure, err)
		}
		if got, want := errors.Is(err, ErrInsecureURL), !insecure; got != want {
			t.Fatalf("insecure_http %v: ErrInsecureURL %v, want %v (%v)", insecure, got, want, err)
		}
		if got, want := tokenTransport.n.Load(), map[bool]int64{false: 0, true: 1}[insecure]; got != want {
			t.Fatalf("insecure_http %v: %d requests to the token endpoint, want %d", insecure, got, want)
		}
	}
}

// TestConfiguredTokenURLMustBeHTTPS: NewTokenClient refuses a configured
// plain-http token URL to a host that is not loopback, whoever calls it.
func TestConfiguredTokenURLMustBeHTTPS(t *testing.T) {
	_, err := NewTokenClient(TokenConfig{ClientID: "app", TokenURL: "http://idp.example.com/token"}, nil, NewHTTPClient(HTTPOptions{}))
	if !errors.Is(err, ErrInsecureURL) {
		t.Fatalf("got %v, want ErrInsecureURL", err)
	}
	if _, err := NewTokenClient(TokenConfig{ClientID: "app", TokenURL: "http://idp.example.com/token", InsecureHTTP: true}, nil, NewHTTPClient(HTTPOptions{})); err != nil {
		t.Fatalf("with InsecureHTTP: got %v", err)
	}
}
