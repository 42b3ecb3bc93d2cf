package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// matMulTReference computes x·wᵀ in float64, with each element's Σ|x·w|
// for scaling the tolerance.
func matMulTReference(x, w []float32, m, k, n int) (want, magnitude []float64) {
	want = make([]float64, m*n)
	magnitude = make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, a float64
			for c := range k {
				p := float64(x[i*k+c]) * float64(w[j*k+c])
				s += p
				a += math.Abs(p)
			}
			want[i*n+j] = s
			magnitude[i*n+j] = a
		}
	}
	return want, magnitude
}

// guardValue is the value of the floats around a destination, so a write
// outside its shape shows.
const guardValue = -12345

// offsetSlice returns n random floats starting one float into a larger
// slice, so the data is not 32-byte aligned, with guard values around it.
func offsetSlice(rng *rand.Rand, n int) (data, whole []float32) {
	whole = make([]float32, n+2+16)
	for i := range whole {
		whole[i] = guardValue
	}
	data = whole[1 : 1+n]
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return data, whole
}

// checkMatMulT runs MatMulT with the current kernel choice and compares it
// with the float64 product within a float32 rounding bound that grows with
// √k.
func checkMatMulT(t *testing.T, rng *rand.Rand, m, k, n int) []float32 {
	t.Helper()
	x, _ := offsetSlice(rng, m*k)
	w, _ := offsetSlice(rng, n*k)
	dst, whole := offsetSlice(rng, m*n)
	MatMulT(dst, x, w, m, k, n)

	want, magnitude := matMulTReference(x, w, m, k, n)
	for i, v := range dst {
		bound := 4e-7*math.Sqrt(float64(k))*magnitude[i] + 1e-30
		if d := math.Abs(float64(v) - want[i]); d > bound {
			t.Fatalf("m=%d k=%d n=%d: element (%d, %d) = %g, want %g (error %.3g > %.3g)",
				m, k, n, i/n, i%n, v, want[i], d, bound)
		}
	}
	if whole[0] != guardValue {
		t.Fatalf("m=%d k=%d n=%d: float before dst overwritten with %g", m, k, n, whole[0])
	}
	for i, v := range whole[1+m*n:] {
		if v != guardValue {
			t.Fatalf("m=%d k=%d n=%d: float %d after dst overwritten with %g", m, k, n, i, v)
		}
	}
	return dst
}

// withSgemmAsm runs fn with the assembly kernels switched on or off.
func withSgemmAsm(on bool, fn func()) {
	saved := useSgemmAsm
	useSgemmAsm = on
	defer func() { useSgemmAsm = saved }()
	fn()
}

func TestMatMulTShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("float64 reference products take seconds")
	}
	if !useSgemmAsm {
		t.Log("no AVX2 and FMA kernels here: checking the portable path only")
	}
	ms := []int{1, 2, 3, 5, 8, 9, 17, 64, 130}
	ks := []int{1, 7, 32, 64, 100, 768}
	ns := []int{1, 5, 16, 33, 768, 3072}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, m := range ms {
		for _, k := range ks {
			for _, n := range ns {
				if m*k*n > 1<<26 && m != 130 {
					// The largest products of every k and n are checked
					// at m = 130; smaller m take the same code paths.
					continue
				}
				seed := rng.Uint64()
				fast := checkMatMulT(t, rand.New(rand.NewPCG(seed, 1)), m, k, n)
				var portable []float32
				withSgemmAsm(false, func() {
					portable = checkMatMulT(t, rand.New(rand.NewPCG(seed, 1)), m, k, n)
				})
				for i := range fast {
					if d := math.Abs(float64(fast[i] - portable[i])); d > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(float64(portable[i]))) {
						t.Fatalf("m=%d k=%d n=%d: element %d is %g, portable path %g", m, k, n, i, fast[i], portable[i])
					}
				}
			}
		}
	}
}

// TestMatMulTBlockEdges uses shapes that cross the packed blocks' edges:
// more rows than one block of x, depths just past a multiple of the block
// depth, and column counts that leave a partial block and tile.
func TestMatMulTBlockEdges(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, shape := range []struct{ m, k, n int }{
		{150, 257, 40},
		{289, 513, 270},
		{7, 255, 529},
		{4, 1025, 18},
		{6, 16, 16},
		{12, 32, 32},
	} {
		checkMatMulT(t, rng, shape.m, shape.k, shape.n)
	}
}

func TestMatMulTPortableForced(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	withSgemmAsm(false, func() {
		for _, shape := range []struct{ m, k, n int }{{1, 64, 130}, {5, 100, 33}, {17, 768, 16}} {
			checkMatMulT(t, rng, shape.m, shape.k, shape.n)
		}
	})
}

func TestMatMulTZeroDepth(t *testing.T) {
	dst := []float32{1, 2, 3, 4, 5, 6}
	MatMulT(dst, nil, nil, 2, 0, 3)
	for i, v := range dst {
		if v != 0 {
			t.Fatalf("element %d = %g after a product over k = 0, want 0", i, v)
		}
	}
}

// checkInputGrad runs MatMulInputGrad on F32 weights with the current
// kernel choice and compares dx = dy·w with the float64 product. dy is
// [m, n] and w is [n, k].
func checkInputGrad(t *testing.T, rng *rand.Rand, m, n, k int) []float32 {
	t.Helper()
	dy, _ := offsetSlice(rng, m*n)
	values, _ := offsetSlice(rng, n*k)
	w, err := NewMatrix(n, k, gguf.TypeF32, values, nil)
	if err != nil {
		t.Fatal(err)
	}
	dx, whole := offsetSlice(rng, m*k)
	MatMulInputGrad(dx, dy, m, &w)

	for i := range m {
		for c := range k {
			var want, magnitude float64
			for j := range n {
				p := float64(dy[i*n+j]) * float64(values[j*k+c])
				want += p
				magnitude += math.Abs(p)
			}
			bound := 4e-7*math.Sqrt(float64(n))*magnitude + 1e-30
			if d := math.Abs(float64(dx[i*k+c]) - want); d > bound {
				t.Fatalf("m=%d n=%d k=%d: dx[%d, %d] = %g, want %g (error %.3g > %.3g)",
					m, n, k, i, c, dx[i*k+c], want, d, bound)
			}
		}
	}
	if whole[0] != guardValue {
		t.Fatalf("m=%d n=%d k=%d: float before dx overwritten with %g", m, n, k, whole[0])
	}
	for i, v := range whole[1+m*k:] {
		if v != guardValue {
			t.Fatalf("m=%d n=%d k=%d: float %d after dx overwritten with %g", m, n, k, i, v)
		}
	}
	return dx
}

func TestMatMulInputGradF32Shapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, m := range []int{1, 2, 3, 4, 5, 7, 130} {
		for _, n := range []int{1, 5, 33, 300} {
			for _, k := range []int{1, 7, 16, 100, 529} {
				seed := rng.Uint64()
				fast := checkInputGrad(t, rand.New(rand.NewPCG(seed, 2)), m, n, k)
				var portable []float32
				withSgemmAsm(false, func() {
					portable = checkInputGrad(t, rand.New(rand.NewPCG(seed, 2)), m, n, k)
				})
				for i := range fast {
					if d := math.Abs(float64(fast[i] - portable[i])); d > 1e-4*math.Sqrt(float64(n))*(1+math.Abs(float64(portable[i]))) {
						t.Fatalf("m=%d n=%d k=%d: element %d is %g, portable path %g", m, n, k, i, fast[i], portable[i])
					}
				}
			}
		}
	}
}

// BenchmarkMatMulTF32 times the F32 product for decoding (m = 1) and a
// 128-token prefill on GPT-2 small's two projection shapes, with gonum's
// sgemm ("portable") and the assembly kernels ("asm").
func BenchmarkMatMulTF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, shape := range []struct{ m, k, n int }{
		{1, 768, 3072}, {1, 3072, 768}, {128, 768, 3072}, {128, 3072, 768},
	} {
		x := randomFloats(rng, shape.m*shape.k)
		w := randomFloats(rng, shape.n*shape.k)
		dst := make([]float32, shape.m*shape.n)
		for _, impl := range []struct {
			name string
			asm  bool
		}{{"portable", false}, {"asm", true}} {
			if impl.asm && !useSgemmAsm {
				continue
			}
			name := fmt.Sprintf("%s/m=%d/k=%d/n=%d", impl.name, shape.m, shape.k, shape.n)
			b.Run(name, func(b *testing.B) {
				withSgemmAsm(impl.asm, func() {
					b.SetBytes(int64(4 * shape.n * shape.k))
					for b.Loop() {
						MatMulT(dst, x, w, shape.m, shape.k, shape.n)
					}
					flops := 2 * float64(shape.m*shape.k*shape.n) * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			})
		}
	}
}

// BenchmarkMatMulInputGradF32 times dx = dy·w for F32 weights of GPT-2
// small's projection shapes, with gonum's sgemm ("portable") and the
// assembly kernels ("asm").
func BenchmarkMatMulInputGradF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, shape := range []struct{ m, n, k int }{
		{1, 3072, 768}, {128, 3072, 768}, {128, 768, 3072},
	} {
		w, err := NewMatrix(shape.n, shape.k, gguf.TypeF32, randomFloats(rng, shape.n*shape.k), nil)
		if err != nil {
			b.Fatal(err)
		}
		dy := randomFloats(rng, shape.m*shape.n)
		dx := make([]float32, shape.m*shape.k)
		for _, impl := range []struct {
			name string
			asm  bool
		}{{"portable", false}, {"asm", true}} {
			if impl.asm && !useSgemmAsm {
				continue
			}
			name := fmt.Sprintf("%s/m=%d/n=%d/k=%d", impl.name, shape.m, shape.n, shape.k)
			b.Run(name, func(b *testing.B) {
				withSgemmAsm(impl.asm, func() {
					for b.Loop() {
						MatMulInputGrad(dx, dy, shape.m, &w)
					}
					flops := 2 * float64(shape.m*shape.k*shape.n) * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			})
		}
	}
}
