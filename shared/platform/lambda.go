package platform

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"supabridge/shared/edge"
)

// Trigger is the kind of event a Lambda invocation carries.
type Trigger int

// Triggers told apart by [Probe].
const (
	TriggerUnknown Trigger = iota
	TriggerAPIGatewayV1
	TriggerHTTPAPIV2 // also Lambda Function URLs, which share its shape
	TriggerALB
)

func (t Trigger) String() string {
	return [...]string{"unknown", "apigw-v1", "http-v2", "alb"}[t]
}

// Probe tells the trigger of a raw event: requestContext.elb means ALB,
// version "2.0" means HTTP API v2 or a Function URL, and an httpMethod means
// API Gateway REST (v1). aws-lambda-go-api-proxy's switchable request knows
// v1 from v2 but not ALB, hence this.
func Probe(event []byte) Trigger {
	var p struct {
		Version        string `json:"version"`
		HTTPMethod     string `json:"httpMethod"`
		RequestContext struct {
			ELB json.RawMessage `json:"elb"`
		} `json:"requestContext"`
	}
	if json.Unmarshal(event, &p) != nil {
		return TriggerUnknown
	}
	switch {
	case len(p.RequestContext.ELB) > 0 && !bytes.Equal(p.RequestContext.ELB, []byte("null")):
		return TriggerALB
	case p.Version == "2.0":
		return TriggerHTTPAPIV2
	case p.HTTPMethod != "":
		return TriggerAPIGatewayV1
	}
	return TriggerUnknown
}

// NewLambdaHandler returns the function lambda.Start runs: it probes each
// event, hands it to the matching adapter, and answers a malformed event
// through the edge (e.RejectEvent) with the contract's JSON error instead of the
// adapter's empty 504.
func NewLambdaHandler(e *edge.Edge, logger *slog.Logger) func(ctx context.Context, event json.RawMessage) (any, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	v1, v2, alb := httpadapter.New(e), httpadapter.NewV2(e), httpadapter.NewALB(e)
	// bad logs a fixed phrase, the adapter's error text holds the request
	// URL, query string included, where a client may have put a token; and
	// answers through the edge.
	bad := func(ctx context.Context, trigger Trigger, w http.ResponseWriter) {
		logger.WarnContext(ctx, "bad event", "trigger", trigger.String())
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/", http.NoBody)
		e.RejectEvent(w, r)
	}
	return func(ctx context.Context, event json.RawMessage) (any, error) {
		trigger := Probe(event)
		switch trigger {
		case TriggerAPIGatewayV1:
			var req events.APIGatewayProxyRequest
			// The adapter builds v1's query string from the parameters,
			// escaped: it cannot fail to parse.
			if json.Unmarshal(event, &req) == nil && convertible(req.HTTPMethod, req.RequestContext.DomainName, req.Path, "", req.Body, req.IsBase64Encoded) {
				if resp, err := v1.ProxyWithContext(ctx, req); err == nil {
					return resp, nil
				}
			}
		case TriggerHTTPAPIV2:
			var req events.APIGatewayV2HTTPRequest
			if json.Unmarshal(event, &req) == nil && convertible(req.RequestContext.HTTP.Method, req.RequestContext.DomainName, v2Path(&req), req.RawQueryString, req.Body, req.IsBase64Encoded) {
				if resp, err := v2.ProxyWithContext(ctx, req); err == nil {
					return resp, nil
				}
			}
			w := core.NewProxyResponseWriterV2()
			bad(ctx, trigger, w)
			return w.GetProxyResponse()
		case TriggerALB:
			var req events.ALBTargetGroupRequest
			multi := false
			if json.Unmarshal(event, &req) == nil {
				multi = len(req.MultiValueHeaders) > 0
				// The adapter builds the URL with the host of "headers"
				// only; a multi-value host must be sane as well.
				multiHostOK := true
				if hs := req.MultiValueHeaders["host"]; len(hs) > 0 {
					multiHostOK = hostOK(hs[0])
				}
				if multiHostOK && convertible(req.HTTPMethod, req.Headers["host"], req.Path, "", req.Body, req.IsBase64Encoded) {
					if resp, err := alb.ProxyWithContext(ctx, req); err == nil {
						return albHeaders(resp, multi), nil
					}
				}
			}
			w := core.NewProxyResponseWriterALB()
			bad(ctx, trigger, w)
			resp, err := w.GetProxyResponse()
			return albHeaders(resp, multi), err
		}
		// API Gateway REST (v1), and any event we cannot place, get v1's shape.
		w := core.NewProxyResponseWriter()
		bad(ctx, trigger, w)
		return w.GetProxyResponse()
	}
}

// convertible reports whether the adapter will turn the event into a
// request. It builds the method and URL the way aws-lambda-go-api-proxy's
// EventToRequest does ("https://" + host + path, "?" + the raw query string
// for v2) and hands them to the same http.NewRequest, so that the one call
// that can fail fails here, silently, and never in the adapter, which then
// prints the whole URL, query string and any token in it included, with the
// standard logger, and the method and path to stdout. A control character
// anywhere in the URL (net/url refuses them) or a method that is not an
// HTTP token is such a failure. The adapter's GO_API_HOST override of the
// host is not mirrored: it is the operator's fixed value, not the client's.
func convertible(method, host, path, rawQuery, body string, b64 bool) bool {
	if !hostOK(host) {
		return false
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := "https://" + host + path
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	if _, err := http.NewRequest(strings.ToUpper(method), u, http.NoBody); err != nil {
		return false
	}
	if b64 {
		if _, err := base64.StdEncoding.DecodeString(body); err != nil {
			return false
		}
	}
	return true
}

// hostOK refuses a host that would move the path, query or user info of
// the URL the adapter builds.
func hostOK(host string) bool { return !strings.ContainsAny(host, " /?#@\\") }

// v2Path is the path the adapter takes from a v2 event: rawPath, else
// requestContext.http.path.
func v2Path(req *events.APIGatewayV2HTTPRequest) string {
	if req.RawPath != "" {
		return req.RawPath
	}
	return req.RequestContext.HTTP.Path
}

// albHeaders fits the response to the target group: without multi-value
// headers ALB reads only "headers", and answers 502 if they are missing.
func albHeaders(resp events.ALBTargetGroupResponse, multi bool) events.ALBTargetGroupResponse {
	// ALB's own format for the status line is "200 OK"; the adapter writes "OK".
	resp.StatusDescription = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if multi {
		resp.Headers = nil
		return resp
	}
	resp.Headers = make(map[string]string, len(resp.MultiValueHeaders))
	for k, v := range resp.MultiValueHeaders {
		resp.Headers[k] = strings.Join(v, ", ")
	}
	resp.MultiValueHeaders = nil
	return resp
}

// reportInitError posts an init error to the Runtime API (the Lambda
// Runtime API's /runtime/init/error), which aws-lambda-go does not expose.
func reportInitError(api, msg string) error {
	body, _ := json.Marshal(map[string]any{"errorMessage": msg, "errorType": "Runtime.ConfigError"})
	req, err := http.NewRequest(http.MethodPost, "http://"+api+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("runtime API answered %d", resp.StatusCode)
	}
	return nil
}
