package main

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// hs256 signs claims with the test secret; header entries are added.
func hs256(t *testing.T, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDecodeGolden(t *testing.T) {
	now := fixedNow
	session := hs256(t, jwt.MapClaims{
		"iss": "supabase", "aud": "authenticated", "sub": "8f2c1a", "role": "authenticated",
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(59 * time.Minute).Unix(),
		"email": "alice@example.com",
	}, map[string]any{"kid": "old-key"})
	expired := hs256(t, jwt.MapClaims{"role": "anon", "iss": "supabase", "iat": now.Add(-50 * time.Hour).Unix(), "exp": now.Add(-2 * time.Hour).Unix()}, nil)
	future := hs256(t, jwt.MapClaims{"sub": "x", "iat": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(90 * time.Second).Unix()}, nil)

	apiKey, err := apiKey([]byte(testSecret), "", "anon", now.Add(-time.Hour), now.AddDate(10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}

	var out strings.Builder
	for _, tok := range []string{apiKey, session, expired, future} {
		// From a file with a trailing newline, and from stdin: the same.
		file := writeFile(t, "token", tok+"\n")
		r := runCmd(t, decodeCmd{now: clock(now)}.run, nil, "", "--token", file)
		s := runCmd(t, decodeCmd{now: clock(now)}.run, nil, "  "+tok+"\n")
		if r.code != 0 || s.code != 0 || r.stdout != s.stdout {
			t.Fatalf("file: %d %q; stdin: %d %q", r.code, r.stderr, s.code, s.stderr)
		}
		if strings.Contains(r.stdout, tok) || strings.Contains(r.stdout, strings.Split(tok, ".")[2]) {
			t.Error("decode printed the token")
		}
		out.WriteString(r.stdout + "----\n")
	}
	golden(t, "decode.golden", out.String())
	for _, want := range []string{`"iss": "supabase",
  "role": "anon",`, "expires in 3652 days", "expires in 59m0s", "expired 2h ago", "signature: NOT verified", "issued in the future, in 5m0s", "not valid for another 1m30s", "exp  absent"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestDecodeRefusesNonJWT(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"two parts", "abc.def", "found 2 parts"},
		{"bad base64", "a*b.e30.sig", "the header is not base64url"},
		{"payload not an object", "e30.WzFd.sig", "the payload is not a JSON object"},
		{"empty", "\n", "--token: empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, decodeCmd{}.run, nil, tc.in)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("got %d, %q, %q; want 1 and %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		59 * time.Minute:                      "59m0s",
		2 * time.Hour:                         "2h",
		20 * time.Minute:                      "20m0s",
		90*time.Minute + 400*time.Millisecond: "1h30m0s",
		47 * time.Hour:                        "47h",
		49 * time.Hour:                        "2 days",
		3652 * 24 * time.Hour:                 "3652 days",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}
