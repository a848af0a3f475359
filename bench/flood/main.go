// Command flood measures the exchange binary's peak memory under a flood of
// unfinished header blocks (issue 16, item 2), run as `go run ./bench/flood`.
//
// It builds the exchange function as `make build` does (or takes -bin),
// starts it on 127.0.0.1 with a static key (no provider), and opens
// -sockets connections, each sending a request line and -size bytes of one
// header that never ends, held for -hold. Meanwhile a client asks /healthz
// every 100 ms. It prints the process's resident memory at rest and its
// peak (VmHWM from /proc/<pid>/status) during the flood, how the server
// answered the flood's sockets, how /healthz fared, and the memory-limit
// line the binary logged. -gomemlimit is passed as GOMEMLIMIT. Linux only;
// nothing here is part of the product.
package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "", "exchange binary to measure (default: build ./functions/exchange)")
	sockets := flag.Int("sockets", 700, "connections in the flood")
	size := flag.Int("size", 36000, "header bytes each connection sends, never ending the block")
	hold := flag.Duration("hold", 3*time.Second, "how long the flood holds its connections")
	memLimit := flag.String("gomemlimit", "", "GOMEMLIMIT for the binary (empty: unset)")
	flag.Parse()
	if err := run(*bin, *sockets, *size, *hold, *memLimit); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

func run(bin string, sockets, size int, hold time.Duration, memLimit string) error {
	dir, err := os.MkdirTemp("", "flood")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "exchange")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./functions/exchange")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %w\n%s", err, out)
		}
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := &syncWriter{w: &bytes.Buffer{}}
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"PORT=" + addr[strings.LastIndexByte(addr, ':')+1:],
		"SUPABASE_JWT_SECRET=flood-bench-secret-that-is-at-least-32-bytes",
		"AUTH_ISSUER=https://idp.example.com/",
		"AUTH_PUBLIC_KEY=" + string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}
	if memLimit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+memLimit)
	}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	healthz := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if resp, err := healthz.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 10*time.Second {
			return fmt.Errorf("no answer on %s", addr)
		}
	}
	pid := cmd.Process.Pid
	rest := statusKB(pid, "VmRSS")

	// The flood: each connection sends its bytes, then waits for the
	// server to answer or close, or for the hold to end.
	var answered431, closedEarly, stillOpen atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	head := "POST /functions/v1/exchange HTTP/1.1\r\nHost: x\r\nX-Pad: "
	for range sockets {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				closedEarly.Add(1)
				return
			}
			defer c.Close()
			go func() { <-stop; c.Close() }()
			_, _ = io.WriteString(c, head+strings.Repeat("a", max(0, size-len(head))))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			switch {
			case err == nil && resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge:
				answered431.Add(1)
			case err == nil:
				closedEarly.Add(1)
			default:
				select {
				case <-stop:
					stillOpen.Add(1)
				default:
					closedEarly.Add(1)
				}
			}
		})
	}
	var ok, slow, failed int
	var worst time.Duration
	for deadline := time.Now().Add(hold); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		t0 := time.Now()
		resp, err := healthz.Get("http://" + addr + "/healthz")
		d := time.Since(t0)
		worst = max(worst, d)
		switch {
		case err != nil:
			failed++
		case d > 500*time.Millisecond:
			resp.Body.Close()
			slow++
		default:
			resp.Body.Close()
			ok++
		}
	}
	peak := statusKB(pid, "VmHWM")
	close(stop)
	wg.Wait()

	fmt.Printf("binary %s, GOMEMLIMIT %q\n", bin, memLimit)
	fmt.Printf("flood: %d sockets x %d header bytes, held %v\n", sockets, size, hold)
	fmt.Printf("RSS at rest %d kB; peak RSS (VmHWM) during the flood %d kB\n", rest, peak)
	fmt.Printf("flood sockets: %d answered 431, %d still waiting at the end, %d closed otherwise\n", answered431.Load(), stillOpen.Load(), closedEarly.Load())
	fmt.Printf("/healthz during the flood: %d within 500 ms, %d slower, %d failed; slowest %v\n", ok, slow, failed, worst.Round(time.Millisecond))
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"memory limit"`) {
			fmt.Println("binary logged:", line)
		}
	}
	return nil
}

// statusKB reads a "Vm…:  123 kB" field of /proc/<pid>/status; -1 if absent.
func statusKB(pid int, field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return -1
}

// syncWriter holds the child's stderr, written by exec's copier.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
