// Command echo is a Lambda function for rapi's tests: it answers every event
// with the event and what its Lambda context says, or fails when the event
// has a "fail" field, through the real aws-lambda-go client.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func main() {
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (json.RawMessage, error) {
		var in struct {
			Fail string `json:"fail"`
		}
		if err := json.Unmarshal(ev, &in); err != nil {
			return nil, err
		}
		if in.Fail != "" {
			return nil, errors.New(in.Fail)
		}
		lc, _ := lambdacontext.FromContext(ctx)
		dl, ok := ctx.Deadline()
		return json.Marshal(map[string]any{
			"event":       ev,
			"requestId":   lc.AwsRequestID,
			"functionArn": lc.InvokedFunctionArn,
			"hasDeadline": ok && time.Until(dl) > 0,
		})
	})
}
