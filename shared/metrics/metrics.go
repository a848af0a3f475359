package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the platform serves the metrics.
const Path = "/metrics"

// Outcome of a token request that minted a token.
const OutcomeMinted = "minted"

// Metrics holds one function's collectors (one process serves one
// function). Its methods are safe for concurrent use and do nothing on a
// nil *Metrics.
type Metrics struct {
	function string
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	refusals *prometheus.CounterVec
	fetches  *prometheus.CounterVec
}

// New returns the Metrics of function with their own registry, holding
// the Go runtime and process collectors beside supabridge's own.
func New(function string) *Metrics {
	m := &Metrics{
		function: function,
		reg:      prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "supabridge_request_duration_seconds",
			Help:    "Time to answer a request, by function and outcome (ok, or the contract's error code).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"function", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "supabridge_tokens_total",
			Help: "Exchanges and refreshes by function, provider (empty when none was identified) and outcome (minted, or the contract's error code).",
		}, []string{"function", "provider", "outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "supabridge_refusals_total",
			Help: "Refused or failed token requests by function and reason (a fixed identifier, such as expired or unknown_key).",
		}, []string{"function", "reason"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "supabridge_provider_requests_total",
			Help: "Calls to a provider by provider, kind (discovery, jwks, token) and result (ok, http_4xx, http_5xx, error).",
		}, []string{"provider", "kind", "result"}),
	}
	m.reg.MustRegister(m.duration, m.tokens, m.refusals, m.fetches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request records one answered request: outcome is "ok", or the
// contract's error code.
func (m *Metrics) Request(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(m.function, outcome).Observe(d.Seconds())
}

// Token records the outcome of one exchange or refresh. provider is a
// configured provider's name, or "" when the request never reached one.
func (m *Metrics) Token(provider, outcome string) {
	if m == nil {
		return
	}
	m.tokens.WithLabelValues(m.function, provider, outcome).Inc()
}

// Refusal records the reason of one refused or failed token request.
func (m *Metrics) Refusal(reason string) {
	if m == nil {
		return
	}
	m.refusals.WithLabelValues(m.function, reason).Inc()
}

// ProviderCall returns the observer of one provider's calls of one kind
// (discovery, jwks, token), in the shape of idp.HTTPOptions.Observe: the
// response status (0 when there was none) and the transport error. On a
// nil *Metrics it returns nil.
func (m *Metrics) ProviderCall(provider, kind string) func(status int, err error) {
	if m == nil {
		return nil
	}
	c := func(result string) prometheus.Counter { return m.fetches.WithLabelValues(provider, kind, result) }
	ok, c4, c5, fail := c("ok"), c("http_4xx"), c("http_5xx"), c("error")
	return func(status int, err error) {
		switch {
		case err != nil || status == 0:
			fail.Inc()
		case status >= 500:
			c5.Inc()
		case status >= 400:
			c4.Inc()
		default:
			ok.Inc()
		}
	}
}
