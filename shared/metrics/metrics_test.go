package metrics_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"supabridge/shared/metrics"
)

// scrape reads m's handler as Prometheus would and returns the families.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, metrics.Path, nil))
	if w.Code != http.StatusOK {
		t.Fatalf("scrape: got %d", w.Code)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("scrape: not the Prometheus text format: %v", err)
	}
	return fams
}

// value returns the value of the series of name whose labels are labels.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestMetrics(t *testing.T) {
	m := metrics.New("exchange")
	m.Request("ok", 3*time.Millisecond)
	m.Request("ok", 5*time.Millisecond)
	m.Request("invalid_token", time.Millisecond)
	m.Token("authentik", metrics.OutcomeMinted)
	m.Token("", "invalid_token")
	m.Refusal("expired")
	obs := m.ProviderCall("authentik", "jwks")
	obs(200, nil)
	obs(503, nil)
	obs(404, nil)
	obs(0, errors.New("dial"))
	obs(200, nil)

	fams := scrape(t, m)
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"supabridge_request_duration_seconds", map[string]string{"function": "exchange", "outcome": "ok"}, 2},
		{"supabridge_request_duration_seconds", map[string]string{"function": "exchange", "outcome": "invalid_token"}, 1},
		{"supabridge_tokens_total", map[string]string{"function": "exchange", "provider": "authentik", "outcome": "minted"}, 1},
		{"supabridge_tokens_total", map[string]string{"function": "exchange", "provider": "", "outcome": "invalid_token"}, 1},
		{"supabridge_refusals_total", map[string]string{"function": "exchange", "reason": "expired"}, 1},
		{"supabridge_provider_requests_total", map[string]string{"provider": "authentik", "kind": "jwks", "result": "ok"}, 2},
		{"supabridge_provider_requests_total", map[string]string{"provider": "authentik", "kind": "jwks", "result": "http_5xx"}, 1},
		{"supabridge_provider_requests_total", map[string]string{"provider": "authentik", "kind": "jwks", "result": "http_4xx"}, 1},
		{"supabridge_provider_requests_total", map[string]string{"provider": "authentik", "kind": "jwks", "result": "error"}, 1},
	}
	for _, tt := range tests {
		if got := value(t, fams, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v: got %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no go_goroutines: the runtime collector is missing")
	}
}

// TestNilRecordsNothing: a nil *Metrics is how metrics are off; it must
// be usable everywhere without a check.
func TestNilRecordsNothing(t *testing.T) {
	var m *metrics.Metrics
	m.Request("ok", time.Millisecond)
	m.Token("p", metrics.OutcomeMinted)
	m.Refusal("expired")
	if obs := m.ProviderCall("p", "jwks"); obs != nil {
		t.Fatal("got an observer from a nil Metrics, want nil")
	}
}

// TestSeparateRegistries: two Metrics share nothing (no global registry).
func TestSeparateRegistries(t *testing.T) {
	a, b := metrics.New("exchange"), metrics.New("exchange")
	a.Refusal("expired")
	if _, ok := scrape(t, b)["supabridge_refusals_total"]; ok {
		t.Fatal("b shows a's refusal")
	}
}
