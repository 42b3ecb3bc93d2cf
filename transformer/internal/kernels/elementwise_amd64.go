//go:build amd64 && !purego

package kernels

import (
	"math"

	"golang.org/x/sys/cpu"

	"github.com/interp-go/interp/gguf"
)

// useElementwiseAsm selects the AVX2 and FMA kernels of
// elementwise_amd64.s for GELU, SiLU, the exponentials of Softmax, Dot
// and Axpy. Tests turn it off to compare with the portable code.
var useElementwiseAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useHalfConvertAsm selects floatToHalfBits, which needs AVX and F16C,
// for the F16 rounding of GELUHalf. Tests turn it off to compare with
// gguf.Float32ToF16.
var useHalfConvertAsm = cpu.X86.HasAVX2 && hasF16C()

// floatToHalfBits sets dst[i] to the F16 bits of src[i], rounded to
// nearest with ties to even, for i < 8·n8 (n8 > 0) with VCVTPS2PH.
//
//go:noescape
func floatToHalfBits(n8 int, src *float32, dst *uint16)

// toHalfBits sets dst[i] to the F16 bits of x[i] for every i, as
// gguf.Float32ToF16 rounds except for the payloads of NaNs.
func toHalfBits(dst []uint16, x []float32) {
	dst = dst[:len(x)]
	done := 0
	if useHalfConvertAsm && len(x) >= 8 {
		done = len(x) / 8 * 8
		floatToHalfBits(len(x)/8, &x[0], &dst[0])
	}
	for i := done; i < len(x); i++ {
		dst[i] = gguf.Float32ToF16(x[i])
	}
}

// geluAVX2 is geluGo on n floats, n a multiple of 4.
//
//go:noescape
func geluAVX2(out, x *float32, n int)

// siluAVX2 is siluGo on n floats, n a multiple of 4.
//
//go:noescape
func siluAVX2(out, x *float32, n int)

// expShiftSumAVX2 is expShiftSumGo on n floats, n a multiple of 4.
//
//go:noescape
func expShiftSumAVX2(x *float32, n int, shift float32) float64

// sdotAVX2 returns the inner product of n floats at a and b, summed in
// float32 in 32 lanes and then across them.
//
//go:noescape
func sdotAVX2(a, b *float32, n int) float32

// saxpyAVX2 sets y[i] += alpha·x[i] for n floats with fused multiply-adds.
//
//go:noescape
func saxpyAVX2(alpha float32, x, y *float32, n int)

// dotAsm is Dot with the AVX2 kernel.
func dotAsm(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	return sdotAVX2(&a[0], &b[0], len(a))
}

// axpyAsm is Axpy with the AVX2 kernel.
func axpyAsm(alpha float32, x, y []float32) {
	if len(x) == 0 {
		return
	}
	y = y[:len(x)]
	saxpyAVX2(alpha, &x[0], &y[0], len(x))
}

// geluAsm is geluGo with the AVX2 kernel. The last len(x) mod 4 floats go
// through the kernel in a zero-padded buffer.
func geluAsm(out, x []float32) {
	out = out[:len(x)]
	n := len(x) &^ 3
	if n > 0 {
		geluAVX2(&out[0], &x[0], n)
	}
	if n < len(x) {
		var tail [4]float32
		copy(tail[:], x[n:])
		geluAVX2(&tail[0], &tail[0], 4)
		copy(out[n:], tail[:])
	}
}

// siluAsm is siluGo with the AVX2 kernel, padded as geluAsm is.
func siluAsm(out, x []float32) {
	out = out[:len(x)]
	n := len(x) &^ 3
	if n > 0 {
		siluAVX2(&out[0], &x[0], n)
	}
	if n < len(x) {
		var tail [4]float32
		copy(tail[:], x[n:])
		siluAVX2(&tail[0], &tail[0], 4)
		copy(out[n:], tail[:])
	}
}

// expShiftSumAsm is expShiftSumGo with the AVX2 kernel. The last
// len(x) mod 4 floats go through it in a buffer padded with −Inf, whose
// exponentials are exactly 0.
func expShiftSumAsm(x []float32, shift float32) float64 {
	n := len(x) &^ 3
	var sum float64
	if n > 0 {
		sum = expShiftSumAVX2(&x[0], n, shift)
	}
	if n < len(x) {
		negInf := float32(math.Inf(-1))
		tail := [4]float32{negInf, negInf, negInf, negInf}
		copy(tail[:], x[n:])
		sum += expShiftSumAVX2(&tail[0], 4, shift)
		copy(x[n:], tail[:])
	}
	return sum
}
