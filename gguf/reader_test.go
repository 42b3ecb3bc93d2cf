package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawFile assembles GGUF bytes field by field, so that tests can write
// files that the Writer refuses to produce.
type rawFile struct{ b []byte }

func (r *rawFile) u8(v uint8) *rawFile   { r.b = append(r.b, v); return r }
func (r *rawFile) u32(v uint32) *rawFile { r.b = binary.LittleEndian.AppendUint32(r.b, v); return r }
func (r *rawFile) u64(v uint64) *rawFile { r.b = binary.LittleEndian.AppendUint64(r.b, v); return r }
func (r *rawFile) str(s string) *rawFile { return r.u64(uint64(len(s))).bytes([]byte(s)) }
func (r *rawFile) bytes(p []byte) *rawFile {
	r.b = append(r.b, p...)
	return r
}

// header starts a version 3 file.
func header(nTensors, nKV uint64) *rawFile {
	r := &rawFile{b: []byte("GGUF")}
	return r.u32(3).u64(nTensors).u64(nKV)
}

// tensor appends one tensor index entry.
func (r *rawFile) tensor(name string, typ Type, offset uint64, dims ...uint64) *rawFile {
	r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r.u64(d)
	}
	return r.u32(uint32(typ)).u64(offset)
}

// data pads to 32 bytes and appends n zero bytes of tensor data.
func (r *rawFile) data(n int) *rawFile {
	r.b = append(r.b, make([]byte, int(alignUp(uint64(len(r.b)), 32))-len(r.b)+n)...)
	return r
}

// validFile returns the bytes of a small file written by the Writer: two
// keys (a string and a string array) and an F32 and a Q8_0 tensor.
func validFile(t *testing.T) []byte {
	t.Helper()
	w := NewWriter()
	if err := w.Add("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	if err := w.Add("tokenizer.ggml.tokens", []string{"<s>", "a", "b"}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFloat32("a", TypeF32, []uint64{4}, []float32{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFloat32("b", TypeQ8_0, []uint64{32}, make([]float32, 32)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// openBytes writes b to a file and opens it.
func openBytes(t *testing.T, b []byte) (*File, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.gguf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if f != nil {
		t.Cleanup(func() { f.Close() })
	}
	return f, path, err
}

func TestOpenValidFile(t *testing.T) {
	f, path, err := openBytes(t, validFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path {
		t.Errorf("Path = %q, want %q", f.Path, path)
	}
	if arch, _ := f.String("general.architecture"); arch != "llama" {
		t.Errorf("architecture = %q, want llama", arch)
	}
	info, ok := f.Tensor("b")
	if !ok || info.Type != TypeQ8_0 || info.NumBytes() != 34 {
		t.Errorf(`Tensor("b") = %+v, %v`, info, ok)
	}
	if _, ok := f.Tensor("missing"); ok {
		t.Error(`Tensor("missing") reported ok`)
	}
}

func TestOpenVersion2(t *testing.T) {
	b := validFile(t)
	binary.LittleEndian.PutUint32(b[4:], 2)
	f, _, err := openBytes(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 2 {
		t.Errorf("Version = %d, want 2", f.Version)
	}
}

func TestOpenTruncated(t *testing.T) {
	full := validFile(t)
	// Layout of the valid file, by byte offset:
	//
	//	0    header (24 bytes)
	//	24   key "general.architecture", its string value at 56
	//	69   key "tokenizer.ggml.tokens", array header at 102, strings at 114, 125, 134
	//	143  tensor index entries, the second at 176
	//	224  tensor "a" (16 bytes), after padding
	//	256  tensor "b" (34 bytes)
	cases := []struct {
		cut     int
		wantMsg string
	}{
		{0, "file size 0 is smaller than the 24-byte GGUF header"},
		{3, "file size 3 is smaller than the 24-byte GGUF header"},
		{23, "file size 23 is smaller than the 24-byte GGUF header"},
		{40, "tensor count 2 at offset 8 needs at least 32 bytes per item, but only 24 bytes are left"},
		{90, `metadata entry #1: key length 21 at offset 69 exceeds the 13 bytes left in the file`},
		{104, `metadata key "tokenizer.ggml.tokens": array element type: unexpected end of file at offset 102: need 4 bytes, 2 left`},
		{120, `metadata key "tokenizer.ggml.tokens": array count 3 at offset 106 needs at least 8 bytes per item, but only 6 bytes are left`},
		{140, `metadata key "tokenizer.ggml.tokens": array element 2: string length: unexpected end of file at offset 134: need 8 bytes, 6 left`},
		{150, "tensor count 2 needs at least 32 bytes per tensor, but only 7 bytes are left after the metadata"},
		{208, `tensor "b": offset: unexpected end of file at offset 201: need 8 bytes, 7 left`},
		{230, `tensor "a": offset 0 + size 16 + data section start 224 exceeds file size 230`},
		{289, `tensor "b": offset 32 + size 34 + data section start 224 exceeds file size 289`},
	}
	for _, c := range cases {
		_, path, err := openBytes(t, full[:c.cut])
		if err == nil {
			t.Errorf("cut at %d: no error", c.cut)
			continue
		}
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d: error %q does not wrap ErrTruncated", c.cut, err)
		}
		if !strings.HasPrefix(err.Error(), "gguf: "+path+": ") {
			t.Errorf("cut at %d: error %q does not start with the path", c.cut, err)
		}
		if !strings.Contains(err.Error(), c.wantMsg) {
			t.Errorf("cut at %d: error %q does not contain %q", c.cut, err, c.wantMsg)
		}
	}
}

// TestOpenEveryCut checks that no prefix of a valid file that cuts into
// its tensor data opens, and that the padding after the last tensor may
// be missing.
func TestOpenEveryCut(t *testing.T) {
	full := validFile(t)
	const dataEnd = 290 // tensor "b" ends at 256 + 34
	for cut := range len(full) {
		_, err := parse("x", full[:cut])
		if cut < dataEnd && err == nil {
			t.Errorf("prefix of %d of %d bytes parsed without error", cut, len(full))
		}
		if cut >= dataEnd && err != nil {
			t.Errorf("prefix of %d bytes, which holds all tensor data: %v", cut, err)
		}
	}
}

// badInput is a malformed file with the error that Open must return.
type badInput struct {
	name    string
	file    []byte
	wantIs  error
	wantMsg string
}

// badInputs lists malformed files, one defect each. FuzzOpen's seed corpus
// holds them too.
func badInputs() []badInput {
	huge := uint64(1) << 62
	return []badInput{
		{"wrong magic", (&rawFile{b: []byte("GGML")}).u32(3).u64(0).u64(0).b,
			ErrNotGGUF, `magic "GGML", want "GGUF"`},
		{"short wrong magic", []byte("GG\x00"), ErrNotGGUF, `magic "GG\x00"`},
		{"version 1", (&rawFile{b: []byte("GGUF")}).u32(1).u64(0).u64(0).b,
			ErrUnsupportedVersion, "GGUF version 1 is not supported"},
		{"version 4", (&rawFile{b: []byte("GGUF")}).u32(4).u64(0).u64(0).b,
			ErrUnsupportedVersion, "GGUF version 4 is not supported (want 2 or 3)"},
		{"big-endian", (&rawFile{b: []byte("GGUF")}).u32(0x03000000).u64(0).u64(0).b,
			ErrUnsupportedVersion, "looks like a big-endian GGUF file"},
		{"absurd tensor count", header(huge, 0).b,
			ErrTruncated, "tensor count 4611686018427387904 at offset 8 needs at least 32 bytes per item, but only 8 bytes are left"},
		{"absurd metadata count", header(0, huge).b,
			ErrTruncated, "metadata count 4611686018427387904 at offset 16 needs at least 13 bytes per item"},
		{"tensor count beyond metadata", header(1, 1).str("k").u32(uint32(ValueString)).str(strings.Repeat("v", 40)).b,
			ErrTruncated, "tensor count 1 needs at least 32 bytes per tensor, but only 0 bytes are left after the metadata"},
		{"absurd key length", header(0, 1).u64(huge).bytes(make([]byte, 16)).b,
			ErrTruncated, "metadata entry #0: key length 4611686018427387904 at offset 24 exceeds the 16 bytes left"},
		{"absurd string value length", header(0, 1).str("k").u32(uint32(ValueString)).u64(huge).b,
			ErrTruncated, `metadata key "k": string length 4611686018427387904 at offset 37 exceeds the 0 bytes left`},
		{"absurd array length", header(0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueUint32)).u64(huge).u32(1).b,
			ErrTruncated, `metadata key "k": array count 4611686018427387904 at offset 41 needs at least 4 bytes per item, but only 4 bytes are left`},
		{"absurd nested array length", header(0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueArray)).u64(huge).b,
			ErrTruncated, "needs at least 12 bytes per item"},
		{"string element past end", header(0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueString)).u64(2).str("ab").u64(100).b,
			ErrTruncated, `metadata key "k": array element 1: string length 100`},
		{"unknown value type", header(0, 1).str("k").u32(13).u32(0).b,
			ErrUnknownType, `metadata key "k": unknown value type id 13 at offset 33`},
		{"unknown array element type", header(0, 1).str("k").u32(uint32(ValueArray)).u32(99).u64(0).b,
			ErrUnknownType, `metadata key "k": unknown array element type id 99`},
		{"arrays nested too deep", nestedArrays(maxArrayDepth + 1),
			ErrInvalid, "arrays nested more than 8 levels deep"},
		{"duplicate key", header(0, 2).str("k").u32(uint32(ValueUint8)).u8(1).str("k").u32(uint32(ValueUint8)).u8(2).b,
			ErrDuplicate, `metadata entry #1: duplicate key "k"`},
		{"alignment zero", header(0, 1).str(AlignmentKey).u32(uint32(ValueUint32)).u32(0).b,
			ErrInvalid, `metadata key "general.alignment": alignment 0 is not a power of two`},
		{"alignment not a power of two", header(0, 1).str(AlignmentKey).u32(uint32(ValueUint32)).u32(48).b,
			ErrInvalid, "alignment 48 is not a power of two"},
		{"alignment huge", header(0, 1).str(AlignmentKey).u32(uint32(ValueUint64)).u64(1 << 40).b,
			ErrInvalid, "alignment 1099511627776 is not a power of two between 1 and 1073741824"},
		{"alignment string", header(0, 1).str(AlignmentKey).u32(uint32(ValueString)).str("32").b,
			ErrInvalid, `value 32 of type string is not an unsigned integer`},
		{"tensor past end of file", header(1, 0).tensor("w", TypeF32, 0, 16).data(63).b,
			ErrTruncated, `tensor "w": offset 0 + size 64 + data section start 64 exceeds file size 127`},
		{"tensor offset past end", header(1, 0).tensor("w", TypeF32, 1<<40, 1).data(4).b,
			ErrTruncated, `tensor "w": offset 1099511627776 + size 4`},
		{"misaligned offset", header(1, 0).tensor("w", TypeF32, 4, 1).data(8).b,
			ErrInvalid, `tensor "w": offset 4 is not a multiple of the alignment 32`},
		{"unknown tensor type", header(1, 0).tensor("w", Type(99), 0, 1).data(4).b,
			ErrUnknownType, `tensor "w": unknown tensor type id 99 at offset`},
		{"removed tensor type", header(1, 0).tensor("w", Type(32), 0, 32).data(18).b,
			ErrUnknownType, `tensor "w": tensor type Q4_0_4_8 (id 32) at offset 45 was removed from ggml`},
		{"duplicate tensor name", header(2, 0).tensor("w", TypeF32, 0, 1).tensor("w", TypeF32, 32, 1).data(36).b,
			ErrDuplicate, `tensor #1: duplicate tensor name "w"`},
		{"dims product overflow", header(1, 0).tensor("w", TypeF32, 0, 1<<32, 1<<31).data(4).b,
			ErrInvalid, `tensor "w": dimensions [4294967296 2147483648]: element count overflows int64`},
		{"dims product wraps to zero", header(1, 0).tensor("w", TypeF32, 0, 1<<32, 1<<32, 0).data(4).b,
			ErrInvalid, "element count overflows int64"},
		{"dim above int64", header(1, 0).tensor("w", TypeF32, 0, 0, 1<<63).data(4).b,
			ErrInvalid, `tensor "w": dimension 1 is 9223372036854775808, above the int64 maximum`},
		{"bytes overflow", header(1, 0).tensor("w", TypeF32, 0, 1<<62).data(4).b,
			ErrInvalid, "size in bytes overflows uint64"},
		{"zero dims", header(1, 0).tensor("w", TypeF32, 0).data(4).b,
			ErrInvalid, `tensor "w": dimension count 0 at offset 33 is not between 1 and 4`},
		{"five dims", header(1, 0).tensor("w", TypeF32, 0, 1, 1, 1, 1, 1).data(4).b,
			ErrInvalid, "dimension count 5"},
		{"partial block", header(1, 0).tensor("w", TypeQ8_0, 0, 31).data(34).b,
			ErrInvalid, `tensor "w": dimension 0 is 31, not a multiple of the Q8_0 block size 32`},
		{"overlapping tensors", header(2, 0).tensor("a", TypeF32, 0, 16).tensor("b", TypeF32, 32, 8).data(64).b,
			ErrInvalid, `tensor "a" (offset 0, size 64) overlaps tensor "b" (offset 32)`},
		{"tensor name past end", header(1, 0).u64(50).bytes(make([]byte, 30)).b,
			ErrTruncated, "tensor #0: name length 50 at offset 24 exceeds the 30 bytes left"},
	}
}

func TestOpenBadInput(t *testing.T) {
	for _, c := range badInputs() {
		t.Run(c.name, func(t *testing.T) {
			_, path, err := openBytes(t, c.file)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, c.wantIs) {
				t.Errorf("error %q does not wrap %v", err, c.wantIs)
			}
			if !strings.HasPrefix(err.Error(), "gguf: "+path+": ") {
				t.Errorf("error %q does not start with the path", err)
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %q does not contain %q", err, c.wantMsg)
			}
		})
	}
}

// nestedArrays returns a file with one key whose value is depth arrays,
// each holding the next.
func nestedArrays(depth int) []byte {
	r := header(0, 1).str("k").u32(uint32(ValueArray))
	for range depth - 1 {
		r.u32(uint32(ValueArray)).u64(1)
	}
	return r.u32(uint32(ValueUint8)).u64(0).b
}

func TestOpenNestingLimit(t *testing.T) {
	f, _, err := openBytes(t, nestedArrays(maxArrayDepth))
	if err != nil {
		t.Fatalf("arrays nested %d deep: %v", maxArrayDepth, err)
	}
	if _, ok := f.Array("k"); !ok {
		t.Error("key k is not an array")
	}
}

func TestOpenEmptyTensorsAndVocabOnly(t *testing.T) {
	// A file without tensors may end right after its metadata, as
	// llama.cpp's vocabulary-only files do.
	b := header(0, 1).str("k").u32(uint32(ValueUint8)).u8(1).b
	if _, _, err := openBytes(t, b); err != nil {
		t.Errorf("metadata-only file: %v", err)
	}
	// A tensor with a zero dimension has no data and overlaps nothing.
	b = header(2, 0).tensor("empty", TypeF32, 0, 0, 4).tensor("w", TypeF32, 0, 1).data(4).b
	f, _, err := openBytes(t, b)
	if err != nil {
		t.Fatalf("file with an empty tensor: %v", err)
	}
	if raw, err := f.TensorBytes("empty"); err != nil || len(raw) != 0 {
		t.Errorf(`TensorBytes("empty") = %d bytes, %v`, len(raw), err)
	}
}

func TestOpenMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.gguf")
	_, err := Open(path)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v does not wrap os.ErrNotExist", err)
	}
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v does not name the path", err)
	}
}

func TestOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open(directory): error %v, want one saying it is not a regular file", err)
	}
}

func TestTensorAccessErrors(t *testing.T) {
	w := NewWriter()
	if err := w.AddTensor("iq4", TypeIQ4_XS, []uint64{256}, make([]byte, 136)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFloat32("f32", TypeF32, []uint64{2}, []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, path, err := openBytes(t, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}

	_, err = f.TensorFloat32("iq4")
	if !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("TensorFloat32(iq4): error %v does not wrap ErrUnsupportedType", err)
	}
	want := `gguf: ` + path + `: tensor "iq4": unsupported tensor type IQ4_XS ` +
		`(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)`
	if err == nil || err.Error() != want {
		t.Errorf("TensorFloat32(iq4): error %q, want %q", err, want)
	}
	if raw, err := f.TensorBytes("iq4"); err != nil || len(raw) != 136 {
		t.Errorf("TensorBytes(iq4) = %d bytes, %v; want 136 bytes", len(raw), err)
	}

	if _, err := f.TensorBytes("nope"); !errors.Is(err, ErrTensorNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("TensorBytes(nope): error %v, want ErrTensorNotFound naming the tensor", err)
	}
	if _, err := f.TensorFloat32("nope"); !errors.Is(err, ErrTensorNotFound) {
		t.Errorf("TensorFloat32(nope): error %v, want ErrTensorNotFound", err)
	}

	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.TensorBytes("f32"); !errors.Is(err, ErrClosed) {
		t.Errorf("TensorBytes after Close: error %v, want ErrClosed", err)
	}
	if _, err := f.TensorFloat32("f32"); !errors.Is(err, ErrClosed) {
		t.Errorf("TensorFloat32 after Close: error %v, want ErrClosed", err)
	}
}

func TestTensorIndexIsolatedFromCaller(t *testing.T) {
	f, _, err := openBytes(t, validFile(t))
	if err != nil {
		t.Fatal(err)
	}
	// Changing the exported index must not move or resize the data that
	// TensorBytes hands out.
	f.Tensors[0].Offset = 1 << 50
	f.Tensors[0].Type = Type(99)
	raw, err := f.TensorBytes("a")
	if err != nil || len(raw) != 16 {
		t.Errorf(`TensorBytes("a") = %d bytes, %v; want 16 bytes`, len(raw), err)
	}
	values, err := f.TensorFloat32("a")
	if err != nil || len(values) != 4 || values[3] != 4 {
		t.Errorf(`TensorFloat32("a") = %v, %v; want [1 2 3 4]`, values, err)
	}
}

func TestOpenBytesMatchesOpen(t *testing.T) {
	w := NewWriter()
	if err := w.Add("general.architecture", "gpt2"); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFloat32("w", TypeF32, []uint64{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := OpenBytes("memory.gguf", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if arch, _ := f.String("general.architecture"); arch != "gpt2" {
		t.Errorf("general.architecture = %q, want gpt2", arch)
	}
	got, err := f.TensorFloat32("w")
	if err != nil {
		t.Fatal(err)
	}
	if got[7] != 8 {
		t.Errorf("w = %v", got)
	}
	_, err = OpenBytes("memory.gguf", buf.Bytes()[:10])
	if err == nil || !strings.Contains(err.Error(), "memory.gguf") {
		t.Errorf("truncated data: err = %v, want one naming memory.gguf", err)
	}
}
