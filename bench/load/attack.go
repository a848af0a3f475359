package main

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// tokenSource hands out Authorization headers round-robin; the set can be
// swapped during a run (key rotation).
type tokenSource struct {
	auth atomic.Pointer[[]string]
	next atomic.Uint64
}

func newTokenSource(tokens []string) *tokenSource {
	ts := &tokenSource{}
	ts.use(tokens)
	return ts
}

func (ts *tokenSource) use(tokens []string) {
	auth := make([]string, len(tokens))
	for i, t := range tokens {
		auth[i] = "Bearer " + t
	}
	ts.auth.Store(&auth)
}

func (ts *tokenSource) targeter(url string) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		auth := *ts.auth.Load()
		i := ts.next.Add(1)
		t.Method = http.MethodPost
		t.URL = url
		t.Body = nil
		t.Header = http.Header{"Authorization": {auth[i%uint64(len(auth))]}}
		return nil
	}
}

// run is one load run against one server.
type run struct {
	name     string
	rate     int // requests per second; 0 means as fast as workers go
	duration time.Duration
	workers  int
	// midway, when set, is called once at half the duration.
	midway func()
}

// outcome is what a run measured.
type outcome struct {
	run
	server              string
	requests, ok        int
	errors              map[string]int
	rps                 float64 // successful responses per second
	p50, p99, max       time.Duration
	peakRSSKB           int64
	peakIsPerRun        bool
	serverCPU, genCPU   time.Duration
	fetches             int64
	elapsed             time.Duration
	serverUtil, genUtil float64
}

func attack(s *server, ts *tokenSource, r run, jwks *jwksServer) (outcome, error) {
	opts := []func(*vegeta.Attacker){
		vegeta.Timeout(10 * time.Second),
		vegeta.KeepAlive(true),
		vegeta.HTTP2(false),
	}
	var pacer vegeta.Pacer
	if r.rate > 0 {
		pacer = vegeta.ConstantPacer{Freq: r.rate, Per: time.Second}
		opts = append(opts, vegeta.Workers(uint64(max(r.workers, 10))), vegeta.Connections(1000))
	} else {
		pacer = vegeta.ConstantPacer{} // no pacing: every worker back to back
		opts = append(opts, vegeta.Workers(uint64(r.workers)), vegeta.MaxWorkers(uint64(r.workers)), vegeta.Connections(r.workers))
	}
	atk := vegeta.NewAttacker(opts...)

	o := outcome{run: r, server: s.name, errors: map[string]int{}}
	o.peakIsPerRun = resetPeak(s.pid())
	fetches0 := jwks.fetches.Load()
	scpu0, err := cpuTime(s.pid())
	if err != nil {
		return o, err
	}
	gcpu0 := selfCPU()

	if r.midway != nil {
		t := time.AfterFunc(r.duration/2, r.midway)
		defer t.Stop()
	}
	var (
		m   vegeta.Metrics
		lat []time.Duration
	)
	begin := time.Now()
	for res := range atk.Attack(ts.targeter(s.url+"/functions/v1/exchange"), pacer, r.duration, r.name) {
		m.Add(res)
		lat = append(lat, res.Latency)
		o.requests++
		switch {
		case res.Error == "" && res.Code == http.StatusOK:
			o.ok++
		case res.Code != 0:
			o.errors[fmt.Sprintf("HTTP %d", res.Code)]++
		default:
			o.errors[res.Error]++
		}
	}
	m.Close()
	o.elapsed = time.Since(begin)

	o.fetches = jwks.fetches.Load() - fetches0
	scpu1, err := cpuTime(s.pid())
	if err != nil {
		return o, err
	}
	o.serverCPU, o.genCPU = scpu1-scpu0, selfCPU()-gcpu0
	if o.peakRSSKB, err = statusKB(s.pid(), "VmHWM"); err != nil {
		return o, err
	}
	if span := m.Duration + m.Wait; span > 0 {
		o.rps = float64(o.ok) / span.Seconds()
		o.serverUtil = o.serverCPU.Seconds() / span.Seconds()
		o.genUtil = o.genCPU.Seconds() / span.Seconds()
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		o.p50, o.p99, o.max = lat[quantile(n, 0.50)], lat[quantile(n, 0.99)], lat[n-1]
	}
	return o, nil
}

// quantile is the nearest-rank index of q in n sorted values.
func quantile(n int, q float64) int {
	i := int(q*float64(n)+0.999999) - 1
	return min(max(i, 0), n-1)
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (o outcome) errorSummary() string {
	if len(o.errors) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(o.errors))
	n := 0
	for k, v := range o.errors {
		keys = append(keys, k)
		n += v
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", o.errors[k], k)
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}

func (o outcome) print() {
	rate := "max"
	if o.rate > 0 {
		rate = fmt.Sprintf("%d/s", o.rate)
	}
	rss := "peak RSS"
	if !o.peakIsPerRun {
		rss = "peak RSS since start"
	}
	fmt.Printf("%-22s %-8s rate=%-7s %6d req  %8.0f ok/s  p50 %-9v p99 %-9v max %-10v errors %s\n",
		o.name, o.server, rate, o.requests, o.rps, round(o.p50), round(o.p99), round(o.max), o.errorSummary())
	fmt.Printf("%-22s %-8s %s %.1f MB  server CPU %.0f%%  generator CPU %.0f%%  JWKS fetches %d\n",
		"", "", rss, float64(o.peakRSSKB)/1024, 100*o.serverUtil, 100*o.genUtil, o.fetches)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
