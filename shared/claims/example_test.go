package claims_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/claims"
)

// Minting with a fixed clock: HS256 and a fixed member order make the token
// a function of its input, so the claim set below is exact.
func ExampleMinter_Mint() {
	jwtSecret := claims.Secret("an-example-supabase-jwt-secret-of-32+-bytes")
	clock := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	signer, err := claims.NewHMACSigner(jwtSecret, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := claims.NewMinter(claims.Config{Signer: signer, MaxTTL: time.Hour}, clock)
	if err != nil {
		fmt.Println(err)
		return
	}

	// A verified provider payload; its exp is 30 minutes after the clock.
	var p claims.Payload
	if err := json.Unmarshal([]byte(`{
		"iss": "https://id.example.com/dex",
		"sub": "CgNib2ISBWxvY2Fs",
		"aud": "supabridge",
		"iat": 1772366400,
		"exp": 1772368200,
		"email": "bob@example.com",
		"email_verified": true,
		"groups": ["staff"],
		"role": "service_role",
		"tenant": {"id": "t-7"}
	}`), &p); err != nil {
		fmt.Println(err)
		return
	}
	mapping := &claims.Mapping{
		Provider:    "dex",
		Passthrough: []string{"email_verified", "groups", "role"},
		Rules:       []claims.Rule{{Target: "tenant_id", AppMetadata: true, Pointer: "/tenant/id"}},
		Sub:         claims.SubUUID5,
	}
	tok, err := m.Mint(&p, mapping)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The signature checks with the Supabase secret.
	_, err = jwt.Parse(tok.JWT, func(*jwt.Token) (any, error) { return []byte(jwtSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(clock))
	fmt.Println("signature valid:", err == nil)

	parts := strings.Split(tok.JWT, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	fmt.Println("header:", string(header))
	var set map[string]any
	if err := json.Unmarshal(payload, &set); err != nil {
		fmt.Println(err)
		return
	}
	sorted, _ := json.MarshalIndent(set, "", "  ") // map keys come out sorted
	fmt.Println(string(sorted))

	// SUB_MAPPING=uuid5: the name-based (SHA-1) UUID of "<iss>#<sub>" in
	// the URL namespace, the "sub" above and the same in any language's
	// uuid5.
	fmt.Println("uuid5:", claims.NewSHA1(claims.NamespaceURL, "https://id.example.com/dex#CgNib2ISBWxvY2Fs"))
	// Output:
	// signature valid: true
	// header: {"alg":"HS256","typ":"JWT"}
	// {
	//   "app_metadata": {
	//     "provider": "dex",
	//     "providers": [
	//       "dex"
	//     ],
	//     "tenant_id": "t-7"
	//   },
	//   "aud": "authenticated",
	//   "email": "bob@example.com",
	//   "email_verified": true,
	//   "exp": 1772368200,
	//   "groups": [
	//     "staff"
	//   ],
	//   "iat": 1772366400,
	//   "is_anonymous": false,
	//   "iss": "supabase",
	//   "role": "authenticated",
	//   "sub": "ccb46c3a-fb15-5af9-a210-afa8438a553e",
	//   "user_metadata": {
	//     "email": "bob@example.com",
	//     "email_verified": true,
	//     "groups": [
	//       "staff"
	//     ],
	//     "iss": "https://id.example.com/dex",
	//     "sub": "CgNib2ISBWxvY2Fs"
	//   }
	// }
	// uuid5: ccb46c3a-fb15-5af9-a210-afa8438a553e
}
