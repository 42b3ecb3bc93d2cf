package gguf

import (
	"math"
	"path/filepath"
	"reflect"
	"testing"
)

// openValues writes the given metadata to a file and opens it.
func openValues(t *testing.T, kv []KV) *File {
	t.Helper()
	w := NewWriter()
	for _, e := range kv {
		if err := w.Add(e.Key, e.Value); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestMetadataScalars(t *testing.T) {
	f := openValues(t, []KV{
		{"u8", uint8(7)},
		{"i8.neg", int8(-3)},
		{"i32.pos", int32(9)},
		{"u64.big", uint64(math.MaxUint64)},
		{"f32", float32(0.25)},
		{"f64", 1e300},
		{"s", "text"},
		{"b", true},
	})

	uintCases := []struct {
		key  string
		want uint64
		ok   bool
	}{
		{"u8", 7, true},
		{"i32.pos", 9, true},
		{"u64.big", math.MaxUint64, true},
		{"i8.neg", 0, false},
		{"f32", 0, false},
		{"s", 0, false},
		{"absent", 0, false},
	}
	for _, c := range uintCases {
		if got, ok := f.Uint(c.key); got != c.want || ok != c.ok {
			t.Errorf("Uint(%q) = %d, %v; want %d, %v", c.key, got, ok, c.want, c.ok)
		}
	}

	intCases := []struct {
		key  string
		want int64
		ok   bool
	}{
		{"u8", 7, true},
		{"i8.neg", -3, true},
		{"u64.big", 0, false},
		{"f64", 0, false},
		{"absent", 0, false},
	}
	for _, c := range intCases {
		if got, ok := f.Int(c.key); got != c.want || ok != c.ok {
			t.Errorf("Int(%q) = %d, %v; want %d, %v", c.key, got, ok, c.want, c.ok)
		}
	}

	floatCases := []struct {
		key  string
		want float64
		ok   bool
	}{
		{"f32", 0.25, true},
		{"f64", 1e300, true},
		{"i8.neg", -3, true},
		{"u64.big", math.MaxUint64, true},
		{"s", 0, false},
		{"b", 0, false},
	}
	for _, c := range floatCases {
		if got, ok := f.Float(c.key); got != c.want || ok != c.ok {
			t.Errorf("Float(%q) = %v, %v; want %v, %v", c.key, got, ok, c.want, c.ok)
		}
	}

	if s, ok := f.String("s"); s != "text" || !ok {
		t.Errorf(`String("s") = %q, %v; want "text", true`, s, ok)
	}
	if _, ok := f.String("u8"); ok {
		t.Error(`String("u8") reported ok for a uint8`)
	}
	if b, ok := f.Bool("b"); !b || !ok {
		t.Errorf(`Bool("b") = %v, %v; want true, true`, b, ok)
	}
	if _, ok := f.Bool("u8"); ok {
		t.Error(`Bool("u8") reported ok for a uint8`)
	}
	if v, ok := f.Value("i8.neg"); v != int8(-3) || !ok {
		t.Errorf(`Value("i8.neg") = %#v, %v; want int8(-3), true`, v, ok)
	}
	if _, ok := f.Value("absent"); ok {
		t.Error(`Value("absent") reported ok`)
	}
}

func TestMetadataArrays(t *testing.T) {
	f := openValues(t, []KV{
		{"strings", []string{"a", "b"}},
		{"f32s", []float32{1, 2}},
		{"f64s", []float64{0.5}},
		{"i32s", []int32{-1, 5}},
		{"u32s", []uint32{1, 2}},
		{"u32s.big", []uint32{math.MaxUint32}},
		{"i64s", []int64{-7}},
		{"i64s.big", []int64{1 << 40}},
		{"u8s", []uint8{255}},
		{"scalar", uint32(1)},
	})

	if got, ok := f.Strings("strings"); !ok || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf(`Strings("strings") = %q, %v`, got, ok)
	}
	got, _ := f.Strings("strings")
	got[0] = "changed"
	if again, _ := f.Strings("strings"); again[0] != "a" {
		t.Error("Strings returned the File's own slice, not a copy")
	}
	if _, ok := f.Strings("f32s"); ok {
		t.Error(`Strings("f32s") reported ok for a float32 array`)
	}

	if got, ok := f.Float32s("f32s"); !ok || !reflect.DeepEqual(got, []float32{1, 2}) {
		t.Errorf(`Float32s("f32s") = %v, %v`, got, ok)
	}
	if got, ok := f.Float32s("f64s"); !ok || !reflect.DeepEqual(got, []float32{0.5}) {
		t.Errorf(`Float32s("f64s") = %v, %v`, got, ok)
	}
	if _, ok := f.Float32s("i32s"); ok {
		t.Error(`Float32s("i32s") reported ok for an int32 array`)
	}

	int32Cases := []struct {
		key  string
		want []int32
		ok   bool
	}{
		{"i32s", []int32{-1, 5}, true},
		{"u32s", []int32{1, 2}, true},
		{"i64s", []int32{-7}, true},
		{"u8s", []int32{255}, true},
		{"u32s.big", nil, false},
		{"i64s.big", nil, false},
		{"f32s", nil, false},
		{"scalar", nil, false},
		{"absent", nil, false},
	}
	for _, c := range int32Cases {
		if got, ok := f.Int32s(c.key); ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Int32s(%q) = %v, %v; want %v, %v", c.key, got, ok, c.want, c.ok)
		}
	}

	if a, ok := f.Array("u8s"); !ok || a.Elem != ValueUint8 || a.Len() != 1 {
		t.Errorf(`Array("u8s") = %#v, %v`, a, ok)
	}
}

func TestTypeNames(t *testing.T) {
	cases := []struct {
		typ        Type
		name       string
		blockSize  int
		blockBytes int
	}{
		{TypeF32, "F32", 1, 4},
		{TypeF16, "F16", 1, 2},
		{TypeBF16, "BF16", 1, 2},
		// Q8_0: an F16 scale (2 bytes) and 32 int8 quants.
		{TypeQ8_0, "Q8_0", 32, 2 + 32},
		// Q4_0: an F16 scale and 32 4-bit quants (16 bytes).
		{TypeQ4_0, "Q4_0", 32, 2 + 16},
		// Q4_K: F16 d and dmin, 12 bytes of 6-bit scales, 256 4-bit quants.
		{TypeQ4_K, "Q4_K", 256, 2 + 2 + 12 + 128},
		// Q6_K: 128 bytes of low 4 bits, 64 of high 2 bits, 16 int8
		// scales, an F16 d.
		{TypeQ6_K, "Q6_K", 256, 128 + 64 + 16 + 2},
		{TypeMXFP4, "MXFP4", 32, 17},
		{Type(31), "Q4_0_4_4", 0, 0},
		{Type(1000), "Type(1000)", 0, 0},
	}
	for _, c := range cases {
		if got := c.typ.String(); got != c.name {
			t.Errorf("Type(%d).String() = %q, want %q", uint32(c.typ), got, c.name)
		}
		if got := c.typ.BlockSize(); got != c.blockSize {
			t.Errorf("%s.BlockSize() = %d, want %d", c.name, got, c.blockSize)
		}
		if got := c.typ.BlockBytes(); got != c.blockBytes {
			t.Errorf("%s.BlockBytes() = %d, want %d", c.name, got, c.blockBytes)
		}
	}
	if got := ValueArray.String(); got != "array" {
		t.Errorf("ValueArray.String() = %q, want array", got)
	}
	if got := ValueType(13).String(); got != "ValueType(13)" {
		t.Errorf("ValueType(13).String() = %q", got)
	}
}

func TestTensorInfoSizes(t *testing.T) {
	info := TensorInfo{Type: TypeQ8_0, Dims: []uint64{64, 3, 2}}
	if got := info.NumElements(); got != 384 {
		t.Errorf("NumElements() = %d, want 64*3*2 = 384", got)
	}
	if got := info.NumBytes(); got != 408 {
		t.Errorf("NumBytes() = %d, want 384/32 blocks * 34 bytes = 408", got)
	}
}
