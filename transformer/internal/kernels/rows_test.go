package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotRowsPaths checks DotRows on every kernel path against float64 dot
// products, and that each row's result is bit for bit the one it gets
// alone.
func TestDotRowsPaths(t *testing.T) {
	for _, path := range sgemmPaths {
		t.Run(path.name, func(t *testing.T) {
			if reason := path.missing(); reason != "" {
				t.Skip(reason)
			}
			rng := rand.New(rand.NewPCG(31, 32))
			withSgemmPath(path, func() {
				for _, k := range []int{1, 7, 8, 9, 16, 64, 100} {
					for _, n := range []int{1, 3, 4, 5, 8, 9, 33} {
						ld := k + 5
						x := randomFloats(rng, k)
						w := randomFloats(rng, (n-1)*ld+k)
						dst, whole := guardedDst(n)
						DotRows(dst, x, w, ld)
						label := fmt.Sprintf("k=%d n=%d", k, n)
						for s := range n {
							var want, magnitude float64
							for c := range k {
								want += float64(x[c]) * float64(w[s*ld+c])
								magnitude += math.Abs(float64(x[c]) * float64(w[s*ld+c]))
							}
							bound := 1e-6*float64(k)*magnitude + 1e-30
							if d := math.Abs(float64(dst[s]) - want); !(d <= bound) {
								t.Fatalf("%s: row %d = %g, want %g (error %.3g > %.3g)", label, s, dst[s], want, d, bound)
							}
							var alone [1]float32
							DotRows(alone[:], x, w[s*ld:], ld)
							if math.Float32bits(alone[0]) != math.Float32bits(dst[s]) {
								t.Fatalf("%s: row %d = %g in a group, %g alone", label, s, dst[s], alone[0])
							}
						}
						checkGuards(t, label, whole, n)
					}
				}
			})
		})
	}
}

// TestAxpyRowsPaths checks AxpyRows on every kernel path against float64
// sums, including weights of 0, and on the assembly paths against Axpy
// called for each row in turn, bit for bit.
func TestAxpyRowsPaths(t *testing.T) {
	for _, path := range sgemmPaths {
		t.Run(path.name, func(t *testing.T) {
			if reason := path.missing(); reason != "" {
				t.Skip(reason)
			}
			rng := rand.New(rand.NewPCG(33, 34))
			withSgemmPath(path, func() {
				for _, k := range []int{1, 7, 8, 9, 16, 64, 100} {
					for _, n := range []int{1, 3, 4, 5, 8, 9, 33} {
						ld := k + 3
						p := randomFloats(rng, n)
						p[n/2] = 0
						w := randomFloats(rng, (n-1)*ld+k)
						y, whole := guardedDst(k)
						start := randomFloats(rng, k)
						copy(y, start)
						AxpyRows(y, p, w, ld)
						label := fmt.Sprintf("k=%d n=%d", k, n)
						for c := range k {
							want, magnitude := float64(start[c]), math.Abs(float64(start[c]))
							for s := range n {
								want += float64(p[s]) * float64(w[s*ld+c])
								magnitude += math.Abs(float64(p[s]) * float64(w[s*ld+c]))
							}
							bound := 1e-6*float64(n+1)*magnitude + 1e-30
							if d := math.Abs(float64(y[c]) - want); !(d <= bound) {
								t.Fatalf("%s: column %d = %g, want %g (error %.3g > %.3g)", label, c, y[c], want, d, bound)
							}
						}
						checkGuards(t, label, whole, k)
						if !path.asm {
							continue
						}
						loop := append([]float32(nil), start...)
						for s := range n {
							Axpy(p[s], w[s*ld:s*ld+k], loop)
						}
						for c := range k {
							if math.Float32bits(y[c]) != math.Float32bits(loop[c]) {
								t.Fatalf("%s: column %d = %g, %g from Axpy row by row", label, c, y[c], loop[c])
							}
						}
					}
				}
			})
		})
	}
}

// checkGuards checks that the floats around the n floats that guardedDst
// returned inside whole are intact.
func checkGuards(t *testing.T, label string, whole []float32, n int) {
	t.Helper()
	if whole[0] != guardValue {
		t.Fatalf("%s: float before the output overwritten with %g", label, whole[0])
	}
	for i, v := range whole[1+n:] {
		if v != guardValue {
			t.Fatalf("%s: float %d after the output overwritten with %g", label, i, v)
		}
	}
}
