// Command ocimage writes a container image tarball for one prebuilt, statically
// linked function binary, without a Docker engine and without reaching any
// registry.
//
// The image has a single layer on an empty base:
//
//	/usr/local/bin/<name>              the function binary (0755)
//	/usr/local/bin/fwatchdog           only with -watchdog: the OpenFaaS of-watchdog
//	/etc/ssl/certs/ca-certificates.crt the build machine's CA bundle (the JWKS and the
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
// The output is a docker-archive tarball (manifest.json, config, gzip layer), the
// format both `docker load` and `ctr images import` (so `k3s ctr images import`)
// read. It is reproducible: every timestamp is -epoch (default 0, pass
// $SOURCE_DATE_EPOCH to use the commit time), file owners and modes are fixed
// and entries are written in one order, so the same binary and CA bundle give
// the same image ID.
//
// ocimage refuses a binary that is not a static ELF executable for the
// requested architecture: an empty base has no dynamic loader, so a cgo build
// would fail at start with a misleading "no such file or directory".
//
// Usage:
//
//	ocimage -binary dist/bin/linux-amd64/exchange -name exchange -arch amd64 \
//	    -tag dev.local/supabridge/exchange:0.1.0 -out dist/images/exchange-linux-amd64.tar
package main
