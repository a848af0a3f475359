package devserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"supabridge/shared/edge"
	"supabridge/shared/function"

	"supabridge/dev/issuer"
	"supabridge/shared/config"
	"supabridge/shared/oauth"
	"supabridge/shared/platform"
)

// Function is one function the server mounts.
type Function struct {
	Name  string
	Build function.Builder
}

// Options configures [Run].
type Options struct {
	// Listener to serve on.
	Listener net.Listener
	// Env is the configuration environment.
	Env config.Env
	// Functions to mount at /functions/v1/<name>.
	Functions []Function
	// DevIssuer mounts the development issuer at IssuerPath and points the
	// functions at it. Run refuses it unless the listener is on a loopback
	// address, no provider is configured, and the Supabase secret is unset
	// (a throwaway one is made) or Supabase's public example secret: the issuer
	// signs a token for any sub it is asked for, so the tokens minted from them
	// must never be ones a real Supabase accepts.
	DevIssuer bool
	// Out receives the start-up lines; Logger the request log.
	Out    io.Writer
	Logger *slog.Logger
}

// IssuerPath is where the development issuer is mounted.
const IssuerPath = "/dev/issuer"

// providerVars are the variables that configure a provider.
var providerVars = []string{
	config.EnvAuthIssuer, config.EnvAuthJWKSURL, config.EnvAuthPublicKey, config.EnvAuthPublicKey + "_FILE",
	config.EnvAuthProviders, config.EnvAuthProvidersFile,
}

// refreshVars are the variables that configure refresh; with the development
// issuer they must be unset, because the server sets them to the issuer's.
var refreshVars = []string{
	config.EnvAuthClientID, config.EnvAuthTokenURL, config.EnvAuthClientSecret, config.EnvAuthClientSecret + "_FILE",
}

var secretVars = []string{config.EnvSecret, config.EnvSecret + "_FILE", config.EnvSecretAlias, config.EnvSecretAlias + "_FILE"}

// keyVars are the variables of the asymmetric signing sources. A key there
// is always a deployment's: the development issuer is refused beside one.
var keyVars = []string{config.EnvSigningKey, config.EnvSigningKey + "_FILE", config.EnvJWTKeys, config.EnvJWTKeys + "_FILE"}

// signingVars are the variables of every signing source: when one is set,
// no throwaway secret is made.
var signingVars = append(append([]string(nil), secretVars...), keyVars...)

// firstSet returns the first of names set to a non-empty value, or "".
func firstSet(env config.Env, names []string) string {
	for _, n := range names {
		if v, ok := env(n); ok && v != "" {
			return n
		}
	}
	return ""
}

// check refuses the option combinations Run must never serve.
func check(o Options) error {
	provider := firstSet(o.Env, providerVars)
	if !o.DevIssuer {
		if provider == "" {
			return ErrNoProvider
		}
		return nil
	}
	if provider != "" {
		return fmt.Errorf("%w (%s is set)", ErrDevIssuerWithProvider, provider)
	}
	if v := firstSet(o.Env, refreshVars); v != "" {
		return fmt.Errorf("%w (%s is set)", ErrDevIssuerWithProvider, v)
	}
	if name := firstSet(o.Env, keyVars); name != "" {
		return fmt.Errorf("%w (%s)", ErrDevIssuerRealSecret, name)
	}
	if name := firstSet(o.Env, secretVars); name != "" {
		// Only the two plain variables can hold the example secret; a *_FILE
		// secret is a deployment's.
		v, _ := o.Env(name)
		if v != config.ExampleSecret {
			return fmt.Errorf("%w (%s)", ErrDevIssuerRealSecret, name)
		}
	}
	tcp, ok := o.Listener.Addr().(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		return fmt.Errorf("%w (listening on %s)", ErrDevIssuerNotLoopback, o.Listener.Addr())
	}
	return nil
}

// BaseURL is the URL the server prints for its listener: the real address, so
// a server bound to every interface says so (http://0.0.0.0:8787) instead of
// pretending to be loopback-only.
func BaseURL(addr net.Addr) string {
	return "http://" + addr.String()
}

// Run serves until ctx ends. It refuses, before serving anything, what
// [Options.DevIssuer] documents, and a server without any provider (nothing it
// served could verify a token).
func Run(ctx context.Context, o Options) error {
	if err := check(o); err != nil {
		return err
	}
	base := BaseURL(o.Listener.Addr())
	overlay := map[string]string{}
	if tcp, ok := o.Listener.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		fmt.Fprintf(o.Out, "supabridge: listening on %s (every interface)\n", base)
	} else {
		fmt.Fprintf(o.Out, "supabridge: listening on %s\n", base)
	}
	if firstSet(o.Env, signingVars) == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		overlay[config.EnvSecret] = hex.EncodeToString(b[:])
		// A throwaway secret made for this dev session only, printed so
		// that tokens can be checked by hand. The binaries never do this.
		fmt.Fprintf(o.Out, "supabridge: dev secret %s\n", overlay[config.EnvSecret])
	}
	mux := http.NewServeMux()
	var dev *issuer.Issuer
	if o.DevIssuer {
		var err error
		dev, err = issuer.New(base + IssuerPath)
		if err != nil {
			return err
		}
		overlay[config.EnvAuthIssuer] = dev.URL()
		overlay[config.EnvAuthClientID] = issuer.ClientID
		mux.Handle(IssuerPath+"/", dev.Handler(IssuerPath))
		fmt.Fprintf(o.Out, "supabridge: development issuer at %s (signs a token for any sub: loopback only)\n", dev.URL())
	}
	env := func(k string) (string, bool) {
		if v, ok := overlay[k]; ok {
			return v, true
		}
		return o.Env(k)
	}
	served := map[string]bool{}
	for _, f := range o.Functions {
		h, err := platform.NewHandler(ctx, f.Name, f.Build, env, o.Logger)
		if err != nil {
			if len(o.Functions) > 1 {
				fmt.Fprintf(o.Out, "supabridge: %s not served: %v\n", f.Name, err)
				continue
			}
			return err
		}
		served[f.Name] = true
		mux.Handle("/functions/v1/"+f.Name, h)
		mux.Handle("/functions/v1/"+f.Name+"/", h)
		fmt.Fprintf(o.Out, "supabridge: %s at %s/functions/v1/%s\n", f.Name, base, f.Name)
	}
	if len(served) == 0 {
		return ErrNothingServed
	}
	// Paths no function serves get the edge too (CORS, methods, the
	// access log), and a POST there the 404.
	var origins []string
	if v, _ := env(config.EnvCORSOrigins); strings.TrimSpace(v) != "*" {
		origins = config.List(v)
	}
	mux.Handle("/", edge.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteError(w, oauth.New(http.StatusNotFound, "not_found", "No function here; try /functions/v1/exchange."))
	}), edge.Options{Function: "none", CORSOrigins: origins, Logger: o.Logger}))
	if dev != nil {
		fmt.Fprintf(o.Out, "supabridge: try it:\n")
		if served["exchange"] {
			fmt.Fprintf(o.Out, "  %s\n", ExchangeCurl(base, dev.URL()))
		}
		if served["refresh"] {
			fmt.Fprintf(o.Out, "  %s\n", RefreshCurl(base, dev.URL()))
		}
	}
	return platform.Serve(ctx, mux, o.Listener, o.Logger)
}

// ExchangeCurl is the shell line the banner prints for exchange: sign in at the
// development issuer as alice, and exchange her token.
func ExchangeCurl(base, issuerURL string) string {
	return fmt.Sprintf(`curl -s -X POST %s/functions/v1/exchange -H "Authorization: Bearer $(curl -s -X POST -d sub=alice -d email=alice@example.com %s/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')"`, base, issuerURL)
}

// RefreshCurl is the shell line the banner prints for refresh: sign in at the
// development issuer as alice, and redeem her refresh token.
func RefreshCurl(base, issuerURL string) string {
	return fmt.Sprintf(`curl -s -X POST %s/functions/v1/refresh -d grant_type=refresh_token -d refresh_token="$(curl -s -X POST -d sub=alice -d email=alice@example.com %s/token | sed -E 's/.*"refresh_token":"([^"]+)".*/\1/')"`, base, issuerURL)
}
