package faults_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"supabridge/internal/testprovider"
	"supabridge/shared/exchange"
	"supabridge/shared/platform"
)

// serve runs the exchange function on loopback with platform.Serve, the
// server Main runs outside Lambda, and returns its address and a valid token.
func serve(t *testing.T) (addr, good string) {
	t.Helper()
	k1 := testprovider.NewKey(t, "", "EdDSA")
	const iss = "https://idp.example.com/"
	h, _ := served(t, "exchange", exchange.New, map[string]string{"AUTH_ISSUER": iss, "AUTH_PUBLIC_KEY": k1.PublicPEM(t)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- platform.Serve(ctx, h, ln, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	now := time.Now()
	good = k1.Sign(t, map[string]any{"iss": iss, "sub": "alice", "exp": now.Add(time.Hour).Unix()}, nil)
	return ln.Addr().String(), good
}

// exchangeOver posts good over a fresh connection and returns the status.
func exchangeOver(addr, good string) (int, time.Duration, error) {
	start := time.Now()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/functions/v1/exchange", nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+good)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// TestServerHeaderLimit: a header block over MaxHeaderBytes is refused with
// 431 before any handler runs.
func TestServerHeaderLimit(t *testing.T) {
	t.Parallel()
	addr, good := serve(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	big := strings.Repeat("a", 2*platform.MaxHeaderBytes)
	// The write may fail once the server has answered and closed.
	_, _ = fmt.Fprintf(c, "POST /functions/v1/exchange HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-Pad: %s\r\n\r\n", good, big)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("got %d, want 431", resp.StatusCode)
	}
	if status, _, err := exchangeOver(addr, good); err != nil || status != http.StatusOK {
		t.Fatalf("a normal request after it: got %d, %v", status, err)
	}
}

// slowClient opens a connection, sends head, then one more byte of drip
// every interval, and reports when the server ended the connection.
func slowClient(t *testing.T, addr, head, drip string, interval time.Duration, ended chan<- time.Duration) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		ended <- -1
		return
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, head); err != nil {
		t.Error(err)
		ended <- -1
		return
	}
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := io.WriteString(c, drip); err != nil {
					return
				}
			}
		}
	}()
	// The server ends the connection (with or without an answer): the read
	// sees EOF or a reset. The deadline is far beyond any server timeout.
	_ = c.SetReadDeadline(time.Now().Add(40 * time.Second))
	_, _ = io.Copy(io.Discard, c)
	close(stop)
	ended <- time.Since(start)
}

// TestServerSlowClients: clients that send their headers or their body a
// byte at a time (slowloris) are cut off by the server's read timeouts, and
// while they hang on, everyone else is served at once.
func TestServerSlowClients(t *testing.T) {
	t.Parallel()
	addr, good := serve(t)
	const slow = 24
	tests := []struct {
		name       string
		head, drip string
		limit      time.Duration
	}{
		{"headers a line at a time", "POST /functions/v1/exchange HTTP/1.1\r\nHost: x\r\n", "X-Slow: 1\r\n", platform.ReadHeaderTimeout},
		{"body a byte at a time", "POST /functions/v1/exchange HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\ngrant_type=", "a", platform.ReadTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ended := make(chan time.Duration, slow)
			for range slow {
				go slowClient(t, addr, tt.head, tt.drip, 300*time.Millisecond, ended)
			}
			// While they drip, normal requests go through at once.
			time.Sleep(200 * time.Millisecond)
			var wg sync.WaitGroup
			for i := range 10 {
				wg.Go(func() {
					time.Sleep(time.Duration(i) * 150 * time.Millisecond)
					status, d, err := exchangeOver(addr, good)
					if err != nil || status != http.StatusOK || d > time.Second {
						t.Errorf("normal request among slow clients: got %d in %v, %v", status, d, err)
					}
				})
			}
			wg.Wait()
			var longest time.Duration
			for range slow {
				d := <-ended
				if d < 0 {
					continue
				}
				longest = max(longest, d)
				if d > tt.limit+2*time.Second {
					t.Errorf("a slow client held its connection for %v, want it cut after about %v", d, tt.limit)
				}
			}
			t.Logf("%d slow clients cut after at most %v (limit %v)", slow, longest.Round(100*time.Millisecond), tt.limit)
		})
	}
}
