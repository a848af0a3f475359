package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"syscall"

	"supabridge/shared/config"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, io IO) int
}

// IO is what a subcommand reads and writes.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Env    config.Env
}

func commands() []command {
	return []command{
		{"serve", "run every function locally at /functions/v1/<name> (the runtime behind make run)", runServe},
		{"doctor", "check a deployment's configuration, providers and Supabase, one line per check", doctorCmd{}.run},
		{"keys", "print the anon and service_role keys for a JWT secret; keys signing-key: the bridge's own key", keysCmd{}.run},
		{"secret", "print a new random Supabase JWT secret", secretCmd{}.run},
		{"decode", "print a token's header and claims, unverified", decodeCmd{}.run},
		{"verify", "verify a token against the Supabase secret or the configured providers", verifyCmd{}.run},
		{"sub", "print the sub the exchange mints for provider subjects, and SQL computing the same", subCmd{}.run},
	}
}

// Main runs the subcommand named by args[0] and returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, env config.Env) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cio := IO{Stdin: stdin, Stdout: stdout, Stderr: stderr, Env: env}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], cio)
		}
	}
	if commandWord.MatchString(args[0]) {
		fmt.Fprintf(stderr, "supabridge: unknown command %q\n", args[0])
	} else {
		// Not a word: perhaps a token or a secret, pasted in the wrong place.
		fmt.Fprintln(stderr, "supabridge: unknown command (not repeated here, in case it is a secret)")
	}
	usage(stderr)
	return 2
}

// commandWord is what a mistyped command looks like, safe to repeat.
var commandWord = regexp.MustCompile(`^[a-z][a-z-]{0,15}$`)

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: supabridge <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun supabridge <command> --help for its flags.")
}
