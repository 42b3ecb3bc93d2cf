package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// halfPath is one choice of kernels for F16 and BF16 products.
type halfPath struct {
	name        string
	asm, avx512 bool
	available   bool
}

// halfPaths returns the kernel choices this CPU can run, fastest first.
func halfPaths() []halfPath {
	all := []halfPath{
		{"avx512", true, true, useHalfAVX512},
		{"avx2", true, false, useHalfAsm},
		{"portable", false, false, true},
	}
	var paths []halfPath
	for _, p := range all {
		if p.available {
			paths = append(paths, p)
		}
	}
	return paths
}

// withHalfPath runs fn with the kernels of path p.
func withHalfPath(p halfPath, fn func()) {
	savedAsm, savedAVX512 := useHalfAsm, useHalfAVX512
	useHalfAsm, useHalfAVX512 = p.asm, p.avx512
	defer func() { useHalfAsm, useHalfAVX512 = savedAsm, savedAVX512 }()
	fn()
}

// halfMatrix returns an n×k matrix of type t (F16 or BF16) and its
// weights as floats. With anyBits, the weights are random bit patterns of
// values below 2²⁰ in magnitude, subnormals included; otherwise they are
// normal samples.
func halfMatrix(t *testing.T, rng *rand.Rand, typ gguf.Type, n, k int, anyBits bool) (Matrix, []float32) {
	t.Helper()
	raw := make([]byte, 2*n*k)
	values := make([]float32, n*k)
	for i := range values {
		var bits uint16
		for {
			if anyBits {
				bits = uint16(rng.Uint32())
			} else if typ == gguf.TypeF16 {
				bits = gguf.Float32ToF16(float32(rng.NormFloat64()))
			} else {
				bits = gguf.Float32ToBF16(float32(rng.NormFloat64()))
			}
			v := halfValue(bits, typ)
			// Below 2²⁰, products of BF16 weights with the activations
			// stay far from float32 overflow.
			if math.Abs(float64(v)) < 1<<20 {
				values[i] = v
				break
			}
		}
		binary.LittleEndian.PutUint16(raw[2*i:], bits)
	}
	w, err := NewMatrix(n, k, typ, nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	return w, values
}

// halfValue is gguf's conversion of one F16 or BF16 value.
func halfValue(bits uint16, typ gguf.Type) float32 {
	if typ == gguf.TypeF16 {
		return gguf.F16ToFloat32(bits)
	}
	return gguf.BF16ToFloat32(bits)
}

// checkHalfProduct compares dst with the float64 product of x and the
// weights within a float32 rounding bound that grows with √k, and checks
// that the floats around dst (whole, as offsetSlice returns) are intact.
func checkHalfProduct(t *testing.T, label string, dst, whole, x, weights []float32, m, k, n int) {
	t.Helper()
	want, magnitude := matMulTReference(x, weights, m, k, n)
	for i, v := range dst {
		bound := 4e-7*math.Sqrt(float64(k))*magnitude[i] + 1e-30
		if d := math.Abs(float64(v) - want[i]); !(d <= bound) {
			t.Fatalf("%s: element (%d, %d) = %g, want %g (error %.3g > %.3g)", label, i/n, i%n, v, want[i], d, bound)
		}
	}
	if whole[0] != guardValue {
		t.Fatalf("%s: float before dst overwritten with %g", label, whole[0])
	}
	for i, v := range whole[1+m*n:] {
		if v != guardValue {
			t.Fatalf("%s: float %d after dst overwritten with %g", label, i, v)
		}
	}
}

// roundedToType returns x rounded to F16 or BF16 values, independently of
// roundActivations.
func roundedToType(x []float32, typ gguf.Type) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		if typ == gguf.TypeF16 {
			out[i] = gguf.F16ToFloat32(gguf.Float32ToF16(v))
		} else {
			out[i] = gguf.BF16ToFloat32(gguf.Float32ToBF16(v))
		}
	}
	return out
}

// TestMatMulHalfShapes checks MatMul (activations rounded to the weight
// type) and MatMulFloat on every kernel path against float64 products,
// over a grid of shapes and then every m ≤ 20 and every n ≤ 70.
func TestMatMulHalfShapes(t *testing.T) {
	ms := []int{1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 20}
	ns := []int{1, 2, 3, 4, 5, 7, 16, 17, 63, 64, 65, 70}
	ks := []int{1, 7, 8, 9, 15, 16, 17, 31, 33, 100, 257}
	if testing.Short() {
		ms, ns, ks = []int{1, 3, 17}, []int{1, 5, 65}, []int{7, 17, 100}
	}
	type shape struct{ m, k, n int }
	var shapes []shape
	for _, k := range ks {
		for _, n := range ns {
			for _, m := range ms {
				shapes = append(shapes, shape{m, k, n})
			}
		}
	}
	if !testing.Short() {
		for m := 1; m <= 20; m++ {
			shapes = append(shapes, shape{m, 33, 70})
		}
		for n := 1; n <= 70; n++ {
			shapes = append(shapes, shape{1, 17, n}, shape{6, 23, n}, shape{18, 40, n})
		}
	}

	for _, path := range halfPaths() {
		for _, typ := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16} {
			rng := rand.New(rand.NewPCG(7, uint64(typ)))
			withHalfPath(path, func() {
				for _, s := range shapes {
					m, k, n := s.m, s.k, s.n
					w, weights := halfMatrix(t, rng, typ, n, k, n%2 == 1)
					label := fmt.Sprintf("%s %s m=%d k=%d n=%d", path.name, typ, m, k, n)
					x, _ := offsetSlice(rng, m*k)

					dst, whole := offsetSlice(rng, m*n)
					MatMul(dst, x, m, &w)
					checkHalfProduct(t, label+" rounded", dst, whole, roundedToType(x, typ), weights, m, k, n)

					dst, whole = offsetSlice(rng, m*n)
					MatMulFloat(dst, x, m, &w)
					checkHalfProduct(t, label+" float", dst, whole, x, weights, m, k, n)
				}
			})
		}
	}
}

func benchmarkMatMulHalf(b *testing.B, m, k, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 2*n*k)
	for i := range n * k {
		binary.LittleEndian.PutUint16(raw[2*i:], gguf.Float32ToF16(float32(rng.NormFloat64())))
	}
	w, err := NewMatrix(n, k, gguf.TypeF16, nil, raw)
	if err != nil {
		b.Fatal(err)
	}
	x := randomFloats(rng, m*k)
	dst := make([]float32, m*n)
	for _, path := range halfPaths() {
		b.Run(path.name, func(b *testing.B) {
			withHalfPath(path, func() {
				for b.Loop() {
					MatMul(dst, x, m, &w)
				}
			})
			b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// The shapes are GPT-2 small's MLP products, for decoding one token, a few
// rows, and a 128-token prompt.
func BenchmarkMatMulF16Decode(b *testing.B)    { benchmarkMatMulHalf(b, 1, 768, 3072) }
func BenchmarkMatMulF16FewRows(b *testing.B)   { benchmarkMatMulHalf(b, 4, 768, 3072) }
func BenchmarkMatMulF16PrefillUp(b *testing.B) { benchmarkMatMulHalf(b, 128, 768, 3072) }
func BenchmarkMatMulF16PrefillDown(b *testing.B) {
	benchmarkMatMulHalf(b, 128, 3072, 768)
}

// TestRoundHalfActivations compares the F16 rounding of the assembly with
// roundActivations on every F16 value, the midpoints between neighbours
// and the floats next to them, and random bit patterns.
func TestRoundHalfActivations(t *testing.T) {
	var x []float32
	for bits := range 1 << 16 {
		v := gguf.F16ToFloat32(uint16(bits))
		next := gguf.F16ToFloat32(uint16(bits + 1))
		x = append(x, v)
		if bits&0x7fff >= 0x7c00 || bits == 0x7bff || bits == 0xfbff {
			continue
		}
		mid := float32((float64(v) + float64(next)) / 2)
		x = append(x, mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, float32(math.Inf(1))), math.Nextafter32(mid, float32(math.Inf(-1))))
	}
	// The largest F16 value, 65504, and the overflow threshold 65520.
	x = append(x, 65519.996, 65520, -65520, 1e30, float32(math.Inf(-1)))
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1 << 16 {
		x = append(x, math.Float32frombits(rng.Uint32()))
	}
	// An odd length leaves a tail for the scalar loop.
	x = append(x, 1.0/3)

	want := roundActivations(gguf.TypeF16, x)
	for _, path := range halfPaths() {
		var got []float32
		withHalfPath(path, func() { got = roundHalfActivations(make([]float32, len(x)), gguf.TypeF16, x) })
		for i := range x {
			g, w := got[i], want[i]
			if math.IsNaN(float64(w)) {
				if !math.IsNaN(float64(g)) {
					t.Fatalf("%s: %g (0x%08X) rounded to %g, want NaN", path.name, x[i], math.Float32bits(x[i]), g)
				}
				continue
			}
			if math.Float32bits(g) != math.Float32bits(w) {
				t.Fatalf("%s: %g (0x%08X) rounded to %g, want %g", path.name, x[i], math.Float32bits(x[i]), g, w)
			}
		}
	}
}
