package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
)

// maxNameBytes is the longest tensor name that ggml accepts: GGML_MAX_NAME
// is 64 bytes including the terminating NUL.
const maxNameBytes = 63

// Writer collects metadata and tensors and writes them as one GGUF v3
// file. Keys and tensors are written in the order they were added. The
// zero value is not ready for use, so call NewWriter.
type Writer struct {
	alignment uint64
	kv        []KV
	keyIndex  map[string]int
	tensors   []pendingTensor
	names     map[string]bool
}

type pendingTensor struct {
	info TensorInfo
	data []byte
}

// NewWriter returns an empty Writer with the default alignment of 32
// bytes.
func NewWriter() *Writer {
	return &Writer{
		alignment: DefaultAlignment,
		keyIndex:  map[string]int{},
		names:     map[string]bool{},
	}
}

// SetAlignment sets the alignment of tensor data in bytes. It must be a
// non-zero power of two no larger than 1 GiB, and WriteFile and WriteTo
// report a bad value. An alignment other than 32 is written as the
// uint32 key general.alignment before all other keys, unless that key
// was added with Add, in which case its value is replaced by uint32(n).
func (w *Writer) SetAlignment(n uint64) {
	w.alignment = n
	if i, ok := w.keyIndex[AlignmentKey]; ok {
		w.kv[i].Value = uint32(min(n, math.MaxUint32))
	}
}

// Add appends the metadata entry key = value. value must be one of the
// scalar types uint8, int8, uint16, int16, uint32, int32, float32, bool,
// string, uint64, int64 and float64, an Array, or a slice of one of the
// scalar types or of Array, which becomes an Array. Slices are copied.
// Plain int and uint are rejected because GGUF has no type of their
// width. Adding general.alignment also sets the alignment, and its value
// must be a valid alignment. Errors wrap ErrDuplicate for a repeated key.
func (w *Writer) Add(key string, value any) error {
	if _, dup := w.keyIndex[key]; dup {
		return fmt.Errorf("gguf: metadata key %q: %w", key, ErrDuplicate)
	}
	v, err := normalizeValue(value, 0)
	if err != nil {
		return fmt.Errorf("gguf: metadata key %q: %w", key, err)
	}
	if key == AlignmentKey {
		a, ok := toUint(v)
		if !ok || a == 0 || a&(a-1) != 0 || a > maxAlignment {
			return fmt.Errorf("gguf: metadata key %q: alignment %v is not a power of two between 1 and %d", key, v, maxAlignment)
		}
		w.alignment = a
	}
	w.keyIndex[key] = len(w.kv)
	w.kv = append(w.kv, KV{Key: key, Value: v})
	return nil
}

// normalizeValue checks value and turns a convenience slice into an
// Array, copying slices so that the caller may reuse them.
func normalizeValue(value any, depth int) (any, error) {
	switch v := value.(type) {
	case uint8, int8, uint16, int16, uint32, int32, float32, bool, string, uint64, int64, float64:
		return v, nil
	case Array:
		return cloneArray(v, depth+1)
	case int, uint:
		return nil, fmt.Errorf("value of type %T has no GGUF type: use a sized type such as uint32 or int64", value)
	}
	if elem, ok := sliceElem(value); ok {
		return cloneArray(Array{Elem: elem, Values: value}, depth+1)
	}
	return nil, fmt.Errorf("value of type %T has no GGUF type", value)
}

// sliceElem returns the element type of a slice that can form an Array.
func sliceElem(values any) (ValueType, bool) {
	switch values.(type) {
	case []uint8:
		return ValueUint8, true
	case []int8:
		return ValueInt8, true
	case []uint16:
		return ValueUint16, true
	case []int16:
		return ValueInt16, true
	case []uint32:
		return ValueUint32, true
	case []int32:
		return ValueInt32, true
	case []float32:
		return ValueFloat32, true
	case []bool:
		return ValueBool, true
	case []string:
		return ValueString, true
	case []uint64:
		return ValueUint64, true
	case []int64:
		return ValueInt64, true
	case []float64:
		return ValueFloat64, true
	case []Array:
		return ValueArray, true
	}
	return 0, false
}

// cloneArray checks that a's Values match its Elem and copies them. A nil
// Values is an empty array. depth is the nesting level of a.
func cloneArray(a Array, depth int) (Array, error) {
	if depth > maxArrayDepth {
		return Array{}, fmt.Errorf("arrays nested more than %d levels deep", maxArrayDepth)
	}
	if !a.Elem.Valid() {
		return Array{}, fmt.Errorf("array element type %s: %w", a.Elem, ErrUnknownType)
	}
	if a.Values == nil {
		return Array{Elem: a.Elem, Values: emptyValues(a.Elem)}, nil
	}
	elem, ok := sliceElem(a.Values)
	if !ok || elem != a.Elem {
		return Array{}, fmt.Errorf("array values of type %T do not match element type %s", a.Values, a.Elem)
	}
	switch v := a.Values.(type) {
	case []uint8:
		return Array{Elem: elem, Values: append([]uint8{}, v...)}, nil
	case []int8:
		return Array{Elem: elem, Values: append([]int8{}, v...)}, nil
	case []uint16:
		return Array{Elem: elem, Values: append([]uint16{}, v...)}, nil
	case []int16:
		return Array{Elem: elem, Values: append([]int16{}, v...)}, nil
	case []uint32:
		return Array{Elem: elem, Values: append([]uint32{}, v...)}, nil
	case []int32:
		return Array{Elem: elem, Values: append([]int32{}, v...)}, nil
	case []float32:
		return Array{Elem: elem, Values: append([]float32{}, v...)}, nil
	case []bool:
		return Array{Elem: elem, Values: append([]bool{}, v...)}, nil
	case []string:
		return Array{Elem: elem, Values: append([]string{}, v...)}, nil
	case []uint64:
		return Array{Elem: elem, Values: append([]uint64{}, v...)}, nil
	case []int64:
		return Array{Elem: elem, Values: append([]int64{}, v...)}, nil
	case []float64:
		return Array{Elem: elem, Values: append([]float64{}, v...)}, nil
	}
	inner := a.Values.([]Array)
	out := make([]Array, len(inner))
	for i, x := range inner {
		c, err := cloneArray(x, depth+1)
		if err != nil {
			return Array{}, fmt.Errorf("array element %d: %w", i, err)
		}
		out[i] = c
	}
	return Array{Elem: elem, Values: out}, nil
}

// emptyValues returns an empty slice of the Go type for elem.
func emptyValues(elem ValueType) any {
	switch elem {
	case ValueString:
		return []string{}
	case ValueArray:
		return []Array{}
	}
	return decodeScalars(elem, nil, 0)
}

// AddTensor appends a tensor of type t with dimensions dims (ne0 first)
// whose encoded data is data. data must hold exactly the tensor's size in
// bytes, and it is not copied: it must stay unchanged until the last
// WriteFile or WriteTo. The name must be unique, non-empty and at most 63
// bytes long (ggml's limit), dims must have 1 to 4 entries, and dims[0]
// must be a multiple of t's block size.
func (w *Writer) AddTensor(name string, t Type, dims []uint64, data []byte) error {
	info, err := w.newTensorInfo(name, t, dims)
	if err != nil {
		return err
	}
	if size := info.NumBytes(); uint64(len(data)) != size {
		return fmt.Errorf("gguf: tensor %q: data has %d bytes, but %s dimensions %v take %d", name, len(data), t, dims, size)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, pendingTensor{info: info, data: data})
	return nil
}

// AddFloat32 appends a tensor of type t with dimensions dims (ne0 first),
// encoding values with Quantize. t must be F32, F16, BF16 or Q8_0, and
// len(values) must equal the product of dims. The other rules of
// AddTensor apply.
func (w *Writer) AddFloat32(name string, t Type, dims []uint64, values []float32) error {
	info, err := w.newTensorInfo(name, t, dims)
	if err != nil {
		return err
	}
	if n := info.NumElements(); uint64(len(values)) != n {
		return fmt.Errorf("gguf: tensor %q: %d values given, but dimensions %v hold %d", name, len(values), dims, n)
	}
	data := make([]byte, info.NumBytes())
	if err := Quantize(data, values, t); err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	return w.AddTensor(name, t, dims, data)
}

// newTensorInfo checks a tensor's name, type and dimensions. The offset
// is set when the file is written.
func (w *Writer) newTensorInfo(name string, t Type, dims []uint64) (TensorInfo, error) {
	switch {
	case name == "":
		return TensorInfo{}, fmt.Errorf("gguf: tensor name is empty")
	case len(name) > maxNameBytes:
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: name has %d bytes, more than ggml's limit of %d", name, len(name), maxNameBytes)
	case w.names[name]:
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: %w", name, ErrDuplicate)
	case !t.Valid():
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: tensor type %s: %w", name, t, ErrUnknownType)
	case len(dims) == 0 || len(dims) > MaxDims:
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: %d dimensions, want 1 to %d", name, len(dims), MaxDims)
	}
	info := TensorInfo{Name: name, Type: t, Dims: append([]uint64{}, dims...)}
	if err := checkTensorInfo(&info, 1); err != nil {
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	return info, nil
}

// WriteFile writes the GGUF file to path atomically: it writes a
// temporary file in the same directory, syncs it to disk, and renames it
// over path, so readers see either the old file or the whole new one. If
// writing fails, the temporary file is removed and path is left unchanged.
// A symbolic link at path is followed, so the file it points to is
// replaced and the link stays. The new file keeps the permissions of the
// file it replaces, or gets mode 0644. On systems where directories can
// be synced, the directory is synced after the rename. If that fails, the
// error states that path was already replaced.
func (w *Writer) WriteFile(path string) (err error) {
	if err := w.checkAlignment(); err != nil {
		return err
	}
	target, mode := path, os.FileMode(0o644)
	if info, statErr := os.Stat(path); statErr == nil {
		if !info.Mode().IsRegular() {
			return fmt.Errorf("gguf: %s is not a regular file; give a file path", path)
		}
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return fmt.Errorf("gguf: %w", err)
		}
		mode = info.Mode().Perm()
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	bw := bufio.NewWriterSize(tmp, 1<<20)
	if _, err := w.WriteTo(bw); err != nil {
		return fmt.Errorf("gguf: writing %s: %w", tmp.Name(), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("gguf: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("gguf: %s was written, but syncing its directory failed: %w", path, err)
	}
	return nil
}

func (w *Writer) checkAlignment() error {
	a := w.alignment
	if a == 0 || a&(a-1) != 0 || a > maxAlignment {
		return fmt.Errorf("gguf: alignment %d is not a power of two between 1 and %d", a, maxAlignment)
	}
	return nil
}

// WriteTo writes the GGUF file to out and returns the number of bytes
// written. It implements io.WriterTo.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	if err := w.checkAlignment(); err != nil {
		return 0, err
	}
	kv := w.kv
	if _, ok := w.keyIndex[AlignmentKey]; !ok && w.alignment != DefaultAlignment {
		kv = append([]KV{{Key: AlignmentKey, Value: uint32(w.alignment)}}, kv...)
	}

	// Lay out the data section: each tensor starts at an aligned offset.
	offsets := make([]uint64, len(w.tensors))
	var end uint64
	for i, t := range w.tensors {
		offsets[i] = alignUp(end, w.alignment)
		var carry uint64
		end, carry = bits.Add64(offsets[i], t.info.NumBytes(), 0)
		if carry != 0 {
			return 0, fmt.Errorf("gguf: tensor %q: data section exceeds 2^64 bytes", t.info.Name)
		}
	}

	header := encodeHeader(kv, w.tensors, offsets)
	cw := &countingWriter{w: out}
	cw.write(header)
	cw.pad(alignUp(uint64(len(header)), w.alignment) - uint64(len(header)))
	for i, t := range w.tensors {
		cw.write(t.data)
		cw.pad(alignUp(offsets[i]+uint64(len(t.data)), w.alignment) - offsets[i] - uint64(len(t.data)))
	}
	return cw.n, cw.err
}

// encodeHeader encodes the header, metadata and tensor index.
func encodeHeader(kv []KV, tensors []pendingTensor, offsets []uint64) []byte {
	le := binary.LittleEndian
	b := []byte(magic)
	b = le.AppendUint32(b, 3)
	b = le.AppendUint64(b, uint64(len(tensors)))
	b = le.AppendUint64(b, uint64(len(kv)))
	for _, e := range kv {
		b = appendString(b, e.Key)
		b = le.AppendUint32(b, uint32(valueTypeOf(e.Value)))
		b = appendValue(b, e.Value)
	}
	for i, t := range tensors {
		b = appendString(b, t.info.Name)
		b = le.AppendUint32(b, uint32(len(t.info.Dims)))
		for _, d := range t.info.Dims {
			b = le.AppendUint64(b, d)
		}
		b = le.AppendUint32(b, uint32(t.info.Type))
		b = le.AppendUint64(b, offsets[i])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// valueTypeOf returns the GGUF type of a value that normalizeValue
// accepted.
func valueTypeOf(v any) ValueType {
	switch v.(type) {
	case uint8:
		return ValueUint8
	case int8:
		return ValueInt8
	case uint16:
		return ValueUint16
	case int16:
		return ValueInt16
	case uint32:
		return ValueUint32
	case int32:
		return ValueInt32
	case float32:
		return ValueFloat32
	case bool:
		return ValueBool
	case string:
		return ValueString
	case uint64:
		return ValueUint64
	case int64:
		return ValueInt64
	case float64:
		return ValueFloat64
	}
	return ValueArray
}

// appendValue appends the encoding of a value that normalizeValue
// accepted, without its type id. An array's encoding starts with its
// element type and count.
func appendValue(b []byte, value any) []byte {
	le := binary.LittleEndian
	switch v := value.(type) {
	case uint8:
		return append(b, v)
	case int8:
		return append(b, byte(v))
	case uint16:
		return le.AppendUint16(b, v)
	case int16:
		return le.AppendUint16(b, uint16(v))
	case uint32:
		return le.AppendUint32(b, v)
	case int32:
		return le.AppendUint32(b, uint32(v))
	case float32:
		return le.AppendUint32(b, math.Float32bits(v))
	case bool:
		if v {
			return append(b, 1)
		}
		return append(b, 0)
	case string:
		return appendString(b, v)
	case uint64:
		return le.AppendUint64(b, v)
	case int64:
		return le.AppendUint64(b, uint64(v))
	case float64:
		return le.AppendUint64(b, math.Float64bits(v))
	case Array:
		b = le.AppendUint32(b, uint32(v.Elem))
		b = le.AppendUint64(b, uint64(v.Len()))
		return appendElements(b, v.Values)
	}
	panic(fmt.Sprintf("gguf: appendValue called with unchecked type %T", value))
}

// appendElements appends each element of a typed slice.
func appendElements(b []byte, values any) []byte {
	switch s := values.(type) {
	case []uint8:
		return append(b, s...)
	case []int8:
		return appendEach(b, s)
	case []uint16:
		return appendEach(b, s)
	case []int16:
		return appendEach(b, s)
	case []uint32:
		return appendEach(b, s)
	case []int32:
		return appendEach(b, s)
	case []float32:
		return appendEach(b, s)
	case []bool:
		return appendEach(b, s)
	case []string:
		return appendEach(b, s)
	case []uint64:
		return appendEach(b, s)
	case []int64:
		return appendEach(b, s)
	case []float64:
		return appendEach(b, s)
	case []Array:
		return appendEach(b, s)
	}
	panic(fmt.Sprintf("gguf: appendElements called with unchecked type %T", values))
}

func appendEach[T any](b []byte, s []T) []byte {
	for _, x := range s {
		b = appendValue(b, x)
	}
	return b
}

// countingWriter writes to w, counts the bytes, and keeps the first error
// so that later writes become no-ops.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
}

var zeros [4096]byte

func (c *countingWriter) pad(n uint64) {
	for n > 0 {
		k := min(n, uint64(len(zeros)))
		c.write(zeros[:k])
		n -= k
	}
}
