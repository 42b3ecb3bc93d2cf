package gguf

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// littleEndian is true on hosts whose native byte order matches GGUF's.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Tensor returns the index entry of the tensor called name. The entry
// belongs to the File and must not be modified. ok is false when the file
// has no such tensor.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensorIndex[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorBytes returns the raw data of the tensor called name, in its file
// type. The slice points into the read-only mapping: writing to it crashes
// the program, and it is valid only until Close. Errors wrap
// ErrTensorNotFound or ErrClosed.
func (f *File) TensorBytes(name string) ([]byte, error) {
	if f.closed {
		return nil, fmt.Errorf("gguf: %s: tensor %q: %w", f.Path, name, ErrClosed)
	}
	i, ok := f.tensorIndex[name]
	if !ok {
		return nil, fmt.Errorf("gguf: %s: %w: %q", f.Path, ErrTensorNotFound, name)
	}
	s := f.spans[i]
	return f.data[s.start:s.end:s.end], nil
}

// TensorFloat32 returns the values of the tensor called name as float32,
// ne0 varying fastest. Tensors of the types that [Dequantize] converts
// (F16, BF16, Q8_0, the legacy 4- and 5-bit quants and the K-quants) are
// decoded into a new slice. An F32 tensor whose data is 4-byte aligned is
// returned without a copy on little-endian hosts: that slice aliases the
// read-only mapping, so callers must not write to it, and it is valid only
// until Close. Other types give an error wrapping ErrUnsupportedType that
// names the tensor.
func (f *File) TensorFloat32(name string) ([]float32, error) {
	raw, err := f.TensorBytes(name)
	if err != nil {
		return nil, err
	}
	typ := f.spans[f.tensorIndex[name]].typ
	n := len(raw) / typ.BlockBytes() * typ.BlockSize()

	if typ == TypeF32 && littleEndian && len(raw) > 0 && uintptr(unsafe.Pointer(&raw[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n), nil
	}
	if err := checkConvert(n, len(raw), typ, dequantTypes); err != nil {
		return nil, fmt.Errorf("gguf: %s: tensor %q: %w", f.Path, name, err)
	}
	out := make([]float32, n)
	if err := dequantize(out, raw, typ); err != nil {
		return nil, fmt.Errorf("gguf: %s: tensor %q: %w", f.Path, name, err)
	}
	return out, nil
}
