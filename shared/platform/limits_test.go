package platform

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"supabridge/internal/testkit"
	"supabridge/shared/config"
)

// serving runs serve on loopback with at most maxConns connections and
// returns its address.
func serving(t *testing.T, h http.Handler, maxConns int) string {
	t.Helper()
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, h, ln, slog.New(slog.DiscardHandler), maxConns) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// TestServeCapsConnections: with N+k clients, each on its own connection,
// only N requests are ever in the handler at once; the other k wait (they
// are not refused) and are served as connections close.
func TestServeCapsConnections(t *testing.T) {
	for _, tt := range []struct {
		name   string
		n      int
		direct bool // through Serve, with MaxConns
	}{
		{name: "cap of 4", n: 4},
		{name: "Serve's MaxConns", n: MaxConns, direct: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const extra = 8
			var inside, most atomic.Int64
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inside.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				<-release
				inside.Add(-1)
				w.WriteHeader(http.StatusNoContent)
			})
			var addr string
			if tt.direct {
				ln := listen(t)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- Serve(ctx, h, ln, nil) }()
				defer func() { cancel(); <-done }()
				addr = ln.Addr().String()
			} else {
				addr = serving(t, h, tt.n)
			}
			var wg sync.WaitGroup
			statuses := make(chan int, tt.n+extra)
			for range tt.n + extra {
				wg.Go(func() {
					c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
					resp, err := c.Post("http://"+addr+"/", "text/plain", nil)
					if err != nil {
						t.Error(err)
						statuses <- 0
						return
					}
					resp.Body.Close()
					statuses <- resp.StatusCode
				})
			}
			deadline := time.Now().Add(10 * time.Second)
			for inside.Load() < int64(tt.n) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			// Give the extra clients time to get in, were they let in.
			time.Sleep(300 * time.Millisecond)
			if got := most.Load(); got != int64(tt.n) {
				t.Errorf("at most %d requests in the handler at once, want %d (the cap)", got, tt.n)
			}
			close(release)
			wg.Wait()
			close(statuses)
			served := 0
			for s := range statuses {
				if s == http.StatusNoContent {
					served++
				}
			}
			if served != tt.n+extra {
				t.Errorf("%d of %d clients served, want all: those over the cap wait, they are not refused", served, tt.n+extra)
			}
		})
	}
}

// TestServeReclaimsIdleConnections: when every slot is held by a keep-alive
// connection idle between requests, a new client is served at once (the
// idle ones are closed), not after IdleTimeout.
func TestServeReclaimsIdleConnections(t *testing.T) {
	const n = 3
	addr := serving(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }), n)
	idlers := make([]*http.Client, n)
	for i := range idlers {
		idlers[i] = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
		resp, err := idlers[i].Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close() // the connection stays open, idle
	}
	defer func() {
		for _, c := range idlers {
			c.CloseIdleConnections()
		}
	}()
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := fresh.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("a new client while %d idle keep-alive connections hold every slot: %v", n, err)
	}
	resp.Body.Close()
	// The idlers still work: they open new connections.
	for i, c := range idlers {
		resp, err := c.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("idle client %d after its connection was reclaimed: %v", i, err)
		}
		resp.Body.Close()
	}
}

// rawRequest sends head (a request line and header lines, without the
// blank line that ends them) and returns the status of the answer.
func rawRequest(t *testing.T, addr, head string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	// The write may fail once the server has answered and closed.
	_, _ = io.WriteString(c, head+"\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeHeaderLimit: a request with a bearer token of the largest size
// the exchange accepts and a browser's worth of other headers is served; a
// header block past MaxHeaderBytes (and net/http's 4 KiB slack) is 431.
func TestServeHeaderLimit(t *testing.T) {
	addr := serving(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }), 8)
	token := strings.Repeat("t", 16<<10) // verify.MaxTokenLen
	browser := "Apikey: " + strings.Repeat("a", 220) + "\r\nX-Client-Info: supabase-js-web/2.50.0\r\n" +
		"Origin: https://app.example.com\r\nUser-Agent: " + strings.Repeat("u", 150) + "\r\n" +
		"Cookie: " + strings.Repeat("c", 6<<10) + "\r\n"
	for _, tt := range []struct {
		name string
		head string
		want int
	}{
		{"16 KiB token and 6.5 KiB of other headers", "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n" + browser, http.StatusNoContent},
		{"30 KiB of headers", "POST / HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 30<<10) + "\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"36 KB of headers", "POST / HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 36000) + "\r\n", http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := rawRequest(t, addr, tt.head); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestRunLogsMemoryLimit: the function logs the soft memory limit it runs
// with (GOMEMLIMIT, read by the Go runtime), so an operator can see that
// the manifest's value arrived.
func TestRunLogsMemoryLimit(t *testing.T) {
	const limit = 1 << 30
	prev := debug.SetMemoryLimit(limit) // what GOMEMLIMIT=1GiB sets at start
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	ln := listen(t)
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) // in use: run stops right after start
	var stderr testkit.Buffer
	run("exchange", okBuilder, config.MapEnv(map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_JWKS_URL": testJWKS, "PORT": port}), &stderr)
	lines := logLines(t, stderr.String(), "memory limit")
	if want := fmt.Sprintf("%d bytes (1024.0 MiB)", limit); len(lines) != 1 || lines[0]["gomemlimit"] != want {
		t.Fatalf("got %v, want one line with gomemlimit %q", lines, want)
	}
}
