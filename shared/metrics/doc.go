// Package metrics counts what an operator of a cluster watches, in the
// Prometheus text format, through the Prometheus Go client: requests and
// their latency by function and outcome, tokens minted or refused by
// provider, refusal reasons, and calls to the providers (discovery, JWKS,
// token endpoint) with their failures.
//
// Every label takes its value from a small fixed set (function names,
// configured provider names, the contract's error codes, fixed reason
// identifiers): nothing a client sends becomes a label, so a client cannot
// grow the series without bound. A nil *Metrics records nothing; that is
// how metrics are off (the default under Lambda, where no one scrapes).
// Each Metrics has its own registry: there is no global state.
package metrics
