// Command ocimage writes one multi-platform OCI image for a function, from
// prebuilt, statically linked binaries, without a Docker engine and without
// reaching any registry.
//
// Each platform's image has a single layer on an empty base:
//
//	/usr/local/bin/<name>              the function binary (0755)
//	/usr/local/bin/fwatchdog           only with -watchdog: the OpenFaaS of-watchdog
//	/etc/ssl/certs/ca-certificates.crt the CA bundle given with -ca (the JWKS and the
//	                                   provider's token endpoint are fetched over HTTPS)
//	/etc/passwd, /etc/group            root and the non-root user nonroot (65532)
//	/etc/nsswitch.conf                 "hosts: files dns", as glibc-free images need
//	/home/nonroot, /tmp                the user's home and a sticky, world-writable /tmp
//
// The configuration runs the binary as 65532:65532 with PORT=8080 and port
// 8080/tcp exposed. With -watchdog the entrypoint is of-watchdog in mode=http
// instead: it serves 8080 (and /_/health, /_/ready) and forwards to the binary on
// 127.0.0.1:8082, the layout deploy/openfaas/stack.yml describes. Port 8081 is
// taken by the watchdog's own metrics listener, which is why the upstream is 8082.
//
// The platforms' manifests are gathered in one OCI image index, and the output
// is an OCI image layout (oci-layout, index.json, blobs/sha256/...) written as
// one tar archive, the format `ctr images import` (so `k3s ctr images import`)
// reads as is. index.json names the index the way containerd's own exporter
// does: io.containerd.image.name holds the full reference (-tag), and
// org.opencontainers.image.ref.name its tag. The OCI annotations (title,
// version, created, licenses, source, revision) are set on the index and on
// every manifest, and as labels in every image configuration.
//
// The output is reproducible: every timestamp is -epoch (pass the commit time),
// file owners and modes are fixed, entries are written in one order, so the
// same binaries and CA bundle give the same digests.
//
// ocimage refuses a binary that is not a static ELF executable for its
// architecture: an empty base has no dynamic loader, so a cgo build would fail
// at start with a misleading "no such file or directory".
//
// Usage:
//
//	ocimage -name exchange -tag dev.local/supabridge/exchange:0.1.0 \
//	    -binary amd64=dist/bin/linux-amd64/exchange -binary arm64=dist/bin/linux-arm64/exchange \
//	    -ca /etc/ssl/certs/ca-certificates.crt -licenses Apache-2.0 -revision "$(git rev-parse HEAD)" \
//	    -out dist/images/exchange.oci.tar
package main
