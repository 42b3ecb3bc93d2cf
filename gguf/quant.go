package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/x448/float16"
)

// Float32ToF16 converts f to IEEE 754 half-precision bits, rounding to
// nearest with ties to even, as ggml's GGML_FP32_TO_FP16 does. Values
// beyond the half-precision range become infinities.
func Float32ToF16(f float32) uint16 {
	return float16.Fromfloat32(f).Bits()
}

// Float32ToBF16 converts f to bfloat16 bits, the upper half of the
// float32, rounding to nearest with ties to even. A NaN stays NaN and
// becomes quiet, and subnormals are kept, as in ggml_compute_fp32_to_bf16
// of current ggml (older versions flushed subnormals to zero).
func Float32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	// Adding 0x7fff, plus one when the kept part is odd, carries into the
	// upper half exactly when the dropped half rounds up.
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// Quantize encodes src as tensor data of type t into dst. len(src) must be
// a multiple of t.BlockSize(), and dst must have room for exactly
// len(src)/t.BlockSize() blocks of t.BlockBytes() bytes. It converts to
// F32, F16 (round to nearest even), BF16 (round to nearest even) and Q8_0
// (as ggml's reference quantize_row_q8_0_ref). Other known types give an
// error wrapping ErrUnsupportedType.
func Quantize(dst []byte, src []float32, t Type) error {
	if err := checkConvert(len(src), len(dst), t, quantTypes); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	le := binary.LittleEndian
	switch t {
	case TypeF32:
		for i, x := range src {
			le.PutUint32(dst[4*i:], math.Float32bits(x))
		}
	case TypeF16:
		for i, x := range src {
			le.PutUint16(dst[2*i:], Float32ToF16(x))
		}
	case TypeBF16:
		for i, x := range src {
			le.PutUint16(dst[2*i:], Float32ToBF16(x))
		}
	case TypeQ8_0:
		quantizeQ8_0(dst, src)
	}
	return nil
}

// quantizeQ8_0 encodes whole blocks of 32 values. Per block: amax is the
// largest |x|, the scale d = amax/127 is stored as F16, and each quant is
// round(x * (1/d)) with ties away from zero, or 0 when d is 0. The scale
// and its inverse are float32, as in ggml's reference quantizer, so the
// output matches ggml's bytes.
func quantizeQ8_0(dst []byte, src []float32) {
	for b := 0; b < len(src)/qk8_0; b++ {
		x := src[b*qk8_0 : (b+1)*qk8_0]
		block := dst[b*(2+qk8_0) : (b+1)*(2+qk8_0)]

		// A NaN fails the comparison and is skipped, as with ggml's MAX.
		var amax float32
		for _, v := range x {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}

		binary.LittleEndian.PutUint16(block, Float32ToF16(d))
		for j, v := range x {
			block[2+j] = byte(int8(math.Round(float64(v * id))))
		}
	}
}
