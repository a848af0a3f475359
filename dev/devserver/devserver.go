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

// signingVars are the variables of every signing source: when one is set,
// no throwaway secret is made.
var signingVars = []string{
	config.EnvSecret, config.EnvSecret + "_FILE", config.EnvSecretAlias, config.EnvSecretAlias + "_FILE",
	config.EnvSigningKey, config.EnvSigningKey + "_FILE", config.EnvJWTKeys, config.EnvJWTKeys + "_FILE",
}

func anySet(env config.Env, names []string) bool {
	for _, n := range names {
		if v, ok := env(n); ok && v != "" {
			return true
		}
	}
	return false
}

// Run serves until ctx ends.
func Run(ctx context.Context, o Options) error {
	base := "http://" + o.Listener.Addr().String()
	if tcp, ok := o.Listener.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		base = fmt.Sprintf("http://127.0.0.1:%d", tcp.Port)
	}
	overlay := map[string]string{}
	fmt.Fprintf(o.Out, "supabridge: listening on %s\n", base)
	if !anySet(o.Env, signingVars) {
		var b [32]byte
		_, _ = rand.Read(b[:])
		overlay[config.EnvSecret] = hex.EncodeToString(b[:])
		// A throwaway secret made for this dev session only, printed so
		// that tokens can be checked by hand. The binaries never do this.
		fmt.Fprintf(o.Out, "supabridge: dev secret %s\n", overlay[config.EnvSecret])
	}
	mux := http.NewServeMux()
	var dev *issuer.Issuer
	if !anySet(o.Env, providerVars) {
		var err error
		dev, err = issuer.New(base + IssuerPath)
		if err != nil {
			return err
		}
		overlay[config.EnvAuthIssuer] = dev.URL()
		mux.Handle(IssuerPath+"/", dev.Handler(IssuerPath))
		fmt.Fprintf(o.Out, "supabridge: no provider configured; development issuer at %s\n", dev.URL())
	}
	env := func(k string) (string, bool) {
		if v, ok := overlay[k]; ok {
			return v, true
		}
		return o.Env(k)
	}
	for _, f := range o.Functions {
		h, err := platform.NewHandler(ctx, f.Name, f.Build, env, o.Logger)
		if err != nil {
			if len(o.Functions) > 1 {
				fmt.Fprintf(o.Out, "supabridge: %s not served: %v\n", f.Name, err)
				continue
			}
			return err
		}
		mux.Handle("/functions/v1/"+f.Name, h)
		mux.Handle("/functions/v1/"+f.Name+"/", h)
		fmt.Fprintf(o.Out, "supabridge: %s at %s/functions/v1/%s\n", f.Name, base, f.Name)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteError(w, oauth.New(http.StatusNotFound, "not_found", "No function here; try /functions/v1/exchange."))
	})
	if dev != nil {
		fmt.Fprintf(o.Out, "supabridge: try it:\n  curl -s -X POST %s/functions/v1/exchange -H \"Authorization: Bearer $(curl -s -X POST -d sub=alice -d email=alice@example.com %s/token | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\"\n", base, dev.URL())
	}
	return platform.Serve(ctx, mux, o.Listener, o.Logger)
}
