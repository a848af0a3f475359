package idp

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Defaults for [HTTPOptions] fields left zero.
const (
	DefaultTimeout = 5 * time.Second
	DefaultMaxBody = 1 << 20 // 1 MiB: a JWKS or a token response is a few KiB.
)

// HTTPOptions configures [NewHTTPClient]. The zero value means the defaults.
type HTTPOptions struct {
	// Timeout bounds a whole call, body included. Default 5 s.
	Timeout time.Duration
	// MaxBody bounds every response body. Default 1 MiB.
	MaxBody int64
	// Observe, when set, is called once per round trip with the status code
	// (0 when the call failed before a response) and the transport error.
	Observe func(status int, err error)
	// Transport is the underlying transport; nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
}

// NewHTTPClient returns an *http.Client bounded as described by o. It
// follows at most three redirects, each to the origin (scheme, host and
// port) of the first request: a discovery document or a JWKS that another
// host supplies through a redirect could name any key. [TokenClient]
// follows none.
func NewHTTPClient(o HTTPOptions) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	base := o.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 8
		t.ResponseHeaderTimeout = o.Timeout
		base = t
	}
	return &http.Client{
		Timeout:   o.Timeout,
		Transport: &transport{base: base, maxBody: o.MaxBody, observe: o.Observe},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return fmt.Errorf("%w: more than 3", ErrRedirect)
			}
			if origin(req.URL) != origin(via[0].URL) {
				return fmt.Errorf("%w: to another origin", ErrRedirect)
			}
			return nil
		},
	}
}

type transport struct {
	base    http.RoundTripper
	maxBody int64
	observe func(int, error)
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if t.observe != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.observe(status, err)
	}
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.maxBody {
		resp.Body.Close()
		return nil, fmt.Errorf("idp: %s answered %d bytes: %w", req.URL.Host, resp.ContentLength, ErrBodyTooLarge)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.maxBody}
	return resp, nil
}

// limitedBody fails with ErrBodyTooLarge instead of silently truncating, so
// a decoder never mistakes a cut body for a complete one.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe for one more byte: exactly MaxBody bytes is allowed.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// origin is u's scheme, host and port (RFC 6454), the port made explicit.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// CheckURL reports whether raw may carry traffic to a provider: an https
// URL, or a plain http one to a loopback host (127.0.0.0/8, ::1,
// localhost), or any http URL when insecureHTTP (an operator's explicit
// choice for a provider inside the cluster). On anything else a network
// attacker could read refresh tokens and client secrets and supply signing
// keys. The error names neither the URL nor its parts.
func CheckURL(raw string, insecureHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ErrNotHTTPURL
	}
	if u.Scheme == "http" && !insecureHTTP && !Loopback(u.Hostname()) {
		return ErrInsecureURL
	}
	return nil
}

// Loopback reports whether host (a URL's Hostname) is a loopback address or
// the name localhost.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
