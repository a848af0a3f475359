// Package validate checks deploy/ with the real tools' own code, in a module
// of its own so that none of it reaches the functions' build: kustomize's Go
// API (sigs.k8s.io/kustomize/api) builds every overlay; each object is
// decoded strictly into its Kubernetes Go type (k8s.io/api), unknown fields
// failing; Knative Services go through Knative Serving's own defaulting and
// validation (knative.dev/serving) and through its CRD's structural schema,
// read at test time from the knative.dev/serving module; Traefik's
// IngressRoute through Traefik's CRD schema from its module, and both Traefik
// manifests' rules through Traefik's own router (pkg/muxer/http). The
// configuration each rendered Pod describes is loaded by supabridge's own
// shared/config. It holds no code outside its tests.
package validate
