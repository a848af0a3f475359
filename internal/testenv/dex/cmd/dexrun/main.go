package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"supabridge/internal/testenv/dex"
)

// info is the line dexrun prints once Dex is up.
type info struct {
	Issuer       string `json:"issuer"`
	DiscoveryURL string `json:"discovery_url"`
	TokenURL     string `json:"token_url"`
	JWKSURL      string `json:"jwks_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Users        []user `json:"users"`
}

type user struct {
	Email             string   `json:"email"`
	Password          string   `json:"password"`
	UserID            string   `json:"user_id"`
	Name              string   `json:"name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Groups            []string `json:"groups,omitempty"`
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dexrun:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dexrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ttl := fs.Duration("id-token-ttl", dex.DefaultIDTokenTTL, "how long ID and access tokens are valid")
	noRotation := fs.Bool("no-rotation", false, "keep refresh tokens across refreshes instead of rotating them")
	reuse := fs.Duration("reuse-interval", 0, "how long a rotated-away refresh token is still accepted")
	clientID := fs.String("client-id", dex.DefaultClientID, "the static client's id")
	redirectURIs := fs.String("redirect-uris", "", "comma list of the static client's redirect URIs (default "+dex.DefaultRedirectURI+"), for an authorization-code sign-in")
	verbose := fs.Bool("v", false, "copy Dex's log to stderr")
	watchStdin := fs.Bool("stdin", true, "stop when standard input reaches end of file (false: only on SIGINT/SIGTERM)")
	startTimeout := fs.Duration("start-timeout", 15*time.Minute, "bound on building (first time) and starting Dex")
	if err := fs.Parse(args); err != nil {
		return err
	}

	opts := dex.Options{
		Users:                []dex.User{dex.DefaultUser(), dex.PlainUser()},
		ClientID:             *clientID,
		IDTokenTTL:           *ttl,
		DisableRotation:      *noRotation,
		RefreshReuseInterval: *reuse,
	}
	if *redirectURIs != "" {
		opts.RedirectURIs = strings.Split(*redirectURIs, ",")
	}
	if *verbose {
		opts.LogOutput = stderr
	}
	// Signals stop dexrun at any point, the build and start included.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, *startTimeout)
	s, err := dex.Launch(startCtx, opts)
	cancel()
	if err != nil {
		return err
	}
	defer s.Stop()

	out := info{
		Issuer: s.Issuer, DiscoveryURL: s.DiscoveryURL, TokenURL: s.TokenURL, JWKSURL: s.JWKSURL,
		ClientID: s.ClientID, ClientSecret: s.ClientSecret,
	}
	for _, u := range s.Users {
		out.Users = append(out.Users, user{
			Email: u.Email, Password: u.Password, UserID: u.UserID,
			Name: u.Username, PreferredUsername: u.PreferredUsername, Groups: u.Groups,
		})
	}
	line, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return fmt.Errorf("write: %w", err)
	}

	eof := make(chan struct{})
	if *watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			close(eof)
		}()
	}
	select {
	case <-eof:
	case <-ctx.Done():
	case <-s.Exited():
		if !*verbose {
			fmt.Fprint(stderr, s.Log())
		}
		return fmt.Errorf("dex exited by itself: %w", s.Err())
	}
	return nil
}
