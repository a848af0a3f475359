package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"supabridge/shared/config"
	"supabridge/shared/edge"
	"supabridge/shared/function"
	"supabridge/shared/metrics"
)

// Main is the whole body of a function binary's main. It never returns.
func Main(name string, build function.Builder) {
	os.Exit(run(name, build, os.LookupEnv, os.Stderr))
}

// NewHandler builds exactly what Main serves: the function's handler behind
// the edge, configured from env.
func NewHandler(ctx context.Context, name string, build function.Builder, env config.Env, logger *slog.Logger) (*edge.Edge, error) {
	cfg, err := config.Load(env)
	if err != nil {
		return nil, err
	}
	return newEdge(ctx, name, build, cfg, logger, nil)
}

func newEdge(ctx context.Context, name string, build function.Builder, cfg *config.Config, logger *slog.Logger, m *metrics.Metrics) (*edge.Edge, error) {
	jwks, err := cfg.Supabase.JWKS()
	if err != nil {
		return nil, err
	}
	h, err := build(ctx, cfg, function.Deps{Logger: logger.With("function", name), Metrics: m})
	if err != nil {
		return nil, err
	}
	logSigning(logger, name, cfg)
	return edge.Wrap(h, edge.Options{Function: name, CORSOrigins: cfg.CORSOrigins, Logger: logger, JWKS: jwks, Metrics: m}), nil
}

// logSigning writes the start line that names the key in force: its
// source variable, alg and kid, the signing variables set but not used,
// and how many public keys /.well-known/jwks.json serves. No key material.
func logSigning(logger *slog.Logger, name string, cfg *config.Config) {
	s := cfg.Supabase.Signer
	attrs := []slog.Attr{
		slog.String("function", name),
		slog.String("source", cfg.Signing.Source),
		slog.String("alg", s.Algorithm()),
		slog.String("kid", s.KeyID()),
		slog.Int("published_keys", len(cfg.Supabase.PublicKeys())),
	}
	if len(cfg.Signing.Ignored) > 0 {
		attrs = append(attrs, slog.Any("ignored", cfg.Signing.Ignored))
	}
	logger.LogAttrs(context.Background(), slog.LevelInfo, "signing key", attrs...)
}

func run(name string, build function.Builder, env config.Env, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	api, lambdaMode := env("AWS_LAMBDA_RUNTIME_API")
	lambdaMode = lambdaMode && api != ""

	cfg, err := config.Load(env)
	if err != nil {
		return startFailed(name, api, lambdaMode, err, stderr)
	}
	logOut, closeLog := logWriter(lambdaMode, stderr)
	defer closeLog()
	logger := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel}))
	var m *metrics.Metrics // off under Lambda: no one scrapes a frozen process
	if !lambdaMode && cfg.MetricsPort != 0 {
		m = metrics.New(name)
	}
	h, err := newEdge(ctx, name, build, cfg, logger, m)
	if err != nil {
		return startFailed(name, api, lambdaMode, err, logOut)
	}
	logger.Info("memory limit", "function", name, "gomemlimit", memoryLimit())
	if lambdaMode {
		// lambda.Start never returns; it exits the process on a Runtime API error.
		lambda.StartWithOptions(NewLambdaHandler(h, logger.With("function", name)), lambda.WithContext(ctx))
		return 1
	}
	if m != nil {
		mln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.MetricsPort))
		if err != nil {
			return startFailed(name, api, false, fmt.Errorf("%s: %w", config.EnvMetricsPort, err), stderr)
		}
		go func() {
			if err := ServeMetrics(ctx, m, mln); err != nil {
				logger.Error("metrics server stopped", "function", name, "error", err.Error())
			}
		}()
	}
	if err := ServeHTTP(ctx, h, ":"+strconv.Itoa(cfg.Port), logger.With("function", name)); err != nil {
		logger.Error("server stopped", "error", err.Error())
		return 1
	}
	return 0
}

// logWriter is where the log goes: stderr itself under Lambda, stderr
// behind a logBuffer in HTTP mode. close writes what waits.
func logWriter(lambdaMode bool, stderr io.Writer) (w io.Writer, close func()) {
	if lambdaMode {
		return stderr, func() {}
	}
	b := newLogBuffer(stderr)
	return b, func() { _ = b.Close() }
}

// memoryLimit describes the Go runtime's soft memory limit, which it reads
// from GOMEMLIMIT at start: "off" when none is set.
func memoryLimit() string {
	l := debug.SetMemoryLimit(-1) // a negative value reads without changing
	if l == math.MaxInt64 {
		return "off"
	}
	return fmt.Sprintf("%d bytes (%.1f MiB)", l, float64(l)/(1<<20))
}

// startFailed prints the one-line reason and, under Lambda, reports it as an
// init error.
func startFailed(name, api string, lambdaMode bool, err error, stderr io.Writer) int {
	line := fmt.Sprintf("supabridge %s: cannot start: %v", name, err)
	fmt.Fprintln(stderr, line)
	if lambdaMode {
		if rerr := reportInitError(api, line); rerr != nil {
			fmt.Fprintf(stderr, "supabridge %s: could not report the init error: %v\n", name, rerr)
		}
	}
	return 1
}

// Server limits outside Lambda. A request's work is bounded by the
// provider timeout (5 s by default); these bound what a client can hold.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 60 * time.Second
	ShutdownTimeout   = 20 * time.Second
	// MaxHeaderBytes is what a request's header block needs: a bearer
	// token of up to 16 KiB (verify.MaxTokenLen, longer ones are refused
	// anyway) and 8 KiB for everything else a browser sends (apikey,
	// x-client-info, origin, user agent, cookies). net/http reads 4 KiB
	// past it before answering 431, so a connection holds at most 28 KiB
	// of headers.
	MaxHeaderBytes = 24 << 10
	// MaxConns caps open connections; more wait in the accept queue. Each
	// holds at most about 60 KiB (headers, buffers, a goroutine), so the
	// cap bounds that part of the heap near 15 MiB, inside the shipped
	// manifests' 64 MiB with the process's 15–20 MiB at rest. Knative's
	// queue-proxy and of-watchdog open far fewer.
	MaxConns = 256
)

// ServeHTTP serves h on addr until ctx ends, then drains in-flight requests
// for up to ShutdownTimeout.
func ServeHTTP(ctx context.Context, h http.Handler, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return Serve(ctx, h, ln, logger)
}

// Serve is ServeHTTP on an existing listener. It holds at most MaxConns
// connections open at once.
func Serve(ctx context.Context, h http.Handler, ln net.Listener, logger *slog.Logger) error {
	return serve(ctx, h, ln, logger, MaxConns)
}

func serve(ctx context.Context, h http.Handler, ln net.Listener, logger *slog.Logger, maxConns int) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	limited := newConnLimit(ln, maxConns)
	ln = limited
	srv := &http.Server{
		ConnState:         limited.connState,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeMetrics serves m at metrics.Path on ln until ctx ends: a listener of
// its own, apart from the function's port, so that a gateway routing the
// function's paths never exposes it.
func ServeMetrics(ctx context.Context, m *metrics.Metrics, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET "+metrics.Path, m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
