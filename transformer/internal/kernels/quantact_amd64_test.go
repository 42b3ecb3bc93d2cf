//go:build amd64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// TestQuantizeQ8_KAVX512MatchesGo compares the AVX-512 Q8_K rounding with
// the Go loops byte for byte, on blocks of random values over many scales
// and on blocks with NaN, infinities, zeros, subnormal values and equal
// magnitudes.
func TestQuantizeQ8_KAVX512MatchesGo(t *testing.T) {
	if !useQuantizeAVX512 {
		t.Skip("CPU or build lacks AVX512F")
	}
	rng := rand.New(rand.NewPCG(39, 40))
	specials := []float32{
		float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32,
	}
	const blocks = 400
	x := make([]float32, blocks*qkK)
	for b := range blocks {
		scale := math.Pow(10, -40+80*rng.Float64())
		xb := x[b*qkK : (b+1)*qkK]
		for i := range xb {
			xb[i] = float32(scale * rng.NormFloat64())
		}
		if b%4 == 0 {
			for range 4 {
				xb[rng.IntN(qkK)] = specials[rng.IntN(len(specials))]
			}
		}
	}

	// Blocks of zeros, of NaN with zeros, of NaN then values, and of
	// equal magnitudes of both signs, where the first one sets the sign
	// of the scale.
	clear(x[1*qkK : 2*qkK])
	for i := 2 * qkK; i < 3*qkK; i += 2 {
		x[i], x[i+1] = float32(math.NaN()), 0
	}
	x[3*qkK] = float32(math.NaN())
	for i := 5 * qkK; i < 6*qkK; i++ {
		x[i] = float32(5 - 10*(i%2))
	}
	x[5*qkK+7] = 3

	var want, got *quantRows
	saved := useQuantizeAVX512
	useQuantizeAVX512 = false
	want = quantizeRows(gguf.TypeQ8_K, x, 1, len(x))
	useQuantizeAVX512 = saved
	got = quantizeRows(gguf.TypeQ8_K, x, 1, len(x))

	for i := range want.qs {
		if got.qs[i] != want.qs[i] {
			t.Fatalf("quant %d (block %d, x = %g) = %d, want %d", i, i/qkK, x[i], got.qs[i], want.qs[i])
		}
	}
	for i := range want.bsums {
		if got.bsums[i] != want.bsums[i] {
			t.Fatalf("block sum %d = %d, want %d", i, got.bsums[i], want.bsums[i])
		}
	}
	for i := range want.d {
		if math.Float32bits(got.d[i]) != math.Float32bits(want.d[i]) {
			t.Fatalf("scale %d = %g, want %g", i, got.d[i], want.d[i])
		}
	}
}

// TestQuantizeQ8_0AVX512MatchesGo compares the AVX-512 Q8_0 rounding
// with the Go loop byte for byte. The blocks hold random values over many
// scales, products on and next to halves, NaN, infinities, zeros,
// subnormal values, and scales beyond the F16 range.
func TestQuantizeQ8_0AVX512MatchesGo(t *testing.T) {
	if !useQuantizeAVX512 {
		t.Skip("CPU or build lacks AVX512F")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	specials := []float32{
		float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32,
	}
	const blocks = 4000
	x := make([]float32, blocks*qk8)
	for b := range blocks {
		scale := math.Pow(10, -46+86*rng.Float64())
		xb := x[b*qk8 : (b+1)*qk8]
		for i := range xb {
			xb[i] = float32(scale * rng.NormFloat64())
		}
		if b%8 == 0 {
			xb[rng.IntN(qk8)] = specials[rng.IntN(len(specials))]
		}
	}

	// With 127 as the largest magnitude, d and 1/d are 1, so the
	// quants are the values rounded: halves, and the floats next to
	// them.
	var edges []float32
	for h := float32(0.5); h < 127; h++ {
		for _, v := range []float32{h, math.Nextafter32(h, 0), math.Nextafter32(h, 200)} {
			edges = append(edges, v, -v)
		}
	}
	for b, i := 10, 0; i < len(edges); b++ {
		xb := x[b*qk8 : (b+1)*qk8]
		xb[0] = 127
		i += copy(xb[1:], edges[i:])
	}
	// Blocks of zeros, of a NaN alone, of an infinity then values, of
	// a NaN followed by the largest value, and of values whose scale
	// rounds to an infinite or a subnormal F16.
	clear(x[1*qk8 : 2*qk8])
	clear(x[2*qk8 : 3*qk8])
	x[2*qk8+5] = float32(math.NaN())
	x[3*qk8] = float32(math.Inf(-1))
	x[4*qk8+3], x[4*qk8+4] = float32(math.NaN()), 1e5
	x[5*qk8+9] = 65504 * 127 * 1.001
	x[6*qk8+9] = -1e-5

	saved := useQuantizeAVX512
	useQuantizeAVX512 = false
	want := quantizeRows(gguf.TypeQ8_0, x, 1, len(x))
	useQuantizeAVX512 = saved
	got := quantizeRows(gguf.TypeQ8_0, x, 1, len(x))

	for i := range want.qs {
		if got.qs[i] != want.qs[i] {
			t.Fatalf("quant %d (block %d, x = %g) = %d, want %d", i, i/qk8, x[i], got.qs[i], want.qs[i])
		}
	}
	for i := range want.d {
		if math.Float32bits(got.d[i]) != math.Float32bits(want.d[i]) {
			t.Fatalf("scale %d = %g, want %g", i, got.d[i], want.d[i])
		}
	}
}
