package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"supabridge/dev/devserver"
	"supabridge/shared/exchange"
	"supabridge/shared/refresh"
)

func runServe(ctx context.Context, args []string, cio IO) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(cio.Stderr)
	addr := fs.String("addr", "127.0.0.1:8787", "address to listen on")
	quiet := fs.Bool("quiet", false, "no request log")
	fs.Usage = func() {
		fmt.Fprintln(cio.Stderr, "usage: supabridge serve [--addr host:port] [--quiet]\n\nServes every function at http://<addr>/functions/v1/<name>, configured from the\nenvironment like the binaries. With no provider configured it starts a development\nissuer at /dev/issuer; with no signing key (SUPABRIDGE_SIGNING_KEY, SUPABASE_JWT_KEYS,\nSUPABASE_JWT_SECRET or JWT_SECRET) it makes a throwaway secret.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(cio.Stderr, "supabridge serve: %v\n", err)
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
		Out:       cio.Stdout,
		Logger:    logger,
	})
	if err != nil {
		fmt.Fprintf(cio.Stderr, "supabridge serve: %v\n", err)
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
