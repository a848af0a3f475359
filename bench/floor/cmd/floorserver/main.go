// Command floorserver serves the bare-crypto floor (package floor) over
// HTTP on 127.0.0.1. It exists only for bench/load, which compares the
// exchange binary's throughput with it. It is NOT a product binary: it
// checks a signature and nothing else.
//
// Environment: FLOOR_PUBLIC_KEY (PEM RSA public key), FLOOR_SECRET (HS256
// key), PORT (default 8090).
package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"supabridge/bench/floor"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floorserver:", err)
		os.Exit(1)
	}
}

func run() error {
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
	port := os.Getenv("PORT")
	if port == "" {
		port = "8090"
	}
	srv := &http.Server{
		Addr:              "127.0.0.1:" + port,
		Handler:           floor.Handler(floor.New(pub, []byte(secret))),
		ReadHeaderTimeout: 5 * time.Second,
	}
	return srv.ListenAndServe()
}
