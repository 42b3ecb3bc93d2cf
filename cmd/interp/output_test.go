package main

import (
	"bytes"
	"fmt"
	"math"
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
