package kernels

import (
	"math"
	"sync"

	"github.com/interp-go/interp/gguf"
)

// LayerNormalize writes (x − mean) / sqrt(var + eps) of each row of x, which
// is [rows, n], into out and the divisor of each row into scale [rows]. The
// statistics are accumulated in float64.
func LayerNormalize(out, scale, x []float32, n int, eps float32) {
	for r := range scale {
		row := x[r*n : (r+1)*n]
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		mean := sum / float64(n)
		var sq float64
		for _, v := range row {
			d := float64(v) - mean
			sq += d * d
		}
		// Dividing by the stored float32 divisor keeps the result identical
		// to DivideRows, which a hooked scale goes through.
		scale[r] = float32(math.Sqrt(sq/float64(n) + float64(eps)))
		sd := float64(scale[r])
		o := out[r*n : (r+1)*n]
		for i, v := range row {
			o[i] = float32((float64(v) - mean) / sd)
		}
	}
}

// RMSNormalize writes x / sqrt(mean(x²) + eps) of each row of x, which is
// [rows, n], into out and the divisor of each row into scale [rows].
func RMSNormalize(out, scale, x []float32, n int, eps float32) {
	for r := range scale {
		row := x[r*n : (r+1)*n]
		var sq float64
		for _, v := range row {
			sq += float64(v) * float64(v)
		}
		scale[r] = float32(math.Sqrt(sq/float64(n) + float64(eps)))
		rms := float64(scale[r])
		o := out[r*n : (r+1)*n]
		for i, v := range row {
			o[i] = float32(float64(v) / rms)
		}
	}
}

// Affine sets out[r, i] = x[r, i]·weight[i] + bias[i] for rows of
// len(weight); bias may be nil.
func Affine(out, x, weight, bias []float32) {
	n := len(weight)
	for off := 0; off+n <= len(x); off += n {
		o := out[off : off+n]
		row := x[off : off+n]
		if bias == nil {
			for i, w := range weight {
				o[i] = row[i] * w
			}
			continue
		}
		for i, w := range weight {
			o[i] = row[i]*w + bias[i]
		}
	}
}

// GELU sets out[i] to the tanh approximation of GELU of x[i], as GPT-2
// defines it: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). It computes in
// float64 and rounds once to float32, so the result is within about 1e-11
// relative of the exact function before that rounding. GELU(−Inf) is NaN,
// as the formula gives.
func GELU(out, x []float32) {
	if useElementwiseAsm {
		parallelChunks(out, x, geluAsm)
		return
	}
	parallelChunks(out, x, geluGo)
}

// SiLU sets out[i] = x[i]·sigmoid(x[i]), computed as x/(1 + exp(−x)) in
// float64. SiLU(−Inf) is NaN, as that formula gives.
func SiLU(out, x []float32) {
	if useElementwiseAsm {
		parallelChunks(out, x, siluAsm)
		return
	}
	parallelChunks(out, x, siluGo)
}

// Mul sets dst[i] *= src[i] for every i.
func Mul(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] *= src[i]
	}
}

// Softmax replaces x with its softmax. Entries of −Inf get probability 0; a
// row whose entries are all −Inf becomes all zeros.
func Softmax(x []float32) {
	maxv := float32(math.Inf(-1))
	for _, v := range x {
		maxv = max(maxv, v)
	}
	if math.IsInf(float64(maxv), -1) {
		clear(x)
		return
	}
	var sum float64
	if useElementwiseAsm {
		sum = expShiftSumAsm(x, maxv)
	} else {
		sum = expShiftSumGo(x, maxv)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// Dot returns the inner product of a and b, which must have equal lengths.
func Dot(a, b []float32) float32 {
	if useElementwiseAsm {
		return dotAsm(a, b)
	}
	return impl.Sdot(len(a), a, 1, b, 1)
}

// Axpy sets y += alpha·x.
func Axpy(alpha float32, x, y []float32) {
	if useElementwiseAsm {
		axpyAsm(alpha, x, y)
		return
	}
	impl.Saxpy(len(x), alpha, x, 1, y, 1)
}

// DivideRows sets each row of out, [rows, n], to the row of x divided by
// that row's scale, after subtracting the row's mean when center is set:
// the normalization step of LayerNorm (center) or RMSNorm with a given
// divisor.
func DivideRows(out, x, scale []float32, n int, center bool) {
	for r, s := range scale {
		row := x[r*n : (r+1)*n]
		var mean float64
		if center {
			for _, v := range row {
				mean += float64(v)
			}
			mean /= float64(n)
		}
		o := out[r*n : (r+1)*n]
		for i, v := range row {
			o[i] = float32((float64(v) - mean) / float64(s))
		}
	}
}

// Scale sets x[i] *= s for every i.
func Scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// geluTable holds llama.cpp's GELU of every F16 value, rounded to F16 as
// the table its CPU backend looks GELU up in, and widened to float32 so
// that a lookup needs no conversion.
var (
	geluTableOnce sync.Once
	geluTable     []float32
)

// buildGELUTable fills geluTable.
func buildGELUTable() {
	const (
		coefA       = float32(0.044715)
		sqrt2OverPi = float32(0.79788456080286535587989211986876)
	)
	geluTable = make([]float32, 1<<16)
	for i := range geluTable {
		f := gguf.F16ToFloat32(uint16(i))
		inner := float32(sqrt2OverPi*f) * float32(1+float32(float32(coefA*f)*f))
		t := float32(math.Tanh(float64(inner)))
		geluTable[i] = gguf.F16ToFloat32(gguf.Float32ToF16(float32(float32(0.5*f) * float32(1+t))))
	}
}

// GELUHalf sets out[i] to GELU of x[i] as llama.cpp's CPU backend computes
// it (ggml_vec_gelu_f32 with GGML_GELU_FP16): 0 at or below −10, x at or
// above 10, and otherwise the tanh approximation of the input rounded to
// F16, evaluated in float32 and rounded to F16 again. Long slices are
// split across GOMAXPROCS goroutines.
func GELUHalf(out, x []float32) {
	geluTableOnce.Do(buildGELUTable)
	parallelChunks(out, x, geluHalfChunk)
}

// geluHalfChunk is GELUHalf for one range of out and x. It rounds x to F16
// in groups of 256, with VCVTPS2PH where the CPU has it.
func geluHalfChunk(out, x []float32) {
	out = out[:len(x)]
	table := geluTable[:1<<16]
	var bits [256]uint16
	for len(x) > 0 {
		n := min(len(x), len(bits))
		toHalfBits(bits[:n], x[:n])
		for i, v := range x[:n] {
			switch {
			case v <= -10:
				out[i] = 0
			case v >= 10:
				out[i] = v
			case v != v:
				// VCVTPS2PH and gguf.Float32ToF16 may keep different
				// NaN payloads, and so pick different table entries.
				out[i] = table[gguf.Float32ToF16(v)]
			default:
				out[i] = table[bits[i]]
			}
		}
		x, out = x[n:], out[n:]
	}
}
