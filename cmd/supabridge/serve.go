package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"supabridge/dev/devserver"
	"supabridge/shared/exchange"
	"supabridge/shared/refresh"
)

// defaultServeAddr is serve's address without --addr; `make run` passes
// 127.0.0.1:$(PORT), PORT defaulting to the same 8787.
const defaultServeAddr = "127.0.0.1:8787"

func runServe(ctx context.Context, args []string, cio IO) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(cio.Stderr)
	addr := fs.String("addr", defaultServeAddr, "address to listen on")
	devIssuer := fs.Bool("dev-issuer", false, "mount the development issuer at /dev/issuer and use it as the provider (loopback only; refused with a real Supabase secret)")
	quiet := fs.Bool("quiet", false, "no request log")
	fs.Usage = func() {
		fmt.Fprintln(cio.Stderr, "usage: supabridge serve [--addr host:port] [--dev-issuer] [--quiet]\n\n"+
			"Serves every function at http://<addr>/functions/v1/<name>, configured from the\n"+
			"environment like the binaries; with no signing key (SUPABRIDGE_SIGNING_KEY,\n"+
			"SUPABASE_JWT_KEYS, SUPABASE_JWT_SECRET or JWT_SECRET) it makes a throwaway secret.\n"+
			"--dev-issuer starts a development issuer at /dev/issuer that signs a token for any\n"+
			"sub (with rotating refresh tokens) and points exchange and refresh at it; it is\n"+
			"refused beside a provider, with a Supabase secret other than the self-hosting\n"+
			"example's, and on an address that is not loopback. `make run` uses it.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(cio.Stderr, "supabridge serve: unexpected arguments; configuration comes from the environment, never from the command line")
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(cio.Stderr, "supabridge serve: %v\n", err)
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Fprintf(cio.Stderr, "supabridge serve: %s is taken, perhaps by another `make run`; stop that one, or pick a free port: PORT=8788 make run (or supabridge serve --addr 127.0.0.1:8788)\n", *addr)
		}
		return 1
	}
	logger := slog.New(slog.NewJSONHandler(cio.Stderr, nil))
	if *quiet {
		logger = slog.New(slog.DiscardHandler)
	}
	err = devserver.Run(ctx, devserver.Options{
		Listener:  ln,
		Env:       cio.Env,
		Functions: functions(),
		DevIssuer: *devIssuer,
		Out:       cio.Stdout,
		Logger:    logger,
	})
	if err != nil {
		_ = ln.Close()
		fmt.Fprintf(cio.Stderr, "supabridge serve: %v\n", err)
		if errors.Is(err, devserver.ErrNoProvider) {
			fmt.Fprintln(cio.Stderr, "supabridge serve: for local development: make run, or supabridge serve --dev-issuer")
		}
		return 1
	}
	return 0
}

func functions() []devserver.Function {
	return []devserver.Function{
		{Name: "exchange", Build: exchange.New},
		{Name: "refresh", Build: refresh.New},
	}
}
