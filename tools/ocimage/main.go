package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// The layout every image shares; deploy/ refers to these paths and ports, and
// its tests check that it does.
const (
	binDir       = "/usr/local/bin"
	watchdogPath = binDir + "/fwatchdog"
	caBundlePath = "/etc/ssl/certs/ca-certificates.crt"
	nonrootID    = 65532
	servePort    = 8080 // what the container serves: the binary, or the watchdog in front of it
	upstreamPort = 8082 // the binary behind of-watchdog (8081 is the watchdog's metrics port)
)

// options is what the command line asks for.
type options struct {
	name      string            // function name: the binary is installed as /usr/local/bin/<name>
	binaries  map[string]string // arch -> static linux binary
	watchdogs map[string]string // arch -> of-watchdog binary (optional; all or none)
	tag       string            // image reference, e.g. dev.local/supabridge/exchange:0.1.0
	out       string            // archive path
	caFile    string            // PEM CA bundle copied to /etc/ssl/certs/ca-certificates.crt
	revision  string            // org.opencontainers.image.revision
	source    string            // org.opencontainers.image.source
	licenses  string            // org.opencontainers.image.licenses (SPDX expression)
	epoch     int64             // every timestamp in the image, seconds since 1970
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// archFlag collects repeated -binary/-watchdog values of the form arch=path.
type archFlag map[string]string

func (a archFlag) String() string { return fmt.Sprint(map[string]string(a)) }

func (a archFlag) Set(v string) error {
	arch, path, ok := strings.Cut(v, "=")
	if !ok || path == "" {
		return fmt.Errorf("%q: want arch=path", v)
	}
	if _, known := platforms[arch]; !known {
		return fmt.Errorf("%q: arch %q, want one of %v", v, arch, slices.Sorted(maps.Keys(platforms)))
	}
	if _, dup := a[arch]; dup {
		return fmt.Errorf("%q: %s given twice", v, arch)
	}
	a[arch] = path
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ocimage:", err)
		}
		os.Exit(2)
	}
}

// run is the whole command: parse flags, build every platform's image and the
// index, write the archive and print a summary on stdout.
func run(args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(opts.tag, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("-tag %q: %w", opts.tag, err)
	}
	idx, err := buildIndex(opts, tag)
	if err != nil {
		return err
	}
	if err := writeArchive(opts.out, tag, idx, opts.epoch); err != nil {
		return err
	}
	return summarize(stdout, opts.out, tag, idx)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{binaries: map[string]string{}, watchdogs: map[string]string{}}
	fs := flag.NewFlagSet("ocimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.name, "name", "", "function name, e.g. exchange (required)")
	fs.Var(archFlag(o.binaries), "binary", "`arch=file`: static linux binary for arch (amd64, arm64), installed as /usr/local/bin/<name>; repeat per platform (required)")
	fs.Var(archFlag(o.watchdogs), "watchdog", "`arch=file`: of-watchdog for arch, one per -binary: makes an OpenFaaS image")
	fs.StringVar(&o.tag, "tag", "", "image `reference`, e.g. dev.local/supabridge/exchange:0.1.0 (required)")
	fs.StringVar(&o.out, "out", "", "archive `path` to write (required)")
	fs.StringVar(&o.caFile, "ca", "", "PEM CA bundle `file` (Debian: /etc/ssl/certs/ca-certificates.crt from ca-certificates) (required)")
	fs.StringVar(&o.revision, "revision", "", "org.opencontainers.image.revision (a commit)")
	fs.StringVar(&o.source, "source", "", "org.opencontainers.image.source (the repository URL)")
	fs.StringVar(&o.licenses, "licenses", "", "org.opencontainers.image.licenses, an SPDX expression (required)")
	fs.Int64Var(&o.epoch, "epoch", 0, "timestamp for every file and the image, in `seconds` since 1970 (e.g. the commit time)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var missing []string
	for _, f := range []struct {
		flag string
		set  bool
	}{
		{"-name", o.name != ""}, {"-binary", len(o.binaries) > 0}, {"-tag", o.tag != ""},
		{"-out", o.out != ""}, {"-ca", o.caFile != ""}, {"-licenses", o.licenses != ""},
	} {
		if !f.set {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return o, fmt.Errorf("missing %v", missing)
	}
	if !nameRE.MatchString(o.name) || o.name == "fwatchdog" {
		return o, fmt.Errorf("-name %q: want lower-case letters, digits and dashes", o.name)
	}
	if len(o.watchdogs) > 0 && !slices.Equal(slices.Sorted(maps.Keys(o.watchdogs)), slices.Sorted(maps.Keys(o.binaries))) {
		return o, fmt.Errorf("-watchdog for %v, -binary for %v: give one watchdog per platform or none",
			slices.Sorted(maps.Keys(o.watchdogs)), slices.Sorted(maps.Keys(o.binaries)))
	}
	if o.epoch < 0 {
		return o, fmt.Errorf("-epoch %d: want seconds since 1970", o.epoch)
	}
	return o, nil
}
