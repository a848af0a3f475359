package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// kind is one sort of request to the exchange function and the answer the
// contract gives it.
type kind struct {
	name       string
	weight     int               // its share of the soak's mix
	method     string            // default POST
	path       string            // default /functions/v1/exchange
	header     map[string]string // sent as they are
	tokens     []string          // request n sends tokens[n%len(tokens)] ...
	form       bool              // ... in an RFC 8693 form, else as a bearer token
	body       string            // a fixed body, form-encoded
	status     int               // what the contract answers
	unknownKID bool              // a 502 is right while the JWKS is (or was just) down
}

const (
	grantTE = "urn:ietf:params:oauth:grant-type:token-exchange"
	typeJWT = "urn:ietf:params:oauth:token-type:jwt"
)

// target is request n of k against the server at base.
func (k *kind) target(base string, n int) vegeta.Target {
	t := vegeta.Target{Method: cmp.Or(k.method, http.MethodPost), URL: base + cmp.Or(k.path, "/functions/v1/exchange"), Header: http.Header{}}
	for name, v := range k.header {
		t.Header.Set(name, v)
	}
	body := k.body
	if len(k.tokens) > 0 {
		tok := k.tokens[n%len(k.tokens)]
		if k.form {
			body = url.Values{"grant_type": {grantTE}, "subject_token": {tok}, "subject_token_type": {typeJWT}}.Encode()
		} else {
			t.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	if body != "" {
		t.Body = []byte(body)
		t.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return t
}

// subject is the sub the token minted for request n must carry ("" when
// the answer carries no token).
func (k *kind) subject(n int) string {
	if k.status != http.StatusOK || len(k.tokens) == 0 {
		return ""
	}
	return subject(n % len(k.tokens))
}

// cycle is a schedule: request n is of kind ks[n%len(ks)].
func cycle(ks ...*kind) func(int) *kind { return func(n int) *kind { return ks[n%len(ks)] } }

// run is one load run against one server.
type run struct {
	name     string
	rate     int // requests per second, open loop; 0 means as fast as workers go
	duration time.Duration
	hits     int // with rate 0 and hits > 0: stop after hits requests
	workers  int
	// dialTimeout bounds each connect (0: only the 10 s request timeout).
	dialTimeout time.Duration
	// maxInFlight, when set, is the most requests in flight: a request that
	// finds that many already waiting is counted in outcome.overLimit.
	maxInFlight int
	keepPeak    bool // do not reset the server's peak RSS first
	pick        func(n int) *kind
	// check judges the answer to request n, sent at from the start of the
	// run: "" when it is right, else a short label for the error tally.
	// Unset, a 200 is right.
	check  func(n int, res *vegeta.Result, at time.Duration) string
	events []event
}

// event is done once, at from the start of a run.
type event struct {
	at time.Duration
	do func()
}

// outcome is what a run measured.
type outcome struct {
	run
	server              string
	requests, ok        int
	errors              map[string]int
	rps                 float64         // right answers per second
	lat                 []time.Duration // sorted
	p50, p99, max       time.Duration
	late                int // sent more than 20 ms after their time
	maxLag              time.Duration
	overLimit           int
	peakRSSKB           int64
	peakIsPerRun        bool
	serverCPU, genCPU   time.Duration
	fetches             int64
	elapsed             time.Duration
	serverUtil, genUtil float64
}

// hitsPacer stops after its number of requests, sent back to back.
type hitsPacer uint64

func (p hitsPacer) Pace(_ time.Duration, hits uint64) (time.Duration, bool) {
	return 0, hits >= uint64(p)
}

func (hitsPacer) Rate(time.Duration) float64 { return 0 }

// attack drives s with r, measuring the server's peak RSS and CPU through
// /proc and the JWKS fetches it causes.
func attack(ctx context.Context, s *server, r run, jwks *jwksServer) (outcome, error) {
	tr := &http.Transport{
		DialContext:     (&net.Dialer{Timeout: r.dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		IdleConnTimeout: 30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	opts := []func(*vegeta.Attacker){vegeta.Client(&http.Client{Timeout: 10 * time.Second, Transport: tr}), vegeta.MaxBody(1 << 20)}
	var pacer vegeta.Pacer = vegeta.ConstantPacer{} // no pacing: every worker back to back
	if r.hits > 0 {
		pacer = hitsPacer(r.hits)
	}
	if r.rate > 0 {
		pacer = vegeta.ConstantPacer{Freq: r.rate, Per: time.Second}
		tr.MaxIdleConnsPerHost = 1000
		opts = append(opts, vegeta.Workers(uint64(max(r.workers, 10))))
		if r.maxInFlight > 0 {
			opts = append(opts, vegeta.MaxWorkers(uint64(r.maxInFlight+1)))
		}
	} else {
		tr.MaxIdleConnsPerHost = r.workers
		opts = append(opts, vegeta.Workers(uint64(r.workers)), vegeta.MaxWorkers(uint64(r.workers)))
	}
	atk := vegeta.NewAttacker(opts...)
	defer context.AfterFunc(ctx, func() { atk.Stop() })()

	o := outcome{run: r, server: s.name, errors: map[string]int{}}
	o.peakIsPerRun = !r.keepPeak && resetPeak(s.pid)
	fetches0 := jwks.fetches.Load()
	scpu0, err := cpuTime(s.pid)
	if err != nil {
		return o, err
	}
	gcpu0 := selfCPU()

	for _, e := range r.events {
		t := time.AfterFunc(e.at, e.do)
		defer t.Stop()
	}
	check := r.check
	if check == nil {
		check = func(_ int, res *vegeta.Result, _ time.Duration) string {
			switch {
			case res.Error == "" && res.Code == http.StatusOK:
				return ""
			case res.Code != 0:
				return fmt.Sprintf("HTTP %d", res.Code)
			}
			return res.Error
		}
	}
	// The URL's fragment carries n back in the result: it names the request
	// without reaching the server (a request target has no fragment, RFC
	// 9112 3.2; net/http sends URL.RequestURI()).
	var next, inFlight, overLimit atomic.Int64
	targeter := func(t *vegeta.Target) error {
		n := int(next.Add(1) - 1)
		if inFlight.Add(1) > int64(r.maxInFlight) && r.maxInFlight > 0 {
			overLimit.Add(1)
		}
		*t = r.pick(n).target(s.url, n)
		t.URL += "#" + strconv.Itoa(n)
		return nil
	}
	var m vegeta.Metrics
	begin := time.Now()
	for res := range atk.Attack(targeter, pacer, r.duration, r.name) {
		inFlight.Add(-1)
		var frag string
		res.URL, frag, _ = strings.Cut(res.URL, "#")
		res.Error = strings.Replace(res.Error, "#"+frag, "", 1) // so that errors tally by cause
		n, _ := strconv.Atoi(frag)
		m.Add(res)
		o.lat = append(o.lat, res.Latency)
		o.requests++
		at := res.Timestamp.Sub(begin)
		if r.rate > 0 {
			if lag := at - time.Duration(res.Seq+1)*time.Second/time.Duration(r.rate); lag > 20*time.Millisecond { // vegeta sends request i at (i+1)/rate
				o.late++
				o.maxLag = max(o.maxLag, lag)
			}
		}
		if label := check(n, res, at); label == "" {
			o.ok++
		} else {
			o.errors[label]++
		}
	}
	m.Close()
	o.elapsed = time.Since(begin)
	o.overLimit = int(overLimit.Load())

	o.fetches = jwks.fetches.Load() - fetches0
	scpu1, err := cpuTime(s.pid)
	if err != nil {
		return o, err
	}
	o.serverCPU, o.genCPU = scpu1-scpu0, selfCPU()-gcpu0
	peak, err := sampleProc(s.pid, "", 0)
	if err != nil {
		return o, err
	}
	o.peakRSSKB = peak.hwmKiB
	if span := m.Duration + m.Wait; span > 0 {
		o.rps = float64(o.ok) / span.Seconds()
		o.serverUtil = o.serverCPU.Seconds() / span.Seconds()
		o.genUtil = o.genCPU.Seconds() / span.Seconds()
	}
	slices.Sort(o.lat)
	o.p50, o.p99, o.max = quantile(o.lat, 0.50), quantile(o.lat, 0.99), quantile(o.lat, 1)
	return o, nil
}

// quantile is the nearest-rank q-quantile of sorted values.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
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
	n := 0
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(o.errors)) {
		parts = append(parts, fmt.Sprintf("%d %s", o.errors[k], k))
		n += o.errors[k]
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
