package main

import (
	"archive/tar"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/binary"
	pemlib "encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// tinyELF returns a minimal ELF64 executable for machine: a header, one
// PT_LOAD (and with interp a PT_INTERP naming a loader) and a payload that
// differs per machine. debug/elf reads it like any linker output, and it is
// small enough that the race detector does not make compressing it slow.
func tinyELF(machine elf.Machine, interp bool) []byte {
	const ehsize, phentsize = 64, 56
	phnum := uint16(1)
	if interp {
		phnum = 2
	}
	loader := []byte("/lib64/ld-linux.so.2\x00")
	payload := bytes.Repeat([]byte("supabridge "+machine.String()+"\n"), 256)
	size := uint64(ehsize + int(phnum)*phentsize + len(loader) + len(payload))

	le := binary.LittleEndian
	b := make([]byte, ehsize+int(phnum)*phentsize)
	copy(b, []byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)})
	le.PutUint16(b[0x10:], uint16(elf.ET_EXEC))
	le.PutUint16(b[0x12:], uint16(machine))
	le.PutUint32(b[0x14:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[0x18:], 0x400000+ehsize) // entry
	le.PutUint64(b[0x20:], ehsize)          // program headers right after this header
	le.PutUint16(b[0x34:], ehsize)
	le.PutUint16(b[0x36:], phentsize)
	le.PutUint16(b[0x38:], phnum)
	le.PutUint16(b[0x3a:], 64) // section header size; there are none
	ph := func(i int, typ elf.ProgType, flags elf.ProgFlag, off, vaddr, filesz, align uint64) {
		p := b[ehsize+i*phentsize:]
		le.PutUint32(p[0:], uint32(typ))
		le.PutUint32(p[4:], uint32(flags))
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], vaddr)
		le.PutUint64(p[24:], vaddr)
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], filesz)
		le.PutUint64(p[48:], align)
	}
	ph(0, elf.PT_LOAD, elf.PF_R|elf.PF_X, 0, 0x400000, size, 0x1000)
	if interp {
		off := uint64(len(b))
		ph(1, elf.PT_INTERP, elf.PF_R, off, 0x400000+off, uint64(len(loader)), 1)
	}
	b = append(b, loader...)
	return append(b, payload...)
}

// writeELF writes tinyELF(machine, interp) to a file and returns its path.
func writeELF(t *testing.T, machine elf.Machine, interp bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), machine.String())
	if err := os.WriteFile(p, tinyELF(machine, interp), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// testCA writes a PEM bundle holding one self-signed certificate generated
// here, so the test depends neither on the machine's bundle nor on a fixture.
func testCA(t *testing.T) (path string, pem []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ocimage test CA"},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Unix(0, 0).Add(100 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pem = pemlib.EncodeToMemory(&pemlib.Block{Type: "CERTIFICATE", Bytes: der})
	path = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, pem
}

// layerFile is one entry read back from the image's layer.
type layerFile struct {
	hdr  *tar.Header
	data []byte
}

// openArchive unpacks an archive ocimage wrote into a directory and opens it
// with go-containerregistry's OCI layout reader, an implementation other than
// the writer's. It returns the layout's index.json entry and the image index.
func openArchive(t *testing.T, path string) (v1.Descriptor, v1.ImageIndex) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("archive: %v", err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(dst, dir+string(filepath.Separator)) {
			t.Fatalf("archive entry %q escapes the directory", hdr.Name)
		}
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(dir, "oci-layout")); err != nil || string(got) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout %q (%v), want imageLayoutVersion 1.0.0", got, err)
	}
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("layout.ImageIndexFromPath: %v", err)
	}
	rm, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Manifests) != 1 {
		t.Fatalf("index.json lists %d entries, want the one image index", len(rm.Manifests))
	}
	entry := rm.Manifests[0]
	if entry.MediaType != types.OCIImageIndex {
		t.Fatalf("index.json entry media type %s, want %s", entry.MediaType, types.OCIImageIndex)
	}
	idx, err := root.ImageIndex(entry.Digest)
	if err != nil {
		t.Fatalf("image index %s: %v", entry.Digest, err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("validate.Index: %v", err)
	}
	return entry, idx
}

// readImage returns one platform's image from idx, its config and every
// layer entry by path.
func readImage(t *testing.T, idx v1.ImageIndex, arch string) (v1.Descriptor, *v1.ConfigFile, map[string]layerFile) {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var desc *v1.Descriptor
	for i := range im.Manifests {
		if p := im.Manifests[i].Platform; p != nil && p.Architecture == arch {
			desc = &im.Manifests[i]
		}
	}
	if desc == nil {
		t.Fatalf("index has no %s manifest: %+v", arch, im.Manifests)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("%s manifest media type %s, want %s", arch, mt, types.OCIManifestSchema1)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("ConfigFile: %v", err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("Layers: %v", err)
	}
	if len(layers) != 1 {
		t.Fatalf("got %d layers, want 1", len(layers))
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatalf("Uncompressed: %v", err)
	}
	defer rc.Close()
	files := map[string]layerFile{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("layer tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("layer tar %s: %v", hdr.Name, err)
		}
		files[hdr.Name] = layerFile{hdr: hdr, data: data}
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	desc.Annotations = m.Annotations // the manifest's own annotations, for the caller
	return *desc, cfg, files
}

func TestImage(t *testing.T) {
	bins := map[string]string{"amd64": writeELF(t, elf.EM_X86_64, false), "arm64": writeELF(t, elf.EM_AARCH64, false)}
	ca, caPEM := testCA(t)
	const epoch = 1767225600 // 2026-01-01T00:00:00Z
	const source = "https://example.com/supabridge"

	tests := []struct {
		name, fn, tag string
	}{
		{name: "exchange", fn: "exchange", tag: "dev.local/supabridge/exchange:0.1.0"},
		{name: "refresh", fn: "refresh", tag: "dev.local/supabridge/refresh:0.2.0-rc1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "images", tc.fn+".oci.tar")
			var stdout bytes.Buffer
			args := []string{"-name", tc.fn, "-binary", "amd64=" + bins["amd64"], "-binary", "arm64=" + bins["arm64"],
				"-tag", tc.tag, "-out", out, "-ca", ca, "-epoch", "1767225600", "-revision", "abc123",
				"-source", source, "-licenses", "Apache-2.0"}
			if err := run(args, &stdout, io.Discard); err != nil {
				t.Fatalf("run: %v", err)
			}
			for _, want := range []string{out, "linux/amd64 manifest sha256:", "linux/arm64/v8 manifest sha256:"} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("summary %q lacks %q", stdout.String(), want)
				}
			}

			// index.json names the index as containerd's exporter does: full
			// name in io.containerd.image.name, the tag in ref.name.
			entry, idx := openArchive(t, out)
			version := tc.tag[strings.LastIndex(tc.tag, ":")+1:]
			if got := entry.Annotations["io.containerd.image.name"]; got != tc.tag {
				t.Errorf("io.containerd.image.name %q, want %q", got, tc.tag)
			}
			if got := entry.Annotations["org.opencontainers.image.ref.name"]; got != version {
				t.Errorf("org.opencontainers.image.ref.name %q, want %q", got, version)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			var plats []string
			for _, m := range im.Manifests {
				plats = append(plats, m.Platform.String())
			}
			if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64/v8"}) {
				t.Errorf("index platforms %v, want [linux/amd64 linux/arm64/v8]", plats)
			}
			wantAnn := map[string]string{
				"org.opencontainers.image.title":    "supabridge-" + tc.fn,
				"org.opencontainers.image.version":  version,
				"org.opencontainers.image.created":  "2026-01-01T00:00:00Z",
				"org.opencontainers.image.revision": "abc123",
				"org.opencontainers.image.source":   source,
				"org.opencontainers.image.licenses": "Apache-2.0",
			}
			for k, v := range wantAnn {
				if im.Annotations[k] != v {
					t.Errorf("index annotation %s = %q, want %q", k, im.Annotations[k], v)
				}
				if entry.Annotations[k] != v {
					t.Errorf("index.json annotation %s = %q, want %q", k, entry.Annotations[k], v)
				}
			}

			for _, arch := range []string{"amd64", "arm64"} {
				t.Run(arch, func(t *testing.T) {
					desc, cfg, files := readImage(t, idx, arch)
					c := cfg.Config
					bin := "/usr/local/bin/" + tc.fn
					wantVariant := map[string]string{"arm64": "v8"}[arch]
					checks := []struct {
						what      string
						got, want any
					}{
						{"os", cfg.OS, "linux"},
						{"architecture", cfg.Architecture, arch},
						{"variant", cfg.Variant, wantVariant},
						{"index platform variant", desc.Platform.Variant, wantVariant},
						{"created", cfg.Created.Time.UTC(), time.Unix(epoch, 0).UTC()},
						{"user", c.User, "65532:65532"},
						{"entrypoint", strings.Join(c.Entrypoint, " "), bin},
						{"cmd", len(c.Cmd), 0},
						{"env", strings.Join(c.Env, " "), "PATH=/usr/local/bin PORT=8080"},
						{"exposed ports", len(c.ExposedPorts), 1},
						{"rootfs diff ids", len(cfg.RootFS.DiffIDs), 1},
						{"history", len(cfg.History), 1},
					}
					for _, ck := range checks {
						if ck.got != ck.want {
							t.Errorf("%s: got %v, want %v", ck.what, ck.got, ck.want)
						}
					}
					for k, v := range wantAnn {
						if c.Labels[k] != v {
							t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
						}
						if desc.Annotations[k] != v {
							t.Errorf("manifest annotation %s = %q, want %q", k, desc.Annotations[k], v)
						}
					}
					if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
						t.Errorf("exposed ports %v lack 8080/tcp", c.ExposedPorts)
					}

					wantBin, err := os.ReadFile(bins[arch])
					if err != nil {
						t.Fatal(err)
					}
					wantFiles := []struct {
						path string
						mode int64
						uid  int
						data []byte // nil: not compared
						has  string // substring the content must hold
					}{
						{path: "usr/local/bin/" + tc.fn, mode: 0o755, data: wantBin},
						{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: caPEM},
						{path: "etc/passwd", mode: 0o644, has: "\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
						{path: "etc/group", mode: 0o644, has: "\nnonroot:x:65532:\n"},
						{path: "etc/nsswitch.conf", mode: 0o644, has: "hosts: files dns"},
						{path: "tmp/", mode: 0o1777},
						{path: "home/nonroot/", mode: 0o700, uid: 65532},
					}
					for _, wf := range wantFiles {
						f, ok := files[wf.path]
						if !ok {
							t.Errorf("layer lacks %s", wf.path)
							continue
						}
						if f.hdr.Mode != wf.mode || f.hdr.Uid != wf.uid || f.hdr.Gid != wf.uid {
							t.Errorf("%s: mode %o uid %d gid %d, want mode %o uid/gid %d", wf.path, f.hdr.Mode, f.hdr.Uid, f.hdr.Gid, wf.mode, wf.uid)
						}
						if wf.data != nil && !bytes.Equal(f.data, wf.data) {
							t.Errorf("%s: content differs from the input (%d bytes, want %d)", wf.path, len(f.data), len(wf.data))
						}
						if !strings.Contains(string(f.data), wf.has) {
							t.Errorf("%s: content %q lacks %q", wf.path, f.data, wf.has)
						}
					}
					if _, ok := files["usr/local/bin/fwatchdog"]; ok {
						t.Errorf("image without -watchdog holds a watchdog")
					}
					for p, f := range files {
						if !f.hdr.ModTime.Equal(time.Unix(epoch, 0)) {
							t.Errorf("%s: mtime %v, want the epoch", p, f.hdr.ModTime)
						}
						if f.hdr.Uname != "" || f.hdr.Gname != "" {
							t.Errorf("%s: owner names %q/%q, want none", p, f.hdr.Uname, f.hdr.Gname)
						}
					}
				})
			}
		})
	}

	t.Run("one platform", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "exchange.oci.tar")
		args := []string{"-name", "exchange", "-binary", "arm64=" + bins["arm64"], "-tag", "dev.local/supabridge/exchange:0.1.0",
			"-out", out, "-ca", ca, "-licenses", "Apache-2.0"}
		if err := run(args, io.Discard, io.Discard); err != nil {
			t.Fatalf("run: %v", err)
		}
		_, idx := openArchive(t, out)
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != 1 || im.Manifests[0].Platform.Architecture != "arm64" {
			t.Errorf("index manifests %+v, want arm64 alone", im.Manifests)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		dir := t.TempDir()
		sum := func(out, epoch string) [32]byte {
			args := []string{"-name", "exchange", "-binary", "amd64=" + bins["amd64"], "-binary", "arm64=" + bins["arm64"],
				"-tag", "dev.local/supabridge/exchange:0.1.0", "-out", filepath.Join(dir, out), "-ca", ca, "-epoch", epoch,
				"-licenses", "Apache-2.0"}
			if err := run(args, io.Discard, io.Discard); err != nil {
				t.Fatalf("run: %v", err)
			}
			b, err := os.ReadFile(filepath.Join(dir, out))
			if err != nil {
				t.Fatal(err)
			}
			return sha256.Sum256(b)
		}
		a, b, later := sum("a.tar", "0"), sum("b.tar", "0"), sum("c.tar", "86400")
		if a != b {
			t.Errorf("two builds of the same input differ: %x vs %x", a, b)
		}
		if a == later {
			t.Errorf("a different -epoch gave the same archive; timestamps are not applied")
		}
	})

	t.Run("openfaas watchdog", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "exchange-openfaas.oci.tar")
		// Any static ELF of the right machine stands in for of-watchdog: only its placement is checked.
		args := []string{"-name", "exchange", "-binary", "amd64=" + bins["amd64"], "-binary", "arm64=" + bins["arm64"],
			"-watchdog", "amd64=" + bins["amd64"], "-watchdog", "arm64=" + bins["arm64"],
			"-tag", "dev.local/supabridge/exchange:0.1.0-openfaas", "-out", out, "-ca", ca, "-licenses", "Apache-2.0"}
		if err := run(args, io.Discard, io.Discard); err != nil {
			t.Fatalf("run: %v", err)
		}
		_, idx := openArchive(t, out)
		for _, arch := range []string{"amd64", "arm64"} {
			_, cfg, files := readImage(t, idx, arch)
			c := cfg.Config
			if got := strings.Join(c.Entrypoint, " "); got != "/usr/local/bin/fwatchdog" {
				t.Errorf("%s entrypoint %q, want /usr/local/bin/fwatchdog", arch, got)
			}
			for _, want := range []string{"mode=http", "upstream_url=http://127.0.0.1:8082", "PORT=8082",
				"fprocess=/usr/local/bin/exchange", "prefix_logs=false"} {
				if !slices.Contains(c.Env, want) {
					t.Errorf("%s env %v lacks %s", arch, c.Env, want)
				}
			}
			if c.User != "65532:65532" {
				t.Errorf("%s user %q, want 65532:65532", arch, c.User)
			}
			for _, p := range []string{"usr/local/bin/fwatchdog", "usr/local/bin/exchange"} {
				if f, ok := files[p]; !ok || f.hdr.Mode != 0o755 {
					t.Errorf("%s layer entry %s missing or not 0755", arch, p)
				}
			}
		}
	})
}

func TestRefusals(t *testing.T) {
	amd64 := writeELF(t, elf.EM_X86_64, false)
	arm64 := writeELF(t, elf.EM_AARCH64, false)
	ca, _ := testCA(t)
	dir := t.TempDir()
	text := filepath.Join(dir, "script.sh")
	noCerts := filepath.Join(dir, "empty.pem")
	for p, s := range map[string]string{text: "#!/bin/sh\necho hi\n", noCerts: "not a certificate\n"} {
		if err := os.WriteFile(p, []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dynamic := writeELF(t, elf.EM_X86_64, true)

	good := []string{"-name", "exchange", "-binary", "amd64=" + amd64, "-binary", "arm64=" + arm64,
		"-tag", "dev.local/supabridge/exchange:0.1.0", "-ca", ca, "-licenses", "Apache-2.0"}
	// with returns good with flag's value replaced ("" drops the flag and its
	// value) or, for -binary and -watchdog, the given values appended.
	with := func(flag string, values ...string) []string {
		var out []string
		for i := 0; i < len(good); i += 2 {
			if good[i] != flag {
				out = append(out, good[i], good[i+1])
			}
		}
		for _, v := range values {
			if v != "" {
				out = append(out, flag, v)
			}
		}
		return out
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "no binary", args: with("-binary"), wantErr: "missing [-binary]"},
		{name: "nothing but -out", args: []string{}, wantErr: "missing [-name -binary -tag -ca -licenses]"},
		{name: "no licenses", args: with("-licenses", ""), wantErr: "missing [-licenses]"},
		{name: "unknown arch", args: with("-binary", "386="+amd64), wantErr: `arch "386"`},
		{name: "binary without arch", args: with("-binary", amd64), wantErr: "want arch=path"},
		{name: "same arch twice", args: with("-binary", "amd64="+amd64, "amd64="+amd64), wantErr: "amd64 given twice"},
		{name: "bad name", args: with("-name", "../etc"), wantErr: `-name "../etc"`},
		{name: "tag without version", args: with("-tag", "dev.local/supabridge/exchange"), wantErr: "-tag"},
		{name: "binary for another arch", args: with("-binary", "arm64="+amd64), wantErr: "want EM_AARCH64"},
		{name: "not ELF", args: with("-binary", "amd64="+text), wantErr: "not an ELF executable"},
		{name: "dynamically linked", args: with("-binary", "amd64="+dynamic), wantErr: "CGO_ENABLED=0"},
		{name: "watchdog for one platform of two", args: append(good[:len(good):len(good)], "-watchdog", "amd64="+amd64), wantErr: "one watchdog per platform"},
		{name: "dynamically linked watchdog", args: append(good[:len(good):len(good)], "-watchdog", "amd64="+dynamic, "-watchdog", "arm64="+arm64), wantErr: "-watchdog amd64"},
		{name: "CA file missing", args: with("-ca", filepath.Join(dir, "nope.pem")), wantErr: "ca-certificates"},
		{name: "CA file without certificates", args: with("-ca", noCerts), wantErr: "no PEM certificate"},
		{name: "negative epoch", args: append(good[:len(good):len(good)], "-epoch", "-1"), wantErr: "-epoch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.tar")
			err := run(append(tc.args, "-out", out), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("run error %v, want one containing %q", err, tc.wantErr)
			}
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Errorf("a refused build left %d file(s) behind", len(entries))
			}
		})
	}
}
