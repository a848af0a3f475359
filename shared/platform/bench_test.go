package platform_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"supabridge/internal/testprovider"
	"supabridge/shared/config"
	"supabridge/shared/exchange"
	"supabridge/shared/platform"
)

// BenchmarkLambdaV2 is one exchange through the Lambda path: an HTTP API
// (v2) event as raw JSON into NewLambdaHandler (probe, decode, adapter,
// edge, handler) and the v2 response out. RS256 provider token.
func BenchmarkLambdaV2(b *testing.B) {
	k := testprovider.NewKey(b, "k1", "RS256")
	p := testprovider.New(b, "/application/o/app/", k)
	env := config.MapEnv(map[string]string{
		"SUPABASE_JWT_SECRET": "runtime-benchmark-secret-32-bytes-long!",
		"AUTH_ISSUER":         p.Issuer,
		"AUTH_JWKS_URL":       p.JWKSURL(),
		"AUTH_AUDIENCE":       "app",
	})
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h, err := platform.NewHandler(b.Context(), "exchange", exchange.New, env, log)
	if err != nil {
		b.Fatal(err)
	}
	fn := platform.NewLambdaHandler(h, log)

	var evs []json.RawMessage
	for i := range 64 {
		c := p.Claims(fmt.Sprintf("user-%d", i))
		c["email_verified"], c["name"], c["groups"] = true, "Alice Example", []string{"users", "admins"}
		ev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "$default", RawPath: "/functions/v1/exchange",
			Headers: map[string]string{
				"authorization": "Bearer " + k.Sign(b, c, nil),
				"host":          "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com",
				"user-agent":    "supabase-js/2",
				"origin":        "https://app.example.com",
			},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				AccountID: "123456789012", APIID: "aaaaaaaaaa", Stage: "$default", RequestID: fmt.Sprintf("req-%d", i),
				DomainName: "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com",
				HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/functions/v1/exchange", Protocol: "HTTP/1.1", SourceIP: "1.2.3.4"},
			},
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		evs = append(evs, raw)
	}
	check := func(out any) {
		resp, ok := out.(events.APIGatewayV2HTTPResponse)
		if !ok || resp.StatusCode != 200 {
			b.Fatalf("got %#v, want a 200 v2 response", out)
		}
	}
	out, err := fn(b.Context(), evs[0])
	if err != nil {
		b.Fatal(err)
	}
	check(out)

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		out, err := fn(b.Context(), evs[i%len(evs)])
		if err != nil {
			b.Fatal(err)
		}
		check(out)
		i++
	}
}
