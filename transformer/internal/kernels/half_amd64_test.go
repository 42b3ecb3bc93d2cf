//go:build amd64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// TestMatMulHalfTiles covers a packed product whose weights fill more
// than one widened tile.
func TestMatMulHalfTiles(t *testing.T) {
	const m, k = halfDotMaxRows + 1, 4096
	// A fifth more rows than one tile holds.
	n := halfTileFloats / k * 6 / 5
	for _, path := range halfPaths() {
		if !path.asm {
			continue
		}
		rng := rand.New(rand.NewPCG(8, 9))
		withHalfPath(path, func() {
			w, weights := halfMatrix(t, rng, gguf.TypeF16, n, k, false)
			x, _ := offsetSlice(rng, m*k)
			dst, whole := offsetSlice(rng, m*n)
			MatMulFloat(dst, x, m, &w)
			checkHalfProduct(t, path.name, dst, whole, x, weights, m, k, n)
		})
	}
}

// TestWidenHalfAllValues widens every F16 and BF16 bit pattern, subnormals,
// infinities and NaNs included, and compares the float32 bits with gguf's
// conversions.
func TestWidenHalfAllValues(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	for _, path := range halfPaths() {
		if !path.asm {
			continue
		}
		for _, typ := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16} {
			dst := make([]float32, len(src)+1)
			dst[len(src)] = guardValue
			withHalfPath(path, func() { widenHalf(dst[:len(src)], src, typ) })
			for i, v := range dst[:len(src)] {
				want := halfValue(uint16(i), typ)
				if math.Float32bits(v) != math.Float32bits(want) {
					t.Fatalf("%s %s: 0x%04X widened to 0x%08X, want 0x%08X", path.name, typ, i, math.Float32bits(v), math.Float32bits(want))
				}
			}
			if dst[len(src)] != guardValue {
				t.Fatalf("%s %s: float after dst overwritten", path.name, typ)
			}
		}
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
