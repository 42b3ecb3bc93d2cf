package kernels

import (
	"fmt"
	"math"
	"testing"
)

// vectorLengths covers each loop of the Dot and Axpy kernels (32, 8 and 1
// floats a step) and their combinations.
var vectorLengths = []int{0, 1, 7, 8, 9, 31, 32, 33, 64, 71, 1000}

func testVector(n int, seed float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Sin(float64(i)*seed+1)) * 3
	}
	return v
}

func TestDotMatchesFloat64(t *testing.T) {
	for _, asm := range activationPaths(t) {
		for _, n := range vectorLengths {
			a, b := testVector(n, 0.37), testVector(n, 1.1)
			var want, magnitude float64
			for i := range a {
				want += float64(a[i]) * float64(b[i])
				magnitude += math.Abs(float64(a[i]) * float64(b[i]))
			}
			var got float32
			withElementwiseAsm(asm, func() { got = Dot(a, b) })
			// The usual bound of a float32 sum of n products.
			if bound := float64(n) * 0x1p-24 * magnitude; math.Abs(float64(got)-want) > bound {
				t.Errorf("%s Dot of %d floats = %g, want %g within %g", pathName(asm), n, got, want, bound)
			}
		}
	}
}

func TestAxpyMatchesFloat64(t *testing.T) {
	const alpha = float32(-0.7)
	for _, asm := range activationPaths(t) {
		for _, n := range vectorLengths {
			x, y := testVector(n+1, 0.37), testVector(n+1, 1.1)
			sentinel := y[n]
			want := make([]float64, n)
			for i := range want {
				want[i] = float64(y[i]) + float64(alpha)*float64(x[i])
			}
			withElementwiseAsm(asm, func() { Axpy(alpha, x[:n], y) })
			for i := range want {
				// One or two float32 roundings of a sum of magnitude below 6.
				if math.Abs(float64(y[i])-want[i]) > 0x1p-21 {
					t.Errorf("%s Axpy of %d floats: y[%d] = %g, want %g", pathName(asm), n, i, y[i], want[i])
				}
			}
			if y[n] != sentinel {
				t.Errorf("%s Axpy of %d floats wrote past them: y[%d] = %g, want %g", pathName(asm), n, n, y[n], sentinel)
			}
		}
	}
}

func TestDotShortOperandPanics(t *testing.T) {
	for _, asm := range activationPaths(t) {
		withElementwiseAsm(asm, func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s Dot of 8 and 4 floats did not panic", pathName(asm))
				}
			}()
			Dot(make([]float32, 8), make([]float32, 4))
		})
	}
}

func BenchmarkDot(b *testing.B) {
	for _, n := range []int{64, 768} {
		x, y := testVector(n, 0.37), testVector(n, 1.1)
		for _, asm := range activationPaths(b) {
			b.Run(fmt.Sprintf("n=%d/%s", n, pathName(asm)), func(b *testing.B) {
				var sink float32
				withElementwiseAsm(asm, func() {
					for b.Loop() {
						sink += Dot(x, y)
					}
				})
			})
		}
	}
}

func BenchmarkAxpy(b *testing.B) {
	for _, n := range []int{64, 768} {
		x, y := testVector(n, 0.37), testVector(n, 1.1)
		for _, asm := range activationPaths(b) {
			b.Run(fmt.Sprintf("n=%d/%s", n, pathName(asm)), func(b *testing.B) {
				withElementwiseAsm(asm, func() {
					for b.Loop() {
						Axpy(1e-3, x, y)
					}
				})
			})
		}
	}
}
