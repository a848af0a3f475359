package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// annotationImageName is containerd's annotation for the full image name on
// an index.json entry (containerd's images.AnnotationImageName). Its exporter
// writes it, and its importer names the image by it before anything else.
const annotationImageName = "io.containerd.image.name"

// layoutIndex is index.json of an OCI image layout (image-spec image-layout.md).
type layoutIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     types.MediaType `json:"mediaType"`
	Manifests     []v1.Descriptor `json:"manifests"`
}

// blobs returns every blob the index reaches (itself, each manifest, config
// and layer), by digest.
func blobs(idx v1.ImageIndex) (map[v1.Hash][]byte, error) {
	out := map[v1.Hash][]byte{}
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, err
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	out[d] = raw
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, err
		}
		if out[desc.Digest], err = img.RawManifest(); err != nil {
			return nil, err
		}
		cd, err := img.ConfigName()
		if err != nil {
			return nil, err
		}
		if out[cd], err = img.RawConfigFile(); err != nil {
			return nil, err
		}
		layers, err := img.Layers()
		if err != nil {
			return nil, err
		}
		for _, l := range layers {
			ld, err := l.Digest()
			if err != nil {
				return nil, err
			}
			rc, err := l.Compressed()
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			out[ld] = b
		}
	}
	return out, nil
}

// writeArchive writes the OCI image layout as one tar archive: oci-layout,
// index.json naming the image index by tag, and blobs/sha256/<hex> in digest
// order, every entry timestamped epoch. It writes next to out and renames, so
// an interrupted build never leaves a truncated archive behind.
func writeArchive(out string, tag name.Tag, idx v1.ImageIndex, epoch int64) (err error) {
	all, err := blobs(idx)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	ann, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	entryAnn := map[string]string{
		annotationImageName:                 tag.String(),
		"org.opencontainers.image.ref.name": tag.TagStr(),
	}
	maps.Copy(entryAnn, ann.Annotations)
	index, err := json.Marshal(layoutIndex{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType:   types.OCIImageIndex,
			Size:        int64(len(raw)),
			Digest:      d,
			Annotations: entryAnn,
		}},
	})
	if err != nil {
		return err
	}

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
	mtime := time.Unix(epoch, 0)
	tw := tar.NewWriter(f)
	write := func(path string, mode int64, data []byte) error {
		hdr := &tar.Header{Name: path, Mode: mode, ModTime: mtime, Format: tar.FormatPAX, Typeflag: tar.TypeReg, Size: int64(len(data))}
		if data == nil {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s: %s: %w", out, path, err)
		}
		_, err := tw.Write(data)
		return err
	}
	if err := write("oci-layout", 0o644, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := write("index.json", 0o644, index); err != nil {
		return err
	}
	if err := write("blobs/", 0o755, nil); err != nil {
		return err
	}
	if err := write("blobs/sha256/", 0o755, nil); err != nil {
		return err
	}
	for _, h := range slices.SortedFunc(maps.Keys(all), func(a, b v1.Hash) int { return strings.Compare(a.String(), b.String()) }) {
		if err := write("blobs/"+h.Algorithm+"/"+h.Hex, 0o644, all[h]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
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

// summarize prints what was written: the archive, the index digest, and one
// line per platform with its manifest digest and layer size.
func summarize(w io.Writer, out string, tag name.Tag, idx v1.ImageIndex) error {
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "ocimage: %s %s index %s, %d bytes\n", out, tag.String(), d, st.Size()); err != nil {
		return err
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return err
		}
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		var size int64
		for _, l := range layers {
			n, err := l.Size()
			if err != nil {
				return err
			}
			size += n
		}
		if _, err := fmt.Fprintf(w, "ocimage:   %s manifest %s, layer %d bytes gzip\n", desc.Platform, desc.Digest, size); err != nil {
			return err
		}
	}
	return nil
}
