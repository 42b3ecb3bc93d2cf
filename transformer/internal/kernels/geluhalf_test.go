package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// geluHalfReference is GELUHalf one value at a time as llama.cpp's
// ggml_vec_gelu_f32 computes it with GGML_GELU_FP16: round the input to
// F16, look up the tanh approximation computed in float32 for that F16
// value, and round the result to F16.
func geluHalfReference(v float32) float32 {
	const (
		coefA       = float32(0.044715)
		sqrt2OverPi = float32(0.79788456080286535587989211986876)
	)
	switch {
	case v <= -10:
		return 0
	case v >= 10:
		return v
	}
	f := gguf.F16ToFloat32(gguf.Float32ToF16(v))
	inner := float32(sqrt2OverPi*f) * float32(1+float32(float32(coefA*f)*f))
	t := float32(math.Tanh(float64(inner)))
	return gguf.F16ToFloat32(gguf.Float32ToF16(float32(float32(0.5*f) * float32(1+t))))
}

// geluHalfInputs returns values that exercise the F16 rounding: every
// F16 value below 10 in magnitude and its neighbours in float32, the
// midpoints between neighbouring F16 values (ties), the clamps at ±10,
// subnormals, infinities and NaN, and random values.
func geluHalfInputs() []float32 {
	var xs []float32
	for h := range 1 << 16 {
		f := gguf.F16ToFloat32(uint16(h))
		if math.IsNaN(float64(f)) || math.Abs(float64(f)) > 10.5 {
			continue
		}
		next := gguf.F16ToFloat32(uint16(h + 1))
		xs = append(xs, f, math.Nextafter32(f, 20), math.Nextafter32(f, -20))
		if !math.IsNaN(float64(next)) && math.Abs(float64(next)) <= 10.5 {
			mid := float32((float64(f) + float64(next)) / 2)
			xs = append(xs, mid, math.Nextafter32(mid, 20), math.Nextafter32(mid, -20))
		}
	}
	xs = append(xs, -10, 10, math.Nextafter32(-10, 0), math.Nextafter32(10, 0), 1e-45, -1e-45, 1e-40,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32)
	rng := rand.New(rand.NewPCG(31, 32))
	for range 100000 {
		xs = append(xs, float32(rng.NormFloat64()*4))
	}
	return xs
}

// TestGELUHalfMatchesReference checks GELUHalf bit for bit against the
// one-value reference, with and without the assembly conversion, on
// slices long enough to run on several goroutines and with lengths that
// leave partial groups of eight.
func TestGELUHalfMatchesReference(t *testing.T) {
	xs := geluHalfInputs()
	for _, n := range []int{len(xs), 1, 7, 9, 300} {
		x := xs[len(xs)-n:]
		for _, asm := range []bool{false, true} {
			if asm && !useHalfConvertAsm {
				t.Log("assembly F16 conversion not checked: the CPU lacks F16C or AVX2")
				continue
			}
			saved := useHalfConvertAsm
			useHalfConvertAsm = asm
			out := make([]float32, n)
			withProcs(4, func() { GELUHalf(out, x) })
			useHalfConvertAsm = saved
			for i, v := range x {
				want := geluHalfReference(v)
				if math.Float32bits(out[i]) != math.Float32bits(want) && !(math.IsNaN(float64(want)) && math.IsNaN(float64(out[i]))) {
					t.Fatalf("asm=%v n=%d: GELUHalf(%g) = %g (%#x), want %g (%#x)", asm, n, v, out[i], math.Float32bits(out[i]), want, math.Float32bits(want))
				}
			}
		}
	}
}

// BenchmarkGELUHalf times GELUHalf on one 128-token prefill's MLP
// activations of GPT-2 small ([128, 3072]).
func BenchmarkGELUHalf(b *testing.B) {
	rng := rand.New(rand.NewPCG(33, 34))
	x := make([]float32, 128*3072)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
	}
	out := make([]float32, len(x))
	GELUHalf(out, x)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		GELUHalf(out, x)
	}
}
