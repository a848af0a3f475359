// Command floorserver serves one of the two floors of package floor over
// HTTP on 127.0.0.1. It exists only for bench/load, which compares the
// exchange binary with them. It is NOT a product binary.
//
//   - -mode floor (the default): the bare-crypto floor (floor.Handler), an
//     RS256 signature check and an HMAC, nothing else;
//   - -mode std: the standard-library exchange (floor.StdHandler), the
//     contract's header and claim checks and its minted claims with
//     encoding/json, crypto and net/http only.
//
// Environment: FLOOR_PUBLIC_KEY (PEM RSA public key), FLOOR_SECRET (HS256
// key), PORT (default 8090); with -mode std also FLOOR_ISSUER and
// FLOOR_AUDIENCE, the iss and an aud the tokens must carry. FLOOR_MODE is
// the default of -mode.
package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"supabridge/bench/floor"
)

func main() {
	mode := flag.String("mode", os.Getenv("FLOOR_MODE"), "floor (bare crypto; the default) or std (the standard-library exchange)")
	flag.Parse()
	if err := run(*mode); err != nil {
		fmt.Fprintln(os.Stderr, "floorserver:", err)
		os.Exit(1)
	}
}

func run(mode string) error {
	b, _ := pem.Decode([]byte(os.Getenv("FLOOR_PUBLIC_KEY")))
	if b == nil {
		return errors.New("FLOOR_PUBLIC_KEY: not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return fmt.Errorf("FLOOR_PUBLIC_KEY: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return errors.New("FLOOR_PUBLIC_KEY: not an RSA key")
	}
	secret := os.Getenv("FLOOR_SECRET")
	if secret == "" {
		return errors.New("FLOOR_SECRET: required")
	}
	var h http.Handler
	switch mode {
	case "", "floor":
		h = floor.Handler(floor.New(pub, []byte(secret)))
	case "std":
		iss, aud := os.Getenv("FLOOR_ISSUER"), os.Getenv("FLOOR_AUDIENCE")
		if iss == "" || aud == "" {
			return errors.New("-mode std: FLOOR_ISSUER and FLOOR_AUDIENCE are required")
		}
		h = floor.StdHandler(floor.NewStd(pub, []byte(secret), iss, aud))
	default:
		return fmt.Errorf("-mode %q: want floor or std", mode)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8090"
	}
	srv := &http.Server{
		Addr:              "127.0.0.1:" + port,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
	}
	return srv.ListenAndServe()
}
