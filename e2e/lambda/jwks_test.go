package lambda

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/aws/aws-lambda-go/events"

	"supabridge/shared/config"
	"supabridge/shared/platform"
)

// TestJWKSRouteInProcess sends the GET that template.yaml routes to
// /functions/v1/<name>/.well-known/jwks.json, as an HTTP API v2 event,
// through the Lambda entry point of each function configured with a key
// of the bridge's own: 200, the public key, cacheable, no private part.
func TestJWKSRouteInProcess(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: "lambda-bridge", ALG: jwkset.AlgES256}})
	if err != nil {
		t.Fatal(err)
	}
	private, _ := json.Marshal(j.Marshal())
	envs := loadEnv(t)
	for fn, b := range builders() {
		t.Run(fn, func(t *testing.T) {
			env := maps.Clone(envs[fn])
			env["SUPABRIDGE_SIGNING_KEY"] = string(private)
			h, err := platform.NewHandler(t.Context(), fn, b, config.MapEnv(env), slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			path := "/functions/v1/" + fn + "/.well-known/jwks.json"
			ev, err := json.Marshal(events.APIGatewayV2HTTPRequest{
				Version: "2.0", RouteKey: "GET " + path, RawPath: path,
				Headers: map[string]string{"origin": "https://app.example.test", "host": "api.example.test"},
				RequestContext: events.APIGatewayV2HTTPRequestContext{
					RouteKey: "GET " + path, Stage: "$default", RequestID: "jwks-" + fn,
					HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.10"},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := platform.NewLambdaHandler(h, slog.New(slog.DiscardHandler))(t.Context(), ev)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(out)
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(raw, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.Headers["Cache-Control"] != "public, max-age=600" || resp.Headers["Access-Control-Allow-Origin"] != "https://app.example.test" {
				t.Fatalf("got %d, headers %v", resp.StatusCode, resp.Headers)
			}
			var set jwkset.JWKSMarshal
			if err := json.Unmarshal([]byte(resp.Body), &set); err != nil || len(set.Keys) != 1 || set.Keys[0].KID != "lambda-bridge" {
				t.Fatalf("body %q, want the bridge's public key", resp.Body)
			}
			if set.Keys[0].D != "" || strings.Contains(resp.Body, j.Marshal().D) {
				t.Error("the published set holds the private key")
			}
		})
	}
}
