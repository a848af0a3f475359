package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"debug/elf"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// platform is what the index records for one architecture, and the ELF
// machine its binaries must be built for.
type platform struct {
	v1      v1.Platform
	machine elf.Machine
}

// platforms are the architectures we publish. arm64 carries variant v8, as
// containerd's platform matcher normalizes it.
var platforms = map[string]platform{
	"amd64": {v1.Platform{OS: "linux", Architecture: "amd64"}, elf.EM_X86_64},
	"arm64": {v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, elf.EM_AARCH64},
}

// annotations are the OCI annotations (image-spec annotations.md) set on the
// index, on each manifest and, as labels, in each image configuration.
func annotations(o options, tag name.Tag) map[string]string {
	a := map[string]string{
		"org.opencontainers.image.title":       "supabridge-" + o.name,
		"org.opencontainers.image.description": "supabridge " + o.name + " function: static binary on an empty base",
		"org.opencontainers.image.version":     tag.TagStr(),
		"org.opencontainers.image.created":     time.Unix(o.epoch, 0).UTC().Format(time.RFC3339),
		"org.opencontainers.image.vendor":      "supabridge",
		"org.opencontainers.image.licenses":    o.licenses,
	}
	if o.revision != "" {
		a["org.opencontainers.image.revision"] = o.revision
	}
	if o.source != "" {
		a["org.opencontainers.image.source"] = o.source
	}
	return a
}

// buildIndex builds every platform's image, in a fixed order, and the OCI
// index that lists them.
func buildIndex(o options, tag name.Tag) (v1.ImageIndex, error) {
	ca, err := readCABundle(o.caFile)
	if err != nil {
		return nil, fmt.Errorf("-ca: %w", err)
	}
	ann := annotations(o, tag)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range slices.Sorted(maps.Keys(o.binaries)) {
		img, err := buildImage(o, arch, ca, ann)
		if err != nil {
			return nil, err
		}
		p := platforms[arch].v1
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &p},
		})
	}
	idx, ok := mutate.Annotations(idx, ann).(v1.ImageIndex)
	if !ok {
		return nil, fmt.Errorf("index: annotations did not give an index")
	}
	return idx, nil
}

// buildImage assembles one platform's image: config on an empty base, then the
// one layer, all with OCI media types.
func buildImage(o options, arch string, ca []byte, ann map[string]string) (v1.Image, error) {
	bin, err := readStaticELF(o.binaries[arch], arch)
	if err != nil {
		return nil, fmt.Errorf("-binary %s: %w", arch, err)
	}
	var watchdog []byte
	if wd, ok := o.watchdogs[arch]; ok {
		if watchdog, err = readStaticELF(wd, arch); err != nil {
			return nil, fmt.Errorf("-watchdog %s: %w", arch, err)
		}
	}

	created := time.Unix(o.epoch, 0).UTC()
	raw, err := layerTar(o.name, bin, watchdog, ca, created)
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
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}

	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(base, imageConfig(o.name, platforms[arch].v1, created, watchdog != nil, ann))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "supabridge tools/ocimage",
			Comment:   "static " + o.name + " binary, CA bundle, passwd; no base image",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	img, ok := mutate.Annotations(img, ann).(v1.Image)
	if !ok {
		return nil, fmt.Errorf("manifest: annotations did not give an image")
	}
	return img, nil
}

// imageConfig is the runtime configuration: who runs what, with which
// environment, and the OCI annotations as labels.
func imageConfig(fn string, p v1.Platform, created time.Time, withWatchdog bool, ann map[string]string) *v1.ConfigFile {
	binary := binDir + "/" + fn
	labels := maps.Clone(ann)
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
	return &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: created},
		Config:       c,
		RootFS:       v1.RootFS{Type: "layers"},
	}
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
	if want := platforms[arch].machine; f.Machine != want {
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
