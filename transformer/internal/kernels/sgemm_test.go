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

// sgemmPath is one choice of kernels for F32 products.
type sgemmPath struct {
	name        string
	asm, avx512 bool
}

var sgemmPaths = []sgemmPath{
	{name: "portable"},
	{name: "avx2", asm: true},
	{name: "avx512", asm: true, avx512: true},
}

// The kernel choices of this machine, before any test changes them.
var (
	sgemmAsmAvailable    = useSgemmAsm
	sgemmAVX512Available = useSgemmAVX512
)

// missing returns why this machine cannot run p, or "" if it can.
func (p sgemmPath) missing() string {
	switch {
	case p.avx512 && !sgemmAVX512Available:
		return "no AVX-512F kernels on this machine (needs amd64 and AVX-512F)"
	case p.asm && !sgemmAsmAvailable:
		return "no AVX2 and FMA kernels on this machine (needs amd64, AVX2 and FMA)"
	}
	return ""
}

// withSgemmPath runs fn with the kernels of p.
func withSgemmPath(p sgemmPath, fn func()) {
	savedAsm, savedAVX512 := useSgemmAsm, useSgemmAVX512
	useSgemmAsm, useSgemmAVX512 = p.asm, p.avx512
	defer func() { useSgemmAsm, useSgemmAVX512 = savedAsm, savedAVX512 }()
	fn()
}

// guardedDst returns a destination of n floats inside a larger slice of
// guard values, one float in, so the data is not 32-byte aligned.
func guardedDst(n int) (data, whole []float32) {
	whole = make([]float32, n+2+16)
	for i := range whole {
		whole[i] = guardValue
	}
	return whole[1 : 1+n], whole
}

// checkProduct compares got, [rows, cols], with the float64 product want
// within a float32 rounding bound that grows with the square root of the
// depth, and checks the guard values around it.
func checkProduct(t *testing.T, label string, got, whole []float32, want, magnitude []float64, cols, depth int) {
	t.Helper()
	for i, v := range got {
		bound := 4e-7*math.Sqrt(float64(depth))*magnitude[i] + 1e-30
		if d := math.Abs(float64(v) - want[i]); d > bound {
			t.Fatalf("%s: element (%d, %d) = %g, want %g (error %.3g > %.3g)",
				label, i/cols, i%cols, v, want[i], d, bound)
		}
	}
	if whole[0] != guardValue {
		t.Fatalf("%s: float before the destination overwritten with %g", label, whole[0])
	}
	for i, v := range whole[1+len(got):] {
		if v != guardValue {
			t.Fatalf("%s: float %d after the destination overwritten with %g", label, i, v)
		}
	}
}

// checkMatMulT runs MatMulT on random data with the kernels of every path
// this machine has, and compares each result with the float64 product.
func checkMatMulT(t *testing.T, rng *rand.Rand, m, k, n int) {
	t.Helper()
	x, _ := offsetSlice(rng, m*k)
	w, _ := offsetSlice(rng, n*k)
	want, magnitude := matMulTReference(x, w, m, k, n)
	for _, path := range sgemmPaths {
		if path.missing() != "" {
			continue
		}
		dst, whole := guardedDst(m * n)
		withSgemmPath(path, func() { MatMulT(dst, x, w, m, k, n) })
		checkProduct(t, fmt.Sprintf("%s m=%d k=%d n=%d", path.name, m, k, n), dst, whole, want, magnitude, n, k)
	}
}

func TestMatMulTShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("float64 reference products take seconds")
	}
	for _, path := range sgemmPaths {
		if reason := path.missing(); reason != "" {
			t.Logf("%s path not checked: %s", path.name, reason)
		}
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
				checkMatMulT(t, rng, m, k, n)
			}
		}
	}
}

// TestMatMulTSmallShapes covers every row count up to 20 with depths and
// column counts that are not multiples of the tiles, on every path.
func TestMatMulTSmallShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	ns := []int{1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 32, 33, 47, 63, 64, 70}
	ks := []int{1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 100}
	for m := 1; m <= 20; m++ {
		for _, n := range ns {
			for _, k := range ks {
				checkMatMulT(t, rng, m, k, n)
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
		{16, 16, 16},
		{24, 40, 48},
		{200, 300, 50},
		{1, 64, 130},
		{5, 100, 33},
		{17, 768, 16},
	} {
		checkMatMulT(t, rng, shape.m, shape.k, shape.n)
	}
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

// checkInputGrad runs MatMulInputGrad on F32 weights and random data with
// the kernels of every path this machine has, and compares each dx = dy·w
// with the float64 product. dy is [m, n] and w is [n, k].
func checkInputGrad(t *testing.T, rng *rand.Rand, m, n, k int) {
	t.Helper()
	dy, _ := offsetSlice(rng, m*n)
	values, _ := offsetSlice(rng, n*k)
	w, err := NewMatrix(n, k, gguf.TypeF32, values, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, magnitude := inputGradReference(dy, values, m, n, k)
	for _, path := range sgemmPaths {
		if path.missing() != "" {
			continue
		}
		dx, whole := guardedDst(m * k)
		withSgemmPath(path, func() { MatMulInputGrad(dx, dy, m, &w) })
		checkProduct(t, fmt.Sprintf("%s m=%d n=%d k=%d", path.name, m, n, k), dx, whole, want, magnitude, k, n)
	}
}

// inputGradReference computes dy·w in float64 for dy of shape [m, n] and
// w of shape [n, k], with each element's Σ|dy·w| for scaling the
// tolerance.
func inputGradReference(dy, w []float32, m, n, k int) (want, magnitude []float64) {
	want = make([]float64, m*k)
	magnitude = make([]float64, m*k)
	for i := range m {
		for c := range k {
			var s, a float64
			for j := range n {
				p := float64(dy[i*n+j]) * float64(w[j*k+c])
				s += p
				a += math.Abs(p)
			}
			want[i*k+c] = s
			magnitude[i*k+c] = a
		}
	}
	return want, magnitude
}

func TestMatMulInputGradF32Shapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, m := range []int{1, 2, 3, 4, 5, 7, 9, 16, 20, 130} {
		for _, n := range []int{1, 5, 33, 300} {
			for _, k := range []int{1, 7, 16, 24, 100, 529} {
				checkInputGrad(t, rng, m, n, k)
			}
		}
	}
}

// BenchmarkMatMulTF32 times the F32 product for decoding (m = 1), a short
// prompt (m = 20) and a 128-token prefill on GPT-2 small's two projection
// shapes, on every path this machine has: gonum's sgemm ("portable"), the
// AVX2 kernels and the AVX-512 ones.
func BenchmarkMatMulTF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, shape := range []struct{ m, k, n int }{
		{1, 768, 3072}, {1, 3072, 768}, {20, 768, 3072}, {128, 768, 3072}, {128, 3072, 768},
	} {
		x := randomFloats(rng, shape.m*shape.k)
		w := randomFloats(rng, shape.n*shape.k)
		dst := make([]float32, shape.m*shape.n)
		for _, path := range sgemmPaths {
			if path.missing() != "" {
				continue
			}
			name := fmt.Sprintf("%s/m=%d/k=%d/n=%d", path.name, shape.m, shape.k, shape.n)
			b.Run(name, func(b *testing.B) {
				withSgemmPath(path, func() {
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
// small's projection shapes on every path this machine has.
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
		for _, path := range sgemmPaths {
			if path.missing() != "" {
				continue
			}
			name := fmt.Sprintf("%s/m=%d/n=%d/k=%d", path.name, shape.m, shape.n, shape.k)
			b.Run(name, func(b *testing.B) {
				withSgemmPath(path, func() {
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
