//go:build amd64 && !purego

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// TestMatMulHalfPackedMatchesFloat checks that the packed product of F16
// and BF16 weights, which packs straight from the weights, gives the
// products of sgemmPacked on the weights widened beforehand bit for bit,
// with every packing kernel and both tilings.
func TestMatMulHalfPackedMatchesFloat(t *testing.T) {
	shapes := []struct{ m, k, n int }{
		{halfDotMaxRows + 1, 33, 17},
		{20, 300, 70},
		{40, 768, 200},
		{halfDotMaxRows + 1, 4096, 330},
	}
	for _, tc := range sgemmTilingCases {
		if tc.path.missing() != "" {
			continue
		}
		for _, path := range halfPaths() {
			if !path.asm {
				continue
			}
			for _, typ := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16} {
				rng := rand.New(rand.NewPCG(8, uint64(typ)))
				for _, s := range shapes {
					w, weights := halfMatrix(t, rng, typ, s.n, s.k, true)
					x := randomFloats(rng, s.m*s.k)
					want := make([]float32, s.m*s.n)
					got := make([]float32, s.m*s.n)
					withSgemmPath(tc.path, func() {
						sgemmPackedWith(tc.tiling, want, s.n, x, s.k, sgemmOperand{f32: weights, ld: s.k, trans: true}, s.m, s.k, s.n)
						withHalfPath(path, func() {
							b := sgemmOperand{half: halfWords(&w), bf16: typ == gguf.TypeBF16, ld: s.k, trans: true}
							sgemmPackedWith(tc.tiling, got, s.n, x, s.k, b, s.m, s.k, s.n)
						})
					})
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s tiling, %s %s m=%d k=%d n=%d: element (%d, %d) = %g, widened first %g",
								tc.name, path.name, typ, s.m, s.k, s.n, i/s.n, i%s.n, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestPackHalfAllValues packs every F16 and BF16 bit pattern, subnormals,
// infinities and NaNs included, with each packing kernel and the portable
// loop, and compares the float32 bits with gguf's conversions. The
// column ranges cover whole steps of 16, of 8, and a remainder, and the
// rows a full sliver and a partial one.
func TestPackHalfAllValues(t *testing.T) {
	const rows, cols = 20, 3300
	src := make([]uint16, rows*cols)
	for i := range src {
		src[i] = uint16(i)
	}
	for _, path := range halfPaths() {
		for _, typ := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16} {
			for _, r := range []struct{ pc, kc int }{{0, cols}, {4, 3296}, {1, 3288}, {5, 3290}, {7, 13}} {
				dst := make([]float32, 2*sgemmNR*r.kc+1)
				dst[len(dst)-1] = guardValue
				withHalfPath(path, func() {
					packHalfBTransposed(dst[:len(dst)-1], src, typ == gguf.TypeBF16, cols, 0, rows, r.pc, r.kc)
				})
				for j := range 2 * sgemmNR {
					for c := range r.kc {
						got := dst[(j/sgemmNR)*sgemmNR*r.kc+c*sgemmNR+j%sgemmNR]
						var want float32
						if j < rows {
							want = halfValue(src[j*cols+r.pc+c], typ)
						}
						if math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("%s %s pc=%d kc=%d: row %d column %d packed as 0x%08X, want 0x%08X",
								path.name, typ, r.pc, r.kc, j, c, math.Float32bits(got), math.Float32bits(want))
						}
					}
				}
				if dst[len(dst)-1] != guardValue {
					t.Fatalf("%s %s pc=%d kc=%d: float after dst overwritten", path.name, typ, r.pc, r.kc)
				}
			}
		}
	}
}

// TestMatMulHalfDotBlocks covers dot products over several blocks of
// weight rows, the last one partial and with rows after its four runs.
func TestMatMulHalfDotBlocks(t *testing.T) {
	const k = halfDotBlockBytes / 2 / 50
	blockRows := max(64, (halfDotBlockBytes/(2*k)+15)/16*16)
	n := 2*blockRows + 7
	for _, path := range halfPaths() {
		if !path.asm {
			continue
		}
		rng := rand.New(rand.NewPCG(12, 13))
		withHalfPath(path, func() {
			w, weights := halfMatrix(t, rng, gguf.TypeF16, n, k, false)
			for _, m := range []int{1, 3} {
				x, _ := offsetSlice(rng, m*k)
				dst, whole := offsetSlice(rng, m*n)
				MatMulFloat(dst, x, m, &w)
				checkHalfProduct(t, fmt.Sprintf("%s m=%d k=%d n=%d", path.name, m, k, n), dst, whole, x, weights, m, k, n)
			}
		})
	}
}

// TestMatMulHalfRowsIndependent checks that, up to halfDotMaxRows rows, a
// row's products come out bit for bit the same whatever rows share its
// batch, paired or alone.
func TestMatMulHalfRowsIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	for _, typ := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16} {
		for _, k := range []int{7, 33, 100} {
			const n = 13
			w, _ := halfMatrix(t, rng, typ, n, k, false)
			x := randomFloats(rng, halfDotMaxRows*k)
			alone := make([]float32, n)
			for m := 1; m <= halfDotMaxRows; m++ {
				dst := make([]float32, m*n)
				MatMul(dst, x, m, &w)
				for i := range m {
					MatMul(alone, x[i*k:(i+1)*k], 1, &w)
					for j := range n {
						if math.Float32bits(dst[i*n+j]) != math.Float32bits(alone[j]) {
							t.Fatalf("%s k=%d: row %d of %d, column %d = %g, alone %g", typ, k, i, m, j, dst[i*n+j], alone[j])
						}
					}
				}
			}
		}
	}
}
