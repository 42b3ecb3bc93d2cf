package main

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/interp-go/interp/hooks"
)

// readNPZ reads every array of an .npz file with npyio, an independent
// reader, and returns the shapes and data by member name.
func readNPZ(t *testing.T, path string) (map[string][]int, map[string][]float32) {
	t.Helper()
	r, err := npz.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	shapes := map[string][]int{}
	data := map[string][]float32{}
	for _, key := range r.Keys() {
		h := r.Header(key)
		if h == nil {
			t.Fatalf("%s: member %s has no npy header", path, key)
		}
		if strings.Trim(h.Descr.Type, "'") != "<f4" || h.Descr.Fortran {
			t.Errorf("%s: dtype %s, fortran order %v; want <f4 in C order", key, h.Descr.Type, h.Descr.Fortran)
		}
		var v []float32
		if err := r.Read(key, &v); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		shapes[key] = h.Descr.Shape
		data[key] = v
	}
	return shapes, data
}

func TestTraceWritesNPZ(t *testing.T) {
	out := filepath.Join(t.TempDir(), "act.npz")
	mustRun(t, "trace", "--prompt", "When Mary and John went", "--out", out,
		"--hook", "hook_embed", "--hook", "hook_pos_embed", "--hook", "blocks.*.hook_resid_pre",
		"--hook", "blocks.0.attn.hook_pattern", "--hook", "blocks.1.attn.hook_z",
		"--hook", "blocks.0.mlp.hook_post", "--hook", "blocks.0.ln1.hook_scale")
	shapes, data := readNPZ(t, out)

	// The prompt has 5 tokens, and gpt2-tiny has d_model 64, 4 heads of 16
	// and d_mlp 256.
	want := map[string][]int{
		"hook_embed.npy":                 {5, 64},
		"hook_pos_embed.npy":             {5, 64},
		"blocks.0.hook_resid_pre.npy":    {5, 64},
		"blocks.1.hook_resid_pre.npy":    {5, 64},
		"blocks.0.attn.hook_pattern.npy": {4, 5, 5},
		"blocks.1.attn.hook_z.npy":       {5, 4, 16},
		"blocks.0.mlp.hook_post.npy":     {5, 256},
		"blocks.0.ln1.hook_scale.npy":    {5, 1},
	}
	if len(shapes) != len(want) {
		t.Errorf("got members %v, want %d", slices.Sorted(maps.Keys(shapes)), len(want))
	}
	for name, shape := range want {
		got, ok := shapes[name]
		if !ok {
			t.Errorf("no member %s", name)
			continue
		}
		if !slices.Equal(got, shape) {
			t.Errorf("%s: shape %v, want %v", name, got, shape)
		}
		if n := len(data[name]); n != product(shape) {
			t.Errorf("%s: %d values, want %d", name, n, product(shape))
		}
	}

	// GPT-2's first residual stream is the token plus the position
	// embedding.
	embed, pos, resid := data["hook_embed.npy"], data["hook_pos_embed.npy"], data["blocks.0.hook_resid_pre.npy"]
	for i := range resid {
		if d := resid[i] - (embed[i] + pos[i]); d > 1e-5 || d < -1e-5 {
			t.Fatalf("resid_pre[%d] = %g, want embed + pos_embed = %g", i, resid[i], embed[i]+pos[i])
		}
	}
	// Each query's attention pattern sums to 1 over the keys it may see,
	// and is 0 on later keys.
	pattern := data["blocks.0.attn.hook_pattern.npy"]
	for h := range 4 {
		for q := range 5 {
			row := pattern[(h*5+q)*5 : (h*5+q+1)*5]
			var sum float32
			for k, p := range row {
				sum += p
				if k > q && p != 0 {
					t.Errorf("head %d query %d attends to later key %d (%g)", h, q, k, p)
				}
			}
			if sum < 0.9999 || sum > 1.0001 {
				t.Errorf("head %d query %d: pattern sums to %g, want 1", h, q, sum)
			}
		}
	}
}

func TestTraceUnknownHookWritesNothing(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runCLI(t, "trace", "--ids", "1,2", "--hook", "blocks.9.hook_resid_pre", "--out", filepath.Join(dir, "x.npz"))
	if err == nil {
		t.Fatal("trace with a hook of a missing block succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("failed trace left files behind: %v", entries)
	}
}

func TestTraceRejectsBadOutPath(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, out, want string
	}{
		{"folder", dir, "is a folder; give a file name"},
		{"missing folder", filepath.Join(dir, "missing", "act.npz"), "not found; create it"},
		{"not npz", filepath.Join(dir, "act.txt"), "give a name ending in .npz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, "trace", "--prompt", "When Mary", "--hook", "hook_embed", "--out", tc.out)
			if err == nil {
				t.Fatalf("trace --out %s succeeded, want an error", tc.out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestNPYOneDimensional(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.npz")
	v := &hooks.Tensor{Shape: []int{3}, Data: []float32{1, -2, 0.5}}
	var buf bytes.Buffer
	if err := writeNPZ(&buf, []string{"v"}, map[string]*hooks.Tensor{"v": v}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shapes, data := readNPZ(t, path)
	if !slices.Equal(shapes["v.npy"], []int{3}) {
		t.Errorf("shape = %v, want [3]", shapes["v.npy"])
	}
	if !slices.Equal(data["v.npy"], v.Data) {
		t.Errorf("data = %v, want %v", data["v.npy"], v.Data)
	}
}

func TestNPYHeaderAlignment(t *testing.T) {
	for _, shape := range [][]int{{1}, {5, 64}, {12, 1024, 1024}} {
		var buf bytes.Buffer
		if err := writeNPY(&buf, &hooks.Tensor{Shape: shape, Data: make([]float32, product(shape))}); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		headerLen := int(b[8]) | int(b[9])<<8
		if (10+headerLen)%64 != 0 {
			t.Errorf("shape %v: data starts at byte %d, want a multiple of 64", shape, 10+headerLen)
		}
		if b[10+headerLen-1] != '\n' {
			t.Errorf("shape %v: header does not end with a newline", shape)
		}
	}
}

func product(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
