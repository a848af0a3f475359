package bridge_test

import (
	"encoding/json"
	"testing"

	"supabridge/shared/bridge"
	"supabridge/shared/oauth"
)

// FuzzTokenResponseJSON: TokenResponse.AppendJSON writes what json.Marshal
// writes (and a newline), whatever the strings hold.
func FuzzTokenResponseJSON(f *testing.F) {
	f.Add("eyJ.a.b", "bearer", "", "", "", int64(3599), int64(1767225600))
	f.Add("t", "bearer", "rt<&>\"\\\u2028\x01\x7f", "pt\xff", "id é", int64(-1), int64(0))
	f.Fuzz(func(t *testing.T, jwt, typ, rt, pt, id string, in, at int64) {
		r := bridge.TokenResponse{SupabaseJWT: jwt, AccessToken: jwt, TokenType: typ, ExpiresIn: in, ExpiresAt: at,
			IssuedTokenType: oauth.TokenTypeAccessToken, RefreshToken: rt, ProviderToken: pt, IDToken: id}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); string(got) != string(want)+"\n" {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}
