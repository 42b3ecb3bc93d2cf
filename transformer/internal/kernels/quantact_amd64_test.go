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
