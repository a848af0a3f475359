package testkit

import (
	"log/slog"
	"strings"
	"testing"

	"supabridge/shared/config"
	"supabridge/shared/edge"
	"supabridge/shared/function"
)

// Handler builds the function name from env the way the platform does
// (config.Load, the Builder, the edge), with deps as given and a
// debug-level JSON logger writing to the returned buffer (it replaces
// deps.Logger). It fails t on a configuration or build error.
func Handler(t testing.TB, name string, build function.Builder, env map[string]string, deps function.Deps) (*edge.Edge, *Buffer) {
	t.Helper()
	cfg, err := config.Load(config.MapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	logs := &Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deps.Logger = log
	h, err := build(t.Context(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return edge.Wrap(h, edge.Options{Function: name, Logger: log, Metrics: deps.Metrics}), logs
}

// NoTokens fails t if any of toks, or its signature, is in the buffer.
func (b *Buffer) NoTokens(t testing.TB, toks ...string) {
	t.Helper()
	s := b.String()
	for _, tok := range toks {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(s, tok) || (len(sig) >= 16 && strings.Contains(s, sig)) {
			t.Fatal("the log holds a token")
		}
	}
}
