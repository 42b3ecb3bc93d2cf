package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/x448/float16"
)

// dequantTypes lists the tensor types that Dequantize decodes, and
// quantTypes those that Quantize encodes.
var (
	dequantTypes = []Type{
		TypeF32, TypeF16, TypeBF16, TypeQ8_0,
		TypeQ4_0, TypeQ4_1, TypeQ5_0, TypeQ5_1,
		TypeQ2_K, TypeQ3_K, TypeQ4_K, TypeQ5_K, TypeQ6_K,
	}
	quantTypes = []Type{TypeF32, TypeF16, TypeBF16, TypeQ8_0}
)

// qk8_0 is the number of values in a Q8_0 block. A block stores an F16
// scale d followed by qk8_0 int8 quants q, and value j is d*q[j].
const qk8_0 = 32

var (
	f16Once  sync.Once
	f16Table *[1 << 16]float32
)

// F16ToFloat32 converts IEEE 754 half-precision bits to float32. The
// conversion is exact for every number, subnormals and infinities
// included, and NaN stays NaN. It reads a 256 KiB table built on first
// use.
func F16ToFloat32(bits uint16) float32 {
	f16Once.Do(buildF16Table)
	return f16Table[bits]
}

// f16Lookup returns the F16 conversion table, building it on first use.
func f16Lookup() *[1 << 16]float32 {
	f16Once.Do(buildF16Table)
	return f16Table
}

func buildF16Table() {
	t := new([1 << 16]float32)
	for i := range t {
		t[i] = float16.Frombits(uint16(i)).Float32()
	}
	f16Table = t
}

// BF16ToFloat32 converts bfloat16 bits, the upper half of a float32, to
// float32. The conversion is exact.
func BF16ToFloat32(bits uint16) float32 {
	return math.Float32frombits(uint32(bits) << 16)
}

// Dequantize decodes the tensor data src of type t into dst. len(dst) must
// be a multiple of t.BlockSize(), and src must hold exactly
// len(dst)/t.BlockSize() blocks of t.BlockBytes() bytes. It converts F32,
// F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K and
// Q6_K, with the same float32 operations as ggml's dequantize_row_*, so
// the results are bit for bit those of ggml's CPU code. Other known types
// (the IQ and TQ types, MXFP4, Q8_1, Q8_K, the integer types, F64) give an
// error wrapping ErrUnsupportedType, and unknown ids one wrapping
// ErrUnknownType. Dequantize does not allocate.
func Dequantize(dst []float32, src []byte, t Type) error {
	if err := dequantize(dst, src, t); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// dequantize is Dequantize with errors that carry no "gguf:" prefix, so
// that TensorFloat32 can add the file and tensor name.
func dequantize(dst []float32, src []byte, t Type) error {
	if err := checkConvert(len(dst), len(src), t, dequantTypes); err != nil {
		return err
	}
	le := binary.LittleEndian
	switch t {
	case TypeF32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case TypeF16:
		f16Once.Do(buildF16Table)
		table := f16Table
		for i := range dst {
			dst[i] = table[le.Uint16(src[2*i:])]
		}
	case TypeBF16:
		for i := range dst {
			dst[i] = BF16ToFloat32(le.Uint16(src[2*i:]))
		}
	case TypeQ8_0:
		dequantizeQ8_0(dst, src)
	case TypeQ4_0:
		dequantizeQ4_0(dst, src)
	case TypeQ4_1:
		dequantizeQ4_1(dst, src)
	case TypeQ5_0:
		dequantizeQ5_0(dst, src)
	case TypeQ5_1:
		dequantizeQ5_1(dst, src)
	case TypeQ2_K:
		dequantizeQ2_K(dst, src)
	case TypeQ3_K:
		dequantizeQ3_K(dst, src)
	case TypeQ4_K:
		dequantizeQ4_K(dst, src)
	case TypeQ5_K:
		dequantizeQ5_K(dst, src)
	case TypeQ6_K:
		dequantizeQ6_K(dst, src)
	}
	return nil
}

// dequantizeQ8_0 decodes whole Q8_0 blocks. The caller has checked the
// lengths.
func dequantizeQ8_0(dst []float32, src []byte) {
	table := f16Lookup()
	for b := 0; b < len(dst)/qk8_0; b++ {
		block := src[b*(2+qk8_0) : (b+1)*(2+qk8_0)]
		d := table[binary.LittleEndian.Uint16(block)]
		out := dst[b*qk8_0 : (b+1)*qk8_0]
		for j, q := range block[2:] {
			out[j] = d * float32(int8(q))
		}
	}
}

// checkConvert checks that t is one of the supported types (dequantTypes
// or quantTypes) and that n values of it take exactly srcLen bytes.
func checkConvert(n, srcLen int, t Type, supported []Type) error {
	if !t.Valid() {
		return errorf(ErrUnknownType, "unknown tensor type %s", t)
	}
	if !slices.Contains(supported, t) {
		// NOTE: the IQ and TQ types, MXFP4, Q8_1, Q8_K, F64 and the integer
		// types are not decoded. Tensors of those types can be read only as
		// raw bytes, with TensorBytes.
		return errorf(ErrUnsupportedType, "unsupported tensor type %s (supported: %s)", t, typeList(supported))
	}
	bs := t.BlockSize()
	if n%bs != 0 {
		return fmt.Errorf("%d values are not a whole number of %s blocks of %d", n, t, bs)
	}
	if want := n / bs * t.BlockBytes(); srcLen != want {
		return fmt.Errorf("%d %s values take %d bytes, got %d", n, t, want, srcLen)
	}
	return nil
}

// typeList returns the names of types, comma-separated.
func typeList(types []Type) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.String()
	}
	return strings.Join(names, ", ")
}
