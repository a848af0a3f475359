package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The layout every image shares; deploy/openfaas/stack.yml and deploy/knative/
// refer to these paths and ports, and deploy/deploy_test.go checks that they do.
const (
	binDir        = "/usr/local/bin"
	watchdogPath  = binDir + "/fwatchdog"
	caBundlePath  = "/etc/ssl/certs/ca-certificates.crt"
	nonrootID     = 65532
	servePort     = 8080 // what the container serves: the binary, or the watchdog in front of it
	upstreamPort  = 8082 // the binary behind of-watchdog (8081 is the watchdog's metrics port)
	defaultCAFile = "/etc/ssl/certs/ca-certificates.crt"
)

// options is what the command line asks for.
type options struct {
	binary   string // path of the static linux binary
	name     string // function name: the binary is installed as /usr/local/bin/<name>
	arch     string // amd64 or arm64
	tag      string // image reference written into the tarball, e.g. dev.local/supabridge/exchange:0.1.0
	out      string // tarball path
	caFile   string // PEM CA bundle copied to /etc/ssl/certs/ca-certificates.crt
	watchdog string // optional of-watchdog binary for the same architecture
	revision string // optional org.opencontainers.image.revision
	source   string // optional org.opencontainers.image.source
	epoch    int64  // every timestamp in the image, seconds since 1970
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// elfMachine maps the architectures we publish to their ELF machine.
var elfMachine = map[string]elf.Machine{
	"amd64": elf.EM_X86_64,
	"arm64": elf.EM_AARCH64,
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ocimage:", err)
		}
		os.Exit(2)
	}
}

// run is the whole command: parse flags, build the image, write the tarball
// and print one summary line on stdout.
func run(args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(opts.tag, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("-tag %q: %w", opts.tag, err)
	}
	img, err := build(opts, tag.TagStr())
	if err != nil {
		return err
	}
	if err := writeTarball(opts.out, tag, img); err != nil {
		return err
	}
	return summarize(stdout, opts, tag, img)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("ocimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.binary, "binary", "", "static linux `file` to install as /usr/local/bin/<name> (required)")
	fs.StringVar(&o.name, "name", "", "function name, e.g. exchange (required)")
	fs.StringVar(&o.arch, "arch", "", "target architecture: amd64 or arm64 (required)")
	fs.StringVar(&o.tag, "tag", "", "image `reference` recorded in the tarball, e.g. dev.local/supabridge/exchange:0.1.0 (required)")
	fs.StringVar(&o.out, "out", "", "tarball `path` to write (required)")
	fs.StringVar(&o.caFile, "ca", defaultCAFile, "PEM CA bundle `file` (Debian: package ca-certificates)")
	fs.StringVar(&o.watchdog, "watchdog", "", "optional of-watchdog `file` for the same architecture: makes an OpenFaaS image")
	fs.StringVar(&o.revision, "revision", "", "optional org.opencontainers.image.revision label (a commit)")
	fs.StringVar(&o.source, "source", "", "optional org.opencontainers.image.source label (a URL)")
	fs.Int64Var(&o.epoch, "epoch", 0, "timestamp for every file and the image, in `seconds` since 1970 (e.g. $SOURCE_DATE_EPOCH)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var missing []string
	for _, f := range []struct{ flag, val string }{
		{"-binary", o.binary}, {"-name", o.name}, {"-arch", o.arch}, {"-tag", o.tag}, {"-out", o.out},
	} {
		if f.val == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return o, fmt.Errorf("missing %v", missing)
	}
	if !nameRE.MatchString(o.name) || o.name == "fwatchdog" {
		return o, fmt.Errorf("-name %q: want lower-case letters, digits and dashes", o.name)
	}
	if _, ok := elfMachine[o.arch]; !ok {
		return o, fmt.Errorf("-arch %q: want amd64 or arm64", o.arch)
	}
	if o.epoch < 0 {
		return o, fmt.Errorf("-epoch %d: want seconds since 1970", o.epoch)
	}
	return o, nil
}

// build assembles the image in memory: config on an empty base, then the one layer.
func build(o options, version string) (v1.Image, error) {
	bin, err := readStaticELF(o.binary, o.arch)
	if err != nil {
		return nil, fmt.Errorf("-binary: %w", err)
	}
	ca, err := readCABundle(o.caFile)
	if err != nil {
		return nil, fmt.Errorf("-ca: %w", err)
	}
	var watchdog []byte
	if o.watchdog != "" {
		if watchdog, err = readStaticELF(o.watchdog, o.arch); err != nil {
			return nil, fmt.Errorf("-watchdog: %w", err)
		}
	}

	created := time.Unix(o.epoch, 0).UTC()
	layerTar, err := layerTar(o.name, bin, watchdog, ca, created)
	if err != nil {
		return nil, err
	}
	// Compress once, here, with a header that records no name and no time;
	// go-containerregistry sees gzip and uses these bytes as the layer blob.
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if _, err := zw.Write(layerTar); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz.Bytes())), nil
	})
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}

	cfg := imageConfig(o, version, created, watchdog != nil)
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "supabridge tools/ocimage",
			Comment:   "static " + o.name + " binary, CA bundle, passwd; no base image",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	return img, nil
}

// imageConfig is the runtime configuration: who runs what, with which
// environment, and the OCI annotations as labels.
func imageConfig(o options, version string, created time.Time, withWatchdog bool) *v1.ConfigFile {
	binary := binDir + "/" + o.name
	labels := map[string]string{
		"org.opencontainers.image.title":       "supabridge-" + o.name,
		"org.opencontainers.image.description": "supabridge " + o.name + " function: static binary on an empty base",
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
		"org.opencontainers.image.vendor":      "supabridge",
	}
	if o.revision != "" {
		labels["org.opencontainers.image.revision"] = o.revision
	}
	if o.source != "" {
		labels["org.opencontainers.image.source"] = o.source
	}

	c := v1.Config{
		User:         fmt.Sprintf("%d:%d", nonrootID, nonrootID),
		Entrypoint:   []string{binary},
		Env:          []string{"PATH=" + binDir, "PORT=" + strconv.Itoa(servePort)},
		ExposedPorts: map[string]struct{}{strconv.Itoa(servePort) + "/tcp": {}},
		WorkingDir:   "/",
		Labels:       labels,
	}
	if withWatchdog {
		// of-watchdog reads lower-case names (mode, upstream_url, fprocess, port);
		// the binary reads PORT. Both stay overridable from stack.yml.
		labels["com.openfaas.watchdog"] = "of-watchdog"
		c.Entrypoint = []string{watchdogPath}
		c.Env = []string{
			"PATH=" + binDir,
			"PORT=" + strconv.Itoa(upstreamPort),
			"mode=http",
			"upstream_url=http://127.0.0.1:" + strconv.Itoa(upstreamPort),
			"fprocess=" + binary,
			"prefix_logs=false",
		}
	}

	cf := &v1.ConfigFile{
		Architecture: o.arch,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		Config:       c,
		RootFS:       v1.RootFS{Type: "layers"},
	}
	if o.arch == "arm64" {
		cf.Variant = "v8"
	}
	return cf
}

// entry is one file or directory of the layer.
type entry struct {
	path string // relative, no leading slash; directories end in "/"
	mode int64
	uid  int
	data []byte
}

// layerTar writes the layer as an uncompressed tar, in a fixed order, with every
// timestamp set to created, owners numeric and no user or group names.
func layerTar(fn string, bin, watchdog, ca []byte, created time.Time) ([]byte, error) {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonrootID, nonrootID)
	group := "root:x:0:\n" + fmt.Sprintf("nonroot:x:%d:\n", nonrootID)

	entries := []entry{
		{path: "etc/", mode: 0o755},
		{path: "etc/group", mode: 0o644, data: []byte(group)},
		{path: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{path: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "etc/ssl/", mode: 0o755},
		{path: "etc/ssl/certs/", mode: 0o755},
		{path: caBundlePath[1:], mode: 0o644, data: ca},
		{path: "home/", mode: 0o755},
		{path: "home/nonroot/", mode: 0o700, uid: nonrootID},
		{path: "tmp/", mode: 0o1777},
		{path: "usr/", mode: 0o755},
		{path: "usr/local/", mode: 0o755},
		{path: "usr/local/bin/", mode: 0o755},
		{path: binDir[1:] + "/" + fn, mode: 0o755, data: bin},
	}
	if watchdog != nil {
		entries = append(entries, entry{path: watchdogPath[1:], mode: 0o755, data: watchdog})
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:    e.path,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.uid,
			ModTime: created,
			Format:  tar.FormatPAX,
		}
		if e.path[len(e.path)-1] == '/' {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", e.path, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return buf.Bytes(), nil
}

// readStaticELF reads an executable and refuses anything that cannot start on
// an empty base for arch: not ELF, another machine, not executable, or linked
// against a dynamic loader (PT_INTERP).
func readStaticELF(path, arch string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: not an ELF executable: %w", path, err)
	}
	defer f.Close()
	if want := elfMachine[arch]; f.Machine != want {
		return nil, fmt.Errorf("%s: built for %v, want %v (%s)", path, f.Machine, want, arch)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, fmt.Errorf("%s: ELF type %v is not an executable", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s: dynamically linked (needs a loader the empty base lacks); build with CGO_ENABLED=0", path)
		}
	}
	return data, nil
}

// readCABundle reads a PEM bundle and checks that it holds certificates.
func readCABundle(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (on Debian: apt-get install ca-certificates)", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return data, nil
}

// writeTarball writes the docker-archive next to its final path, then renames
// it, so an interrupted build never leaves a truncated tarball behind.
func writeTarball(out string, tag name.Tag, img v1.Image) (err error) {
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".ocimage-*.tar")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := tarball.Write(tag, img, f); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}

// summarize prints one line: what was written, its ID and sizes.
func summarize(w io.Writer, o options, tag name.Tag, img v1.Image) error {
	id, err := img.ConfigName()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	var compressed int64
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return err
		}
		compressed += n
	}
	st, err := os.Stat(o.out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "ocimage: %s %s linux/%s id %s tarball %d bytes, layer %d bytes gzip\n",
		o.out, tag.String(), o.arch, id, st.Size(), compressed)
	return err
}
