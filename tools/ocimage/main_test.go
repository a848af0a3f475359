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

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
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

// readImage opens a tarball the way a consumer would and returns the image,
// its config and every layer entry by path.
func readImage(t *testing.T, path string) (v1.Image, *v1.ConfigFile, map[string]layerFile) {
	t.Helper()
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatalf("tarball.ImageFromPath: %v", err)
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
	return img, cfg, files
}

func TestImage(t *testing.T) {
	bins := map[string]string{"amd64": writeELF(t, elf.EM_X86_64, false), "arm64": writeELF(t, elf.EM_AARCH64, false)}
	ca, caPEM := testCA(t)
	const epoch = 1767225600 // 2026-01-01T00:00:00Z

	tests := []struct {
		name, fn, arch, tag, variant string
	}{
		{name: "exchange amd64", fn: "exchange", arch: "amd64", tag: "dev.local/supabridge/exchange:0.1.0"},
		{name: "refresh arm64", fn: "refresh", arch: "arm64", tag: "dev.local/supabridge/refresh:0.1.0", variant: "v8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "images", tc.fn+"-linux-"+tc.arch+".tar")
			var stdout bytes.Buffer
			args := []string{"-binary", bins[tc.arch], "-name", tc.fn, "-arch", tc.arch, "-tag", tc.tag,
				"-out", out, "-ca", ca, "-epoch", "1767225600", "-revision", "abc123"}
			if err := run(args, &stdout, io.Discard); err != nil {
				t.Fatalf("run: %v", err)
			}
			if !strings.Contains(stdout.String(), out) || !strings.Contains(stdout.String(), "linux/"+tc.arch) {
				t.Errorf("summary %q does not name %s and linux/%s", stdout.String(), out, tc.arch)
			}

			// The tarball names the image by the tag asked for: that is the
			// name docker load and ctr images import give it.
			m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(out) })
			if err != nil {
				t.Fatalf("LoadManifest: %v", err)
			}
			if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{tc.tag}) {
				t.Errorf("manifest.json RepoTags = %v, want [%s]", m, tc.tag)
			}
			tag, err := name.NewTag(tc.tag)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tarball.ImageFromPath(out, &tag); err != nil {
				t.Errorf("ImageFromPath with tag %s: %v", tc.tag, err)
			}

			_, cfg, files := readImage(t, out)
			c := cfg.Config
			bin := "/usr/local/bin/" + tc.fn
			checks := []struct {
				what      string
				got, want any
			}{
				{"os", cfg.OS, "linux"},
				{"architecture", cfg.Architecture, tc.arch},
				{"variant", cfg.Variant, tc.variant},
				{"created", cfg.Created.Time.UTC(), time.Unix(epoch, 0).UTC()},
				{"user", c.User, "65532:65532"},
				{"entrypoint", strings.Join(c.Entrypoint, " "), bin},
				{"cmd", len(c.Cmd), 0},
				{"env", strings.Join(c.Env, " "), "PATH=/usr/local/bin PORT=8080"},
				{"exposed ports", len(c.ExposedPorts), 1},
				{"label title", c.Labels["org.opencontainers.image.title"], "supabridge-" + tc.fn},
				{"label version", c.Labels["org.opencontainers.image.version"], "0.1.0"},
				{"label created", c.Labels["org.opencontainers.image.created"], "2026-01-01T00:00:00Z"},
				{"label revision", c.Labels["org.opencontainers.image.revision"], "abc123"},
				{"rootfs diff ids", len(cfg.RootFS.DiffIDs), 1},
				{"history", len(cfg.History), 1},
			}
			for _, ck := range checks {
				if ck.got != ck.want {
					t.Errorf("%s: got %v, want %v", ck.what, ck.got, ck.want)
				}
			}
			if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
				t.Errorf("exposed ports %v lack 8080/tcp", c.ExposedPorts)
			}

			wantBin, err := os.ReadFile(bins[tc.arch])
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

	t.Run("reproducible", func(t *testing.T) {
		dir := t.TempDir()
		sum := func(out, epoch string) [32]byte {
			args := []string{"-binary", bins["amd64"], "-name", "exchange", "-arch", "amd64",
				"-tag", "dev.local/supabridge/exchange:0.1.0", "-out", filepath.Join(dir, out), "-ca", ca, "-epoch", epoch}
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
			t.Errorf("a different -epoch gave the same tarball; timestamps are not applied")
		}
	})

	t.Run("openfaas watchdog", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "exchange-openfaas-linux-amd64.tar")
		// Any static amd64 ELF stands in for of-watchdog: only its placement is checked.
		args := []string{"-binary", bins["amd64"], "-name", "exchange", "-arch", "amd64", "-watchdog", bins["amd64"],
			"-tag", "dev.local/supabridge/exchange:0.1.0-openfaas", "-out", out, "-ca", ca}
		if err := run(args, io.Discard, io.Discard); err != nil {
			t.Fatalf("run: %v", err)
		}
		_, cfg, files := readImage(t, out)
		c := cfg.Config
		if got := strings.Join(c.Entrypoint, " "); got != "/usr/local/bin/fwatchdog" {
			t.Errorf("entrypoint %q, want /usr/local/bin/fwatchdog", got)
		}
		for _, want := range []string{"mode=http", "upstream_url=http://127.0.0.1:8082", "PORT=8082",
			"fprocess=/usr/local/bin/exchange", "prefix_logs=false"} {
			if !slices.Contains(c.Env, want) {
				t.Errorf("env %v lacks %s", c.Env, want)
			}
		}
		if c.User != "65532:65532" {
			t.Errorf("user %q, want 65532:65532", c.User)
		}
		for _, p := range []string{"usr/local/bin/fwatchdog", "usr/local/bin/exchange"} {
			if f, ok := files[p]; !ok || f.hdr.Mode != 0o755 {
				t.Errorf("layer entry %s missing or not 0755", p)
			}
		}
	})
}

func TestRefusals(t *testing.T) {
	amd64 := writeELF(t, elf.EM_X86_64, false)
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

	base := map[string]string{"-binary": amd64, "-name": "exchange", "-arch": "amd64",
		"-tag": "dev.local/supabridge/exchange:0.1.0", "-ca": ca}
	tests := []struct {
		name    string
		set     map[string]string // flags changed from base; "" removes the flag
		wantErr string
	}{
		{name: "missing binary flag", set: map[string]string{"-binary": ""}, wantErr: "missing [-binary]"},
		{name: "missing tag and arch", set: map[string]string{"-tag": "", "-arch": ""}, wantErr: "missing [-arch -tag]"},
		{name: "unknown arch", set: map[string]string{"-arch": "386"}, wantErr: `-arch "386"`},
		{name: "bad name", set: map[string]string{"-name": "../etc"}, wantErr: `-name "../etc"`},
		{name: "tag without version", set: map[string]string{"-tag": "dev.local/supabridge/exchange"}, wantErr: "-tag"},
		{name: "binary for another arch", set: map[string]string{"-arch": "arm64"}, wantErr: "want EM_AARCH64"},
		{name: "not ELF", set: map[string]string{"-binary": text}, wantErr: "not an ELF executable"},
		{name: "dynamically linked", set: map[string]string{"-binary": dynamic}, wantErr: "CGO_ENABLED=0"},
		{name: "dynamically linked watchdog", set: map[string]string{"-watchdog": dynamic}, wantErr: "-watchdog"},
		{name: "CA file missing", set: map[string]string{"-ca": filepath.Join(dir, "nope.pem")}, wantErr: "ca-certificates"},
		{name: "CA file without certificates", set: map[string]string{"-ca": noCerts}, wantErr: "no PEM certificate"},
		{name: "negative epoch", set: map[string]string{"-epoch": "-1"}, wantErr: "-epoch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.tar")
			flags := map[string]string{"-out": out}
			for k, v := range base {
				flags[k] = v
			}
			for k, v := range tc.set {
				flags[k] = v
			}
			var args []string
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range flags {
					if !yield(k) {
						return
					}
				}
			}) {
				if flags[k] != "" {
					args = append(args, k, flags[k])
				}
			}
			err := run(args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("run error %v, want one containing %q", err, tc.wantErr)
			}
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Errorf("a refused build left %d file(s) behind", len(entries))
			}
		})
	}
}
