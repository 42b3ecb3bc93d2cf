package gguf

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// allValues is one metadata entry of every value type, including empty
// and nested arrays, in the order they are added.
var allValues = []KV{
	{"t.uint8", uint8(200)},
	{"t.int8", int8(-100)},
	{"t.uint16", uint16(60000)},
	{"t.int16", int16(-30000)},
	{"t.uint32", uint32(4000000000)},
	{"t.int32", int32(-2000000000)},
	{"t.float32", float32(1.5)},
	{"t.bool.true", true},
	{"t.bool.false", false},
	{"t.string", "héllo"},
	{"t.string.empty", ""},
	{"t.uint64", uint64(math.MaxUint64)},
	{"t.int64", int64(math.MinInt64)},
	{"t.float64", math.Pi},
	{"t.arr.uint8", Array{ValueUint8, []uint8{0, 1, 255}}},
	{"t.arr.int8", Array{ValueInt8, []int8{-128, 0, 127}}},
	{"t.arr.uint16", Array{ValueUint16, []uint16{0, 65535}}},
	{"t.arr.int16", Array{ValueInt16, []int16{-32768, 32767}}},
	{"t.arr.uint32", Array{ValueUint32, []uint32{1, 4294967295}}},
	{"t.arr.int32", Array{ValueInt32, []int32{-1, 2, -3}}},
	{"t.arr.float32", Array{ValueFloat32, []float32{-0.5, 1e-30, float32(math.Inf(1))}}},
	{"t.arr.bool", Array{ValueBool, []bool{true, false, true}}},
	{"t.arr.string", Array{ValueString, []string{"a", "bé", ""}}},
	{"t.arr.uint64", Array{ValueUint64, []uint64{0, math.MaxUint64}}},
	{"t.arr.int64", Array{ValueInt64, []int64{math.MinInt64, math.MaxInt64}}},
	{"t.arr.float64", Array{ValueFloat64, []float64{math.E, math.Copysign(0, -1)}}},
	{"t.arr.empty", Array{ValueString, []string{}}},
	{"t.arr.nested", Array{ValueArray, []Array{
		{ValueInt32, []int32{1, 2}},
		{ValueString, []string{"x"}},
		{ValueArray, []Array{{ValueFloat64, []float64{0.25}}, {ValueUint8, []uint8{}}}},
	}}},
}

type testTensor struct {
	name   string
	typ    Type
	dims   []uint64
	values []float32
}

// rampValues returns n values that F16 and BF16 represent exactly:
// multiples of 1/4 between -8 and 8.
func rampValues(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%65-32) / 4
	}
	return v
}

var allTensors = []testTensor{
	{"f32", TypeF32, []uint64{3, 5}, []float32{0, 1, -1, 0.1, 1e-40, 3e38, -2.5, 7, 8, 9, 10, 11, 12, 13, 14}},
	{"f16", TypeF16, []uint64{7, 2, 2}, rampValues(28)},
	{"bf16", TypeBF16, []uint64{5}, rampValues(5)},
	{"q8_0", TypeQ8_0, []uint64{64, 3}, rampValues(192)},
	{"f32.4d", TypeF32, []uint64{1, 2, 1, 2}, []float32{1, 2, 3, 4}},
}

// writeTestFile writes allValues and allTensors with the given alignment.
func writeTestFile(t *testing.T, path string, alignment uint64) {
	t.Helper()
	w := NewWriter()
	w.SetAlignment(alignment)
	for _, kv := range allValues {
		if err := w.Add(kv.Key, kv.Value); err != nil {
			t.Fatalf("Add(%q): %v", kv.Key, err)
		}
	}
	for _, tt := range allTensors {
		if err := w.AddFloat32(tt.name, tt.typ, tt.dims, tt.values); err != nil {
			t.Fatalf("AddFloat32(%q): %v", tt.name, err)
		}
	}
	if err := w.WriteFile(path); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
}

func TestRoundTripMetadata(t *testing.T) {
	path := filepath.Join(t.TempDir(), "all.gguf")
	writeTestFile(t, path, 64)

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	if f.Version != 3 {
		t.Errorf("Version = %d, want 3", f.Version)
	}
	if f.Alignment != 64 {
		t.Errorf("Alignment = %d, want 64", f.Alignment)
	}
	want := append([]KV{{AlignmentKey, uint32(64)}}, allValues...)
	if len(f.KV) != len(want) {
		t.Fatalf("read %d metadata entries, want %d", len(f.KV), len(want))
	}
	for i := range want {
		got := f.KV[i]
		if got.Key != want[i].Key {
			t.Errorf("entry %d: key %q, want %q", i, got.Key, want[i].Key)
			continue
		}
		if !sameValue(got.Value, want[i].Value) {
			t.Errorf("key %q: value %#v, want %#v", got.Key, got.Value, want[i].Value)
		}
	}
}

// sameValue compares metadata values, treating float NaN bit patterns and
// signed zeros by their bits.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case Array:
		y, ok := b.(Array)
		if !ok || x.Elem != y.Elem {
			return false
		}
		if xs, ok := x.Values.([]float64); ok {
			ys, ok := y.Values.([]float64)
			if !ok || len(xs) != len(ys) {
				return false
			}
			for i := range xs {
				if math.Float64bits(xs[i]) != math.Float64bits(ys[i]) {
					return false
				}
			}
			return true
		}
		if xs, ok := x.Values.([]Array); ok {
			ys, ok := y.Values.([]Array)
			if !ok || len(xs) != len(ys) {
				return false
			}
			for i := range xs {
				if !sameValue(xs[i], ys[i]) {
					return false
				}
			}
			return true
		}
	}
	return reflect.DeepEqual(a, b)
}

func TestRoundTripTensors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "all.gguf")
	writeTestFile(t, path, 64)

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	if f.DataOffset()%64 != 0 {
		t.Errorf("DataOffset() = %d, not a multiple of 64", f.DataOffset())
	}
	if len(f.Tensors) != len(allTensors) {
		t.Fatalf("read %d tensors, want %d", len(f.Tensors), len(allTensors))
	}
	for i, tt := range allTensors {
		info := f.Tensors[i]
		if info.Name != tt.name || info.Type != tt.typ || !reflect.DeepEqual(info.Dims, tt.dims) {
			t.Errorf("tensor %d = %q %s %v, want %q %s %v", i, info.Name, info.Type, info.Dims, tt.name, tt.typ, tt.dims)
		}
		if info.Offset%64 != 0 {
			t.Errorf("tensor %q: offset %d is not a multiple of 64", tt.name, info.Offset)
		}

		raw, err := f.TensorBytes(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		wantRaw := make([]byte, info.NumBytes())
		if err := Quantize(wantRaw, tt.values, tt.typ); err != nil {
			t.Fatal(err)
		}
		if string(raw) != string(wantRaw) {
			t.Errorf("tensor %q: bytes differ from the written ones", tt.name)
		}

		got, err := f.TensorFloat32(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if tt.typ == TypeQ8_0 {
			// The ramp's block maximum is 8, so the scale is 8/127 and
			// every value is within half a step of the original.
			for j := range got {
				if d := math.Abs(float64(got[j] - tt.values[j])); d > 0.5*8/127+1e-3 {
					t.Errorf("tensor %q[%d] = %v, want %v ± half a step", tt.name, j, got[j], tt.values[j])
					break
				}
			}
			continue
		}
		if !reflect.DeepEqual(got, tt.values) {
			t.Errorf("tensor %q = %v, want %v", tt.name, got, tt.values)
		}
	}
}

func TestRoundTripDefaultAlignment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "default.gguf")
	writeTestFile(t, path, DefaultAlignment)

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := f.Value(AlignmentKey); ok {
		t.Errorf("file with the default alignment has a %s key", AlignmentKey)
	}
	if f.Alignment != DefaultAlignment {
		t.Errorf("Alignment = %d, want %d", f.Alignment, DefaultAlignment)
	}
	if f.KV[0].Key != allValues[0].Key {
		t.Errorf("first key = %q, want %q", f.KV[0].Key, allValues[0].Key)
	}
}

func TestWriterAddAlignmentKey(t *testing.T) {
	w := NewWriter()
	if err := w.Add("a", uint8(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(AlignmentKey, uint64(16)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFloat32("x", TypeF32, []uint64{3}, []float32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "a.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Alignment != 16 {
		t.Errorf("Alignment = %d, want 16", f.Alignment)
	}
	wantKV := []KV{{"a", uint8(1)}, {AlignmentKey, uint64(16)}}
	if !reflect.DeepEqual(f.KV, wantKV) {
		t.Errorf("KV = %v, want %v (added key kept in place with its type)", f.KV, wantKV)
	}
}

func TestWriterConvenienceSlices(t *testing.T) {
	w := NewWriter()
	tokens := []string{"a", "b"}
	if err := w.Add("tokens", tokens); err != nil {
		t.Fatal(err)
	}
	tokens[0] = "changed"
	if err := w.Add("scores", []float32{0.5, -1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Add("nested", []Array{{ValueInt32, []int32{7}}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, _ := f.Strings("tokens"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("tokens = %q, want [a b] (Add copies the slice)", got)
	}
	if got, _ := f.Float32s("scores"); !reflect.DeepEqual(got, []float32{0.5, -1}) {
		t.Errorf("scores = %v, want [0.5 -1]", got)
	}
	wantNested := Array{ValueArray, []Array{{ValueInt32, []int32{7}}}}
	if got, _ := f.Value("nested"); !reflect.DeepEqual(got, wantNested) {
		t.Errorf("nested = %#v, want %#v", got, wantNested)
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter()
	if err := w.Add("k", uint32(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFloat32("t", TypeF32, []uint64{1}, []float32{1}); err != nil {
		t.Fatal(err)
	}

	deep := Array{ValueInt8, []int8{}}
	for range maxArrayDepth {
		deep = Array{ValueArray, []Array{deep}}
	}
	cases := []struct {
		name    string
		err     error
		wantIs  error
		wantMsg string
	}{
		{"duplicate key", w.Add("k", uint32(2)), ErrDuplicate, `metadata key "k"`},
		{"plain int", w.Add("n", 3), nil, "use a sized type"},
		{"unsupported value", w.Add("m", map[string]int{}), nil, "has no GGUF type"},
		{"array type mismatch", w.Add("a", Array{ValueInt32, []uint8{1}}), nil, "do not match element type int32"},
		{"unknown element type", w.Add("u", Array{ValueType(13), nil}), ErrUnknownType, "ValueType(13)"},
		{"arrays too deep", w.Add("deep", deep), nil, "nested more than 8 levels"},
		{"bad alignment key", w.Add(AlignmentKey, uint32(48)), nil, "alignment 48 is not a power of two"},
		{"duplicate tensor", w.AddFloat32("t", TypeF32, []uint64{1}, []float32{1}), ErrDuplicate, `tensor "t"`},
		{"empty name", w.AddTensor("", TypeF32, []uint64{1}, make([]byte, 4)), nil, "name is empty"},
		{"long name", w.AddTensor(strings.Repeat("x", 64), TypeF32, []uint64{1}, make([]byte, 4)), nil, "more than ggml's limit of 63"},
		{"unknown type", w.AddTensor("u", Type(99), []uint64{1}, nil), ErrUnknownType, "Type(99)"},
		{"no dims", w.AddTensor("d0", TypeF32, nil, nil), nil, "0 dimensions, want 1 to 4"},
		{"five dims", w.AddTensor("d5", TypeF32, []uint64{1, 1, 1, 1, 1}, make([]byte, 4)), nil, "5 dimensions"},
		{"partial block", w.AddTensor("pb", TypeQ8_0, []uint64{31}, make([]byte, 34)), nil, "not a multiple of the Q8_0 block size 32"},
		{"dims overflow", w.AddTensor("ov", TypeF32, []uint64{1 << 32, 1 << 32}, nil), nil, "overflows int64"},
		{"short data", w.AddTensor("sd", TypeF16, []uint64{4}, make([]byte, 7)), nil, "data has 7 bytes, but F16 dimensions [4] take 8"},
		{"value count", w.AddFloat32("vc", TypeF32, []uint64{2, 2}, []float32{1}), nil, "1 values given"},
		{"quantize unsupported", w.AddFloat32("q4", TypeQ4_K, []uint64{256}, make([]float32, 256)), ErrUnsupportedType, "unsupported tensor type Q4_K"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil {
				t.Fatal("no error")
			}
			if c.wantIs != nil && !errors.Is(c.err, c.wantIs) {
				t.Errorf("error %q does not wrap %v", c.err, c.wantIs)
			}
			if !strings.Contains(c.err.Error(), c.wantMsg) {
				t.Errorf("error %q does not contain %q", c.err, c.wantMsg)
			}
		})
	}

	// The failed calls left the writer's content unchanged.
	path := filepath.Join(t.TempDir(), "w.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.KV) != 1 || len(f.Tensors) != 1 {
		t.Errorf("file has %d keys and %d tensors, want 1 and 1", len(f.KV), len(f.Tensors))
	}
}

func TestWriteFileBadAlignment(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter()
	w.SetAlignment(24)
	err := w.WriteFile(filepath.Join(dir, "x.gguf"))
	if err == nil || !strings.Contains(err.Error(), "alignment 24 is not a power of two") {
		t.Errorf("WriteFile with alignment 24: error %v, want one naming the alignment", err)
	}
	assertDirEmpty(t, dir)
}

func TestWriteFileFailureRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	// Renaming a file over a non-empty directory fails after the
	// temporary file was written.
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := NewWriter()
	if err := w.Add("k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFile(target); err == nil {
		t.Fatal("WriteFile over a non-empty directory succeeded")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "target" {
		t.Errorf("directory holds %v, want only target (temporary file removed)", entries)
	}
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	for _, value := range []string{"old", "new"} {
		w := NewWriter()
		if err := w.Add("v", value); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteFile(path); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, _ := f.String("v"); v != "new" {
		t.Errorf("v = %q, want new", v)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
}

// TestWriteFileFollowsSymlink checks that writing through a symbolic link
// replaces the file it points to, keeps the link, and keeps the replaced
// file's permissions.
func TestWriteFileFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.gguf")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.gguf")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("skipping: symbolic links are not available: %v", err)
	}

	w := NewWriter()
	if err := w.Add("v", "new"); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFile(link); err != nil {
		t.Fatal(err)
	}

	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symbolic link (%v)", link, err)
	}
	info, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("target mode %v, want 0600 kept", info.Mode().Perm())
	}

	f, err := Open(target)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, _ := f.String("v"); v != "new" {
		t.Errorf("target has v = %q, want new", v)
	}
}

func assertDirEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("directory holds %v, want nothing", entries)
	}
}
