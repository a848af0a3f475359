// Package deploy holds the deployment of the functions, not Go code:
//
//	base/                kustomize base: a Deployment and a Service per function,
//	                     the providers file (providers.yaml) as a ConfigMap
//	overlays/knative     Knative Services instead, cluster-local
//	overlays/helm        the base reading the supabase-community Helm chart's secret
//	overlays/knative-helm  both
//	components/helm-secret the one patch that names the Helm chart's secret
//	kong/                routes for Kong's declarative kong.yml: docker compose
//	                     and Kubernetes ConfigMap forms
//	traefik/             the same routes for k3s's Traefik (IngressRoute, Ingress)
//	openfaas/stack.yml   faas-cli, of-watchdog in mode=http, the same providers file
//
// docs/deploy-k3s.md walks through them. The tests here check them against
// the code: the Kong routes are run through a model of Kong's router and the
// paths they deliver are sent to the real handlers; the providers file and
// stack.yml load through shared/config; the image `make image` builds is
// opened, run as OpenFaaS and Kubernetes run it, and imported into a real
// containerd where one can run. deploy/validate, a module of its own, builds
// every overlay with kustomize's Go API and decodes and validates each object
// with the Kubernetes, Knative and Traefik code and schemas.
package deploy
