package faults_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"supabridge/internal/testkit"
	"supabridge/internal/testprovider"
	"supabridge/shared/exchange"
	"supabridge/shared/function"
	"supabridge/shared/metrics"
	"supabridge/shared/platform"
)

// TestMetricsThroughTheExchange runs the real exchange with metrics on and
// scrapes the metrics port as Prometheus would: the minted token counted by
// provider, the refusals by reason, the request latencies by outcome, and
// the JWKS calls by result; and no token or claim value in any series.
func TestMetricsThroughTheExchange(t *testing.T) {
	k := testprovider.NewKey(t, "k1", "RS256")
	p := testprovider.New(t, "/application/o/app/", k)
	m := metrics.New("exchange")
	h, _ := testkit.Handler(t, "exchange", exchange.New, withSecret(map[string]string{
		"AUTH_ISSUER": p.Issuer, "AUTH_JWKS_URL": p.JWKSURL(), "AUTH_AUDIENCE": "app",
	}), function.Deps{Metrics: m})

	now := time.Now()
	claims := func(exp time.Time) map[string]any {
		c := p.Claims("alice-metrics-subject")
		c["aud"], c["exp"] = "app", exp.Unix()
		return c
	}
	good := k.Sign(t, claims(now.Add(time.Hour)), nil)
	expired := k.Sign(t, claims(now.Add(-time.Hour)), nil)
	unknown := testprovider.NewKey(t, "k-unknown", "RS256").Sign(t, claims(now.Add(time.Hour)), nil)
	for _, tc := range []struct {
		tok  string
		want int
	}{{good, 200}, {good, 200}, {expired, 401}, {unknown, 401}} {
		r := httptest.NewRequest(http.MethodPost, "/functions/v1/exchange", nil)
		r.Header.Set("Authorization", "Bearer "+tc.tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Fatalf("got %d, want %d: %s", w.Code, tc.want, w.Body)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- platform.ServeMetrics(ctx, m, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeMetrics: %v", err)
		}
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + metrics.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not the Prometheus text format: %v", err)
	}
	for _, s := range []string{good, expired, unknown, "alice-metrics-subject"} {
		if bytes.Contains(body, []byte(s)) {
			t.Fatalf("the metrics hold a token or a claim value")
		}
	}
	tests := []struct {
		family string
		labels map[string]string
		want   func(float64) bool
		what   string
	}{
		{"supabridge_tokens_total", map[string]string{"function": "exchange", "provider": "default", "outcome": "minted"}, eq(2), "2"},
		{"supabridge_tokens_total", map[string]string{"function": "exchange", "provider": "", "outcome": "invalid_token"}, eq(2), "2"},
		{"supabridge_refusals_total", map[string]string{"function": "exchange", "reason": "expired"}, eq(1), "1"},
		{"supabridge_refusals_total", map[string]string{"function": "exchange", "reason": "unknown_key"}, eq(1), "1"},
		{"supabridge_request_duration_seconds", map[string]string{"function": "exchange", "outcome": "ok"}, eq(2), "2 observations"},
		{"supabridge_request_duration_seconds", map[string]string{"function": "exchange", "outcome": "invalid_token"}, eq(2), "2 observations"},
		{"supabridge_provider_requests_total", map[string]string{"provider": "default", "kind": "jwks", "result": "ok"}, func(v float64) bool { return v >= 1 }, "at least 1"},
	}
	for _, tt := range tests {
		got, ok := series(fams, tt.family, tt.labels)
		if !ok || !tt.want(got) {
			t.Errorf("%s%v: got %v (present %v), want %s", tt.family, tt.labels, got, ok, tt.what)
		}
	}
}

func eq(n float64) func(float64) bool { return func(v float64) bool { return v == n } }

// series returns the value of the series of family whose labels are
// exactly labels: a counter's value or a histogram's sample count.
func series(fams map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	f, ok := fams[family]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		if m.Histogram != nil {
			return float64(m.GetHistogram().GetSampleCount()), true
		}
		return m.GetCounter().GetValue(), true
	}
	return 0, false
}
