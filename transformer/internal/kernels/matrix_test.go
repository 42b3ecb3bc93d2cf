package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// naiveMatMul computes dst = x·wᵀ in float64 from a decoded w.
func naiveMatMul(x, w []float32, m, k, n int) []float32 {
	dst := make([]float32, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for c := range k {
				s += float64(x[i*k+c]) * float64(w[j*k+c])
			}
			dst[i*n+j] = float32(s)
		}
	}
	return dst
}

func randomFloats(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// TestMatMulTypes checks the float-activation product for every weight
// type against a float64 product with the same decoded weights, for shapes
// that leave a partial tile and for single-row (decoding) inputs.
func TestMatMulTypes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0} {
		for _, shape := range []struct{ m, k, n int }{{1, 64, 130}, {5, 96, 64}, {17, 32, 200}} {
			values := randomFloats(rng, shape.n*shape.k)
			var w Matrix
			var err error
			if typ == gguf.TypeF32 {
				w, err = NewMatrix(shape.n, shape.k, typ, values, nil)
			} else {
				raw := make([]byte, shape.n*shape.k/typ.BlockSize()*typ.BlockBytes())
				if err := gguf.Quantize(raw, values, typ); err != nil {
					t.Fatal(err)
				}
				w, err = NewMatrix(shape.n, shape.k, typ, nil, raw)
			}
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			w.FloatActivations = true
			decoded := make([]float32, shape.n*shape.k)
			for j := range shape.n {
				w.Row(decoded[j*shape.k:(j+1)*shape.k], j)
			}
			x := randomFloats(rng, shape.m*shape.k)
			want := naiveMatMul(x, decoded, shape.m, shape.k, shape.n)
			got := make([]float32, shape.m*shape.n)
			MatMul(got, x, shape.m, &w)
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*math.Sqrt(float64(shape.k)) {
					t.Fatalf("%s %v: element %d = %g, want %g", typ, shape, i, got[i], want[i])
				}
			}
		}
	}
}

func TestNewMatrixRejects(t *testing.T) {
	if _, err := NewMatrix(2, 32, gguf.TypeQ8_0, nil, make([]byte, 10)); err == nil {
		t.Error("short Q8_0 data: no error")
	}
	if _, err := NewMatrix(2, 33, gguf.TypeQ8_0, nil, make([]byte, 68)); err == nil {
		t.Error("row length not a multiple of the block size: no error")
	}
	if _, err := NewMatrix(2, 2, gguf.TypeF32, make([]float32, 3), nil); err == nil {
		t.Error("short F32 data: no error")
	}
}
