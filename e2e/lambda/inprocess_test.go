package lambda

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"supabridge/internal/testkit"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"supabridge/shared/config"
	"supabridge/shared/platform"
)

// TestEventsInProcess replays every event through the Lambda entry point
// lambda.Start runs, in process: platform.NewLambdaHandler over
// platform.NewHandler, configured from events/env.json.
func TestEventsInProcess(t *testing.T) {
	cases := loadEvents(t)
	envs := loadEnv(t)
	build := builders()
	for _, fn := range functionsOf(cases) {
		t.Run(fn, func(t *testing.T) {
			b, ok := build[fn]
			if !ok {
				t.Skipf("no builder for %s in builders_test.go yet", fn)
			}
			env, ok := envs[fn]
			if !ok {
				t.Fatalf("events/env.json has no %s", logicalID(fn))
			}
			var logs testkit.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			h, err := platform.NewHandler(t.Context(), fn, b, config.MapEnv(env), logger)
			if err != nil {
				t.Fatalf("NewHandler with events/env.json: %v", err)
			}
			lh := platform.NewLambdaHandler(h, logger)
			fnCases := casesOf(cases, fn)
			for _, ec := range fnCases {
				t.Run(ec.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
					defer cancel()
					ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
						AwsRequestID:       "inprocess-" + ec.name,
						InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:" + fn,
					})
					before := time.Now()
					out, err := lh(ctx, json.RawMessage(ec.raw))
					after := time.Now()
					if err != nil {
						t.Fatalf("handler error: %v (an HTTP event must always get an HTTP response)", err)
					}
					payload, err := json.Marshal(out)
					if err != nil {
						t.Fatal(err)
					}
					checkResponse(t, ec, payload, env, before, after)
				})
			}
			checkLog(t, logs.String(), fnCases, env)
		})
	}
}
