// Package deploy holds the k3s deployment of the functions, not Go code:
// openfaas/stack.yml (faas-cli, of-watchdog in mode=http, secrets as files)
// and knative/*.yaml (serving.knative.dev/v1 Services reading supabase-secrets).
// docs/deploy-k3s.md walks through them.
//
// Its tests check the manifests against the code: every variable they set is
// one shared/config reads and the configuration they describe loads; ports,
// probes and secret names agree with each other, with the image tools/ocimage
// builds and with docs/deploy-k3s.md. A slower test builds the real image,
// unpacks the binary and runs it the way OpenFaaS and Knative do.
package deploy
