package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteJSONNotFinite(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		var buf bytes.Buffer
		err := writeJSON(&buf, map[string][]float32{"logits": {1, v}})
		if err == nil {
			t.Fatalf("writeJSON of %v succeeded, want an error", v)
		}
		if !strings.Contains(err.Error(), "not finite") {
			t.Errorf("error %q does not say the values are not finite", err)
		}
		if !strings.Contains(err.Error(), "without --json") {
			t.Errorf("error %q does not suggest running without --json", err)
		}
		if buf.Len() != 0 {
			t.Errorf("writeJSON wrote %q before failing, want nothing", buf.String())
		}
	}
}

func TestCheckOutputExtension(t *testing.T) {
	for _, tc := range []struct {
		path, want string
	}{
		{"", ""},
		{"out.npz", ""},
		{"OUT.NPZ", ""},
		{"out.md", ""},
		{"out.txt", "invalid --out out.txt: writes npz or md; give a name ending in .npz or .md"},
		{"out", "invalid --out out: writes npz or md; give a name ending in .npz or .md"},
	} {
		err := checkOutputExtension("out", tc.path, "writes npz or md", ".npz", ".md")
		if got := fmt.Sprint(err); tc.want == "" && err != nil || tc.want != "" && got != tc.want {
			t.Errorf("checkOutputExtension(%q) = %v, want %q", tc.path, err, tc.want)
		}
	}
}

func TestWriteFileAtomicFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.csv")
	link := filepath.Join(dir, "link.csv")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symbolic links unavailable: %v", err)
	}

	err := writeFileAtomic(link, func(w io.Writer) error {
		_, err := io.WriteString(w, "new")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	info, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is now %v, want the symbolic link kept", link, info.Mode())
	}
	got, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new" {
		t.Errorf("link target holds %q, want %q", got, "new")
	}
	info, err = os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("replaced file has mode %v, want the old mode 0600", perm)
	}
}

func TestWriteFileAtomicKeepsFileOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}

	err := writeFileAtomic(path, func(w io.Writer) error {
		_, _ = io.WriteString(w, "partial")
		return errors.New("stopped")
	})
	if err == nil {
		t.Fatal("writeFileAtomic succeeded, want the write function's error")
	}

	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "old" {
		t.Errorf("%s holds %q after a failed write, want %q", path, got, "old")
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("folder has %d entries after a failed write, want only the output file", len(entries))
	}
}

func TestPluralNouns(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 tokens"}, {1, "1 token"}, {2, "2 tokens"}} {
		if got := plural(tc.n, "token"); got != tc.want {
			t.Errorf("plural(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
