package gguf

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
)

const (
	// magic is the first four bytes of every GGUF file.
	magic = "GGUF"
	// DefaultAlignment is the alignment of tensor data, in bytes, in a file
	// that does not set general.alignment.
	DefaultAlignment = 32
	// AlignmentKey is the metadata key that sets the alignment of tensor
	// data.
	AlignmentKey = "general.alignment"
	// MaxDims is the largest number of dimensions a tensor may have, as in
	// ggml (GGML_MAX_DIMS).
	MaxDims = 4

	// maxAlignment bounds general.alignment at 1 GiB, an arbitrary limit far
	// above ggml's default of 32 bytes that keeps offset arithmetic far
	// from overflow.
	maxAlignment = 1 << 30
	// headerSize is magic, version, tensor count and metadata count.
	headerSize = 4 + 4 + 8 + 8
	// minKVSize is the smallest encoded metadata entry: an 8-byte key
	// length, a 4-byte value type and a 1-byte value.
	minKVSize = 8 + 4 + 1
	// minTensorInfoSize is the smallest encoded tensor index entry: an
	// 8-byte name length, a 4-byte dimension count, one 8-byte dimension,
	// a 4-byte type and an 8-byte offset.
	minTensorInfoSize = 8 + 4 + 8 + 4 + 8
)

// File is an open GGUF file. Its metadata and tensor index are decoded
// into memory, and its tensor data stays in a read-only memory mapping
// until Close. The exported fields describe the file as read, and
// changing them does not change what TensorBytes returns. A File's methods may be
// called from several goroutines at once, except Close.
type File struct {
	// Path is the path that the file was opened with.
	Path string
	// Version is the GGUF version of the file, 2 or 3.
	Version uint32
	// Alignment is the alignment of tensor data in bytes: the value of
	// general.alignment, or DefaultAlignment when the key is absent.
	Alignment uint64
	// KV lists the metadata entries in file order.
	KV []KV
	// Tensors lists the tensor index entries in file order.
	Tensors []TensorInfo

	data        []byte // the whole file, memory-mapped
	release     func() error
	closed      bool
	dataOffset  uint64
	keyIndex    map[string]int
	tensorIndex map[string]int
	spans       []span // validated byte range of each tensor, in file order
}

// span is a tensor's validated byte range [start, end) in the file and its
// type, kept apart from the exported Tensors so that callers cannot break
// them.
type span struct {
	start, end uint64
	typ        Type
}

// Open opens and validates the GGUF file at path. It reads GGUF versions
// 2 and 3, checks every count, length, offset and shape against the file
// size, and maps the file read-only. The caller must call Close to release
// the mapping. Errors name the file, the field and the offending value,
// and wrap one of the package's sentinel errors (ErrNotGGUF,
// ErrUnsupportedVersion, ErrTruncated, ErrInvalid, ErrUnknownType,
// ErrDuplicate) or the error of the operating system.
//
// NOTE: the file must not be truncated while it is open. Reading a mapped
// page past the new end raises SIGBUS, which crashes the program.
func Open(path string) (*File, error) {
	data, release, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := parse(path, data)
	if err != nil {
		// The parse error is what the caller needs, because a failed unmap
		// of a read-only mapping leaves nothing to recover.
		_ = release()
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	f.release = release
	return f, nil
}

// OpenBytes parses and validates a GGUF file held in memory, such as one
// embedded in the program, with the checks of Open. name stands for the
// file in Path and in error messages. Tensor slices alias data, which must
// not change while the File is in use; Close releases nothing.
func OpenBytes(name string, data []byte) (*File, error) {
	f, err := parse(name, data)
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", name, err)
	}
	return f, nil
}

// Close releases the memory mapping. Slices returned by TensorBytes, and
// F32 slices returned by TensorFloat32, must not be used after Close.
// Calling Close again returns nil.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.data = nil
	if f.release == nil {
		return nil
	}
	if err := f.release(); err != nil {
		return fmt.Errorf("gguf: %s: %w", f.Path, err)
	}
	return nil
}

// DataOffset returns the position of the data section in the file, in
// bytes. A tensor's data starts at DataOffset() + TensorInfo.Offset.
func (f *File) DataOffset() uint64 {
	return f.dataOffset
}

// parse decodes and validates the header, metadata and tensor index of
// the file contents buf. Errors carry no "gguf: path" prefix.
func parse(path string, buf []byte) (*File, error) {
	d := &decoder{buf: buf}
	f := &File{Path: path, data: buf}

	if err := parseHeaderStart(d, f); err != nil {
		return nil, err
	}
	nTensors, err := d.count("tensor count", minTensorInfoSize)
	if err != nil {
		return nil, err
	}
	nKV, err := d.count("metadata count", minKVSize)
	if err != nil {
		return nil, err
	}

	if err := parseKV(d, f, nKV); err != nil {
		return nil, err
	}
	if err := setAlignment(f); err != nil {
		return nil, err
	}

	if nTensors > d.left()/minTensorInfoSize {
		return nil, errorf(ErrTruncated, "tensor count %d needs at least %d bytes per tensor, but only %d bytes are left after the metadata",
			nTensors, minTensorInfoSize, d.left())
	}
	if err := parseTensorIndex(d, f, nTensors); err != nil {
		return nil, err
	}

	// The data section starts at the first aligned offset after the
	// tensor index. A file without tensors may end before it.
	f.dataOffset = alignUp(uint64(d.pos), f.Alignment)
	if err := checkTensorData(f, uint64(len(buf))); err != nil {
		return nil, err
	}
	return f, nil
}

// parseHeaderStart checks the magic and the version.
func parseHeaderStart(d *decoder, f *File) error {
	n := min(len(d.buf), len(magic))
	if string(d.buf[:n]) != magic[:n] {
		return errorf(ErrNotGGUF, "magic %q, want %q: not a GGUF file", d.buf[:n], magic)
	}
	if len(d.buf) < headerSize {
		return errorf(ErrTruncated, "file size %d is smaller than the %d-byte GGUF header", len(d.buf), headerSize)
	}
	d.pos = len(magic)

	v, err := d.u32("version")
	if err != nil {
		return err
	}
	switch {
	case v == 2 || v == 3:
		f.Version = v
		return nil
	case v == 1:
		return errorf(ErrUnsupportedVersion, "GGUF version 1 is not supported (it stores 32-bit counts); convert the model again with a current llama.cpp")
	case v&0xffff == 0 && v != 0 && bits.ReverseBytes32(v) <= 3:
		return errorf(ErrUnsupportedVersion, "version field 0x%08x looks like a big-endian GGUF file, which is not supported", v)
	}
	return errorf(ErrUnsupportedVersion, "GGUF version %d is not supported (want 2 or 3)", v)
}

// parseKV decodes n metadata entries and indexes them by key.
func parseKV(d *decoder, f *File, n int) error {
	f.KV = make([]KV, 0, n)
	f.keyIndex = make(map[string]int, n)
	for i := range n {
		key, err := d.str("key")
		if err != nil {
			return fmt.Errorf("metadata entry #%d: %w", i, err)
		}
		if _, dup := f.keyIndex[key]; dup {
			return errorf(ErrDuplicate, "metadata entry #%d: duplicate key %q", i, key)
		}
		vt, err := d.u32("value type")
		if err != nil {
			return fmt.Errorf("metadata key %q: %w", key, err)
		}
		value, err := d.value(ValueType(vt), 0)
		if err != nil {
			return fmt.Errorf("metadata key %q: %w", key, err)
		}
		f.keyIndex[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: value})
	}
	return nil
}

// setAlignment reads general.alignment, which must be a non-zero power of
// two of any integer type.
func setAlignment(f *File) error {
	f.Alignment = DefaultAlignment
	v, ok := f.Value(AlignmentKey)
	if !ok {
		return nil
	}
	a, ok := f.Uint(AlignmentKey)
	if !ok {
		return errorf(ErrInvalid, "metadata key %q: value %v of type %T is not an unsigned integer", AlignmentKey, v, v)
	}
	if a == 0 || a&(a-1) != 0 || a > maxAlignment {
		return errorf(ErrInvalid, "metadata key %q: alignment %d is not a power of two between 1 and %d", AlignmentKey, a, maxAlignment)
	}
	f.Alignment = a
	return nil
}

// parseTensorIndex decodes n tensor index entries and checks each one's
// dimensions, type and offset alignment. Sizes against the file are
// checked later, once the data section's position is known.
func parseTensorIndex(d *decoder, f *File, n int) error {
	f.Tensors = make([]TensorInfo, 0, n)
	f.tensorIndex = make(map[string]int, n)
	for i := range n {
		name, err := d.str("name")
		if err != nil {
			return fmt.Errorf("tensor #%d: %w", i, err)
		}
		if _, dup := f.tensorIndex[name]; dup {
			return errorf(ErrDuplicate, "tensor #%d: duplicate tensor name %q", i, name)
		}
		t, err := parseTensorInfo(d, name)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		if err := checkTensorInfo(&t, f.Alignment); err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		f.tensorIndex[name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	return nil
}

// parseTensorInfo decodes the fields after a tensor's name.
func parseTensorInfo(d *decoder, name string) (TensorInfo, error) {
	t := TensorInfo{Name: name}
	at := d.pos
	nDims, err := d.u32("dimension count")
	if err != nil {
		return t, err
	}
	if nDims == 0 || nDims > MaxDims {
		return t, errorf(ErrInvalid, "dimension count %d at offset %d is not between 1 and %d", nDims, at, MaxDims)
	}
	t.Dims = make([]uint64, nDims)
	for j := range t.Dims {
		if t.Dims[j], err = d.u64("dimension"); err != nil {
			return t, err
		}
	}

	at = d.pos
	typ, err := d.u32("tensor type")
	if err != nil {
		return t, err
	}
	t.Type = Type(typ)
	if !t.Type.Valid() {
		if _, named := typeTable[t.Type]; named {
			return t, errorf(ErrUnknownType, "tensor type %s (id %d) at offset %d was removed from ggml; convert the model again with a current llama.cpp", t.Type, typ, at)
		}
		return t, errorf(ErrUnknownType, "unknown tensor type id %d at offset %d", typ, at)
	}

	if t.Offset, err = d.u64("offset"); err != nil {
		return t, err
	}
	return t, nil
}

// checkTensorInfo checks that the dimensions' product fits in an int64,
// as ggml requires, that whole blocks make up each row, and that the
// offset is aligned.
func checkTensorInfo(t *TensorInfo, alignment uint64) error {
	n := uint64(1)
	for j, dim := range t.Dims {
		if dim > math.MaxInt64 {
			return errorf(ErrInvalid, "dimension %d is %d, above the int64 maximum that ggml allows", j, dim)
		}
		hi, lo := bits.Mul64(n, dim)
		if hi != 0 || lo > math.MaxInt64 {
			return errorf(ErrInvalid, "dimensions %v: element count overflows int64", t.Dims)
		}
		n = lo
	}
	bs := uint64(t.Type.BlockSize())
	if t.Dims[0]%bs != 0 {
		return errorf(ErrInvalid, "dimension 0 is %d, not a multiple of the %s block size %d", t.Dims[0], t.Type, bs)
	}
	if hi, _ := bits.Mul64(n/bs, uint64(t.Type.BlockBytes())); hi != 0 {
		return errorf(ErrInvalid, "dimensions %v: size in bytes overflows uint64", t.Dims)
	}
	if t.Offset%alignment != 0 {
		return errorf(ErrInvalid, "offset %d is not a multiple of the alignment %d", t.Offset, alignment)
	}
	return nil
}

// checkTensorData checks that each tensor's bytes lie inside the file and
// that no two tensors overlap, and records each tensor's byte range.
func checkTensorData(f *File, fileSize uint64) error {
	f.spans = make([]span, len(f.Tensors))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		size := t.NumBytes()
		if f.dataOffset > fileSize || size > fileSize-f.dataOffset || t.Offset > fileSize-f.dataOffset-size {
			return errorf(ErrTruncated, "tensor %q: offset %d + size %d + data section start %d exceeds file size %d",
				t.Name, t.Offset, size, f.dataOffset, fileSize)
		}
		start := f.dataOffset + t.Offset
		f.spans[i] = span{start: start, end: start + size, typ: t.Type}
	}

	// Once the non-empty tensors are sorted by start, they are all
	// disjoint exactly when each ends at or before the next one starts.
	order := make([]int, 0, len(f.spans))
	for i, s := range f.spans {
		if s.end > s.start {
			order = append(order, i)
		}
	}
	sort.Slice(order, func(a, b int) bool { return f.spans[order[a]].start < f.spans[order[b]].start })
	for k := 1; k < len(order); k++ {
		prev, next := order[k-1], order[k]
		if f.spans[prev].end > f.spans[next].start {
			return errorf(ErrInvalid, "tensor %q (offset %d, size %d) overlaps tensor %q (offset %d)",
				f.Tensors[prev].Name, f.Tensors[prev].Offset, f.spans[prev].end-f.spans[prev].start,
				f.Tensors[next].Name, f.Tensors[next].Offset)
		}
	}
	return nil
}

// alignUp rounds n up to a multiple of the power of two a. The callers
// keep n and a small enough that the sum cannot overflow.
func alignUp(n, a uint64) uint64 {
	return (n + a - 1) &^ (a - 1)
}
