package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
)

// secretCmd is `supabridge secret`: a new random Supabase JWT secret.
type secretCmd struct {
	// rand is the randomness source; nil means crypto/rand.
	rand io.Reader
}

const secretAbout = `Prints a new random JWT secret for Supabase (JWT_SECRET) and supabridge
(SUPABASE_JWT_SECRET): 48 random bytes as base64url (64 characters), or with
--hex 32 random bytes as 64 hex digits. Both are used as the raw bytes of the
HS256 key by GoTrue, PostgREST and supabridge alike. Then make the API keys for
it with supabridge keys.`

func (c secretCmd) run(_ context.Context, args []string, cio IO) int {
	fs := newFlags("secret", "[--hex]", secretAbout, cio.Stderr)
	hexOut := fs.Bool("hex", false, "64 hex digits (32 bytes) instead of base64url (48 bytes)")
	if code := parseFlags(fs, args, cio.Stderr); code >= 0 {
		return code
	}
	r := c.rand
	if r == nil {
		r = rand.Reader
	}
	n := 48
	if *hexOut {
		n = 32
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		fmt.Fprintf(cio.Stderr, "supabridge secret: %v\n", err)
		return 1
	}
	if *hexOut {
		fmt.Fprintln(cio.Stdout, hex.EncodeToString(b))
	} else {
		fmt.Fprintln(cio.Stdout, base64.RawURLEncoding.EncodeToString(b))
	}
	return 0
}
