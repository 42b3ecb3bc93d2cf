package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/x448/float16"
)

// supportedTypes names the tensor types that Dequantize and Quantize
// convert, for error messages.
const supportedTypes = "F32, F16, BF16, Q8_0"

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
// F16, BF16 and Q8_0. Other known types give an error wrapping
// ErrUnsupportedType, and unknown ids one wrapping ErrUnknownType.
func Dequantize(dst []float32, src []byte, t Type) error {
	if err := dequantize(dst, src, t); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// dequantize is Dequantize with errors that carry no "gguf:" prefix, so
// that TensorFloat32 can add the file and tensor name.
func dequantize(dst []float32, src []byte, t Type) error {
	if err := checkConvert(len(dst), len(src), t); err != nil {
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
	}
	return nil
}

// dequantizeQ8_0 decodes whole Q8_0 blocks. The caller has checked the
// lengths.
func dequantizeQ8_0(dst []float32, src []byte) {
	f16Once.Do(buildF16Table)
	table := f16Table
	for b := 0; b < len(dst)/qk8_0; b++ {
		block := src[b*(2+qk8_0) : (b+1)*(2+qk8_0)]
		d := table[binary.LittleEndian.Uint16(block)]
		out := dst[b*qk8_0 : (b+1)*qk8_0]
		for j, q := range block[2:] {
			out[j] = d * float32(int8(q))
		}
	}
}

// checkConvert checks that t is a type this package converts and that n
// values of it take exactly srcLen bytes.
func checkConvert(n, srcLen int, t Type) error {
	switch t {
	case TypeF32, TypeF16, TypeBF16, TypeQ8_0:
	default:
		if !t.Valid() {
			return errorf(ErrUnknownType, "unknown tensor type %s", t)
		}
		// TODO: decode Q4_0, Q4_1, Q5_0, Q5_1 and the K-quants here. Until
		// then, tensors of those types can be read only as raw bytes.
		return errorf(ErrUnsupportedType, "unsupported tensor type %s (supported: %s)", t, supportedTypes)
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
