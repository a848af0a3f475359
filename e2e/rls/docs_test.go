package rls

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// guide is the page that shows the SQL the tests run.
const guide = "../../docs/rls.md"

// Every ```sql block in the guide sits right under a marker line: either
// <!-- file: <path relative to docs/> ... --> (the block must equal that
// file byte for byte) or <!-- example, not a file -->.
var (
	fileMarker    = regexp.MustCompile(`^<!-- file: (\S+)[^>]*-->$`)
	exampleMarker = "<!-- example, not a file -->"
)

type sqlBlock struct {
	line   int    // of the opening fence
	marker string // the line above it
	body   []byte
}

// guideBlocks returns the sql blocks of the markdown text of path.
func guideBlocks(t *testing.T, path string, text []byte) []sqlBlock {
	t.Helper()
	var blocks []sqlBlock
	var open *sqlBlock
	prev := ""
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case open == nil && strings.HasPrefix(line, "```"):
			open = &sqlBlock{line: n, marker: prev}
			if line != "```sql" {
				open.marker = "" // not SQL: remember only that a fence is open
				open.line = -n
			}
		case open != nil && line == "```":
			if open.line > 0 {
				blocks = append(blocks, *open)
			}
			open = nil
		case open != nil:
			open.body = append(open.body, line+"\n"...)
		}
		prev = line
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if open != nil {
		t.Fatalf("%s: the fence opened on line %d is never closed", path, abs(open.line))
	}
	return blocks
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestGuideShowsTheTestedSQL keeps docs/rls.md and docs/sql one source:
// the migration the guide shows is the file the tests apply.
func TestGuideShowsTheTestedSQL(t *testing.T) {
	text, err := os.ReadFile(guide)
	if err != nil {
		t.Fatal(err)
	}
	embedded := map[string]bool{}
	for _, b := range guideBlocks(t, guide, text) {
		if b.marker == exampleMarker {
			continue
		}
		m := fileMarker.FindStringSubmatch(b.marker)
		if m == nil {
			t.Errorf("%s:%d: a sql block without a marker line above it (%q or <!-- file: sql/... -->)", guide, b.line, exampleMarker)
			continue
		}
		path := filepath.Join(filepath.Dir(guide), m[1])
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s:%d: %v", guide, b.line, err)
			continue
		}
		if !bytes.Equal(b.body, want) {
			t.Errorf("%s:%d: the block differs from %s; paste the file again (it is the one the tests run)", guide, b.line, path)
		}
		embedded[filepath.Clean(path)] = true
	}

	// The migration is shown in full; every SQL file is at least linked.
	for _, path := range sqlFiles(t) {
		name := filepath.Base(path)
		if strings.HasPrefix(name, "10_") && !embedded[filepath.Clean(path)] {
			t.Errorf("%s does not show %s in full", guide, path)
		}
		if !bytes.Contains(text, []byte("(sql/"+name+")")) {
			t.Errorf("%s does not link sql/%s", guide, name)
		}
	}
}

func TestGuideBlocks(t *testing.T) {
	md := "intro\n<!-- file: sql/x.sql -->\n```sql\nselect 1;\n\n```\n```sh\n```sql\n```\n<!-- example, not a file -->\n```sql\nselect 2;\n```\n"
	blocks := guideBlocks(t, "test.md", []byte(md))
	if len(blocks) != 2 {
		t.Fatalf("got %d sql blocks, want 2: %+v", len(blocks), blocks)
	}
	if blocks[0].marker != "<!-- file: sql/x.sql -->" || string(blocks[0].body) != "select 1;\n\n" {
		t.Errorf("block 0: got %q %q", blocks[0].marker, blocks[0].body)
	}
	if blocks[1].marker != exampleMarker || string(blocks[1].body) != "select 2;\n" {
		t.Errorf("block 1: got %q %q", blocks[1].marker, blocks[1].body)
	}
}
