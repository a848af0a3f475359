package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"supabridge/shared/config"
)

// TestDeployDoc keeps docs/deploy-k3s.md's commands in step with the files
// they name: archives, images, overlays, secrets, routes and the doctor recipe.
func TestDeployDoc(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	_, entries := loadProviders(t)
	stack := loadStack(t)
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	version := regexp.MustCompile(`(?m)^IMAGE_VERSION\s*\?=\s*(\S+)`).FindSubmatch(mk)
	if version == nil {
		t.Fatal("Makefile sets no IMAGE_VERSION")
	}

	var want []string
	for _, fn := range functions {
		image := loadBase(t, fn).Image
		if image != "dev.local/supabridge/"+fn+":"+string(version[1]) {
			t.Errorf("base/%s.yaml runs %s, not IMAGE_REPO/%s:IMAGE_VERSION", fn, image, fn)
		}
		want = append(want,
			"`"+image+"`", "`"+stack.Functions[fn].Image+"`",
			"`dist/images/"+fn+".oci.tar`", "`dist/images/"+fn+"-openfaas.oci.tar`",
			"sudo k3s ctr images import /tmp/"+fn+".oci.tar",
			"deployment/supabridge-"+fn, "ksvc/supabridge-"+fn,
			"/functions/v1/"+fn,
		)
	}
	for _, d := range []string{"base", "overlays/helm", "overlays/knative", "overlays/knative-helm"} {
		if _, err := os.Stat(filepath.Join(d, "kustomization.yaml")); err != nil {
			t.Errorf("%s: %v", d, err)
		}
		want = append(want, `kubectl -n "$NS" apply -k deploy/`+d)
	}
	want = append(want,
		"make image", `curl -sS -X POST "${SUPABASE_URL}/functions/v1/exchange"`,
		"deploy/kong/k8s-services.yml", "deploy/kong/compose-services.yml",
		"deploy/traefik/ingressroute.yaml", "deploy/traefik/ingress.yaml",
		"faas-cli deploy -f deploy/openfaas/stack.yml",
		"faas-cli secret create supabridge-providers --from-file deploy/"+providersPath,
		"bin/supabridge doctor --env-file",
		"sed 's|"+openfaasDir+"|/tmp/sb/|' deploy/"+providersPath,
		"networking.knative.dev/visibility: cluster-local",
		"bin/supabridge keys signing-key --format k8s",
		"`supabridge-signing-key`, key `"+config.EnvSigningKey+"`",
		"`"+config.EnvMetricsPort+"=9464`",
	)
	for _, w := range want {
		if !strings.Contains(doc, w) {
			t.Errorf("%s lacks %q", docPath, w)
		}
	}

	// What the page says the manifests carry, they carry.
	for _, f := range []string{"base/exchange.yaml", "base/refresh.yaml", "overlays/knative/exchange.yaml", "overlays/knative/refresh.yaml"} {
		m, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"name: supabridge-signing-key\n                  key: " + config.EnvSigningKey + "\n                  optional: true", `prometheus.io/port: "9464"`} {
			if !strings.Contains(string(m), w) {
				t.Errorf("%s lacks %q", f, w)
			}
		}
	}
	if k, err := os.ReadFile("base/kustomization.yaml"); err != nil || !strings.Contains(string(k), config.EnvMetricsPort+"=9464") {
		t.Errorf("base/kustomization.yaml: no %s=9464 in supabridge-settings (%v)", config.EnvMetricsPort, err)
	}

	// The secrets the page reads or creates are the ones the manifests use.
	for _, ref := range []string{
		"get secret supabase-secrets -o jsonpath='{.data.JWT_SECRET}'",
		"get secret demo-supabase-jwt -o jsonpath='{.data.secret}'",
	} {
		if !strings.Contains(doc, ref) {
			t.Errorf("%s lacks %q", docPath, ref)
		}
	}
	helm, err := os.ReadFile("components/helm-secret/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(helm), "name: demo-supabase-jwt") || !strings.Contains(string(helm), "key: secret") {
		t.Errorf("the Helm patch does not name demo-supabase-jwt / secret as the page says")
	}
	for _, n := range clientSecrets(t, entries) {
		for _, w := range []string{
			"create secret generic supabridge-client-secrets --from-literal=" + n + "=",
			"faas-cli secret create " + n,
			"{.data." + n + "}",
		} {
			if !strings.Contains(doc, w) {
				t.Errorf("%s lacks %q for the client secret providers.yaml reads", docPath, w)
			}
		}
	}
	created := regexp.MustCompile(`faas-cli secret create ([a-z0-9-]+)`).FindAllStringSubmatch(doc, -1)
	var names []string
	for _, m := range created {
		names = append(names, m[1])
	}
	for _, fn := range functions {
		for _, s := range stack.Functions[fn].Secrets {
			if !slices.Contains(names, s) {
				t.Errorf("stack.yml mounts %s, which the page never creates", s)
			}
		}
	}
}

// TestDoctorRecipe runs the page's doctor recipe on the files it names: the
// sed line turns providers.yaml into a file whose client secrets are read
// from the directory the recipe fills, and the result loads.
func TestDoctorRecipe(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^sed '([^']+)' deploy/(\S+) > /tmp/sb/providers.yaml$`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatal("no sed line writing /tmp/sb/providers.yaml")
	}
	dir := t.TempDir()
	script := strings.ReplaceAll(m[1], "/tmp/sb/", dir+"/")
	out, err := exec.CommandContext(t.Context(), "sed", script, m[2]).Output()
	if err != nil {
		t.Fatalf("sed %s: %v", script, err)
	}
	p := filepath.Join(dir, "providers.yaml")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	var entries []providerEntry
	if err := yaml.Unmarshal(out, &entries); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.ClientSecretFile != "" {
			if !strings.HasPrefix(e.ClientSecretFile, dir+"/") {
				t.Errorf("after the sed line, %s reads %s", e.Name, e.ClientSecretFile)
			}
			writeSecret(t, "/", e.ClientSecretFile, "client-secret")
		}
	}
	jwt := writeSecret(t, dir, "jwt-secret", testJWTSecret)
	if _, err := config.Load(config.MapEnv(map[string]string{
		config.EnvSecretAlias + "_FILE": jwt,
		config.EnvAuthProvidersFile:     p,
	})); err != nil {
		t.Errorf("the recipe's configuration does not load: %v", err)
	}
}

// TestMakeImageFlags checks what the page says `make image` takes: the CA
// bundle and the source from variables, the licence of LICENSE, one -binary
// per platform of IMAGE_ARCHS, one archive per function.
func TestMakeImageFlags(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on PATH")
	}
	cmd := exec.CommandContext(t.Context(), "make", "-n", "image", "CA_BUNDLE=/custom/ca.pem",
		"IMAGE_SOURCE=https://example.com/supabridge", "IMAGE_REV=abc123", "IMAGE_EPOCH=42")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n image: %v\n%s", err, out)
	}
	for _, want := range []string{
		`-ca "/custom/ca.pem"`, `-source "https://example.com/supabridge"`, `-licenses "` + imageLicense(t) + `"`,
		`-revision "abc123"`, `-epoch 42`, `-binary $arch=dist/bin/linux-$arch/$fn`, `for arch in amd64 arm64`,
		`-out dist/images/$fn.oci.tar`, `for fn in exchange refresh`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("make -n image lacks %q:\n%s", want, out)
		}
	}
}
