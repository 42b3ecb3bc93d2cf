//go:build amd64 && !purego

package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// TestMatMulOneRowAllocatesNothing checks that a one-row product with
// quantized weights allocates nothing once the pools are warm, on the
// multi-row assembly paths that decoding takes.
func TestMatMulOneRowAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("skipping: the race detector's instrumentation allocates on its own")
	}
	if !useQuantAsm {
		t.Skip("no assembly dot products on this CPU or build")
	}
	withProcs(4, func() {
		rng := rand.New(rand.NewPCG(33, 34))
		const n, k = 1024, 512
		for _, typ := range slices.Concat(asmQuantTypes, rowsOnlyQuantTypes) {
			w, err := NewMatrix(n, k, typ, nil, randomBlocks(rng, typ, n, k))
			if err != nil {
				t.Fatal(err)
			}
			x := randomFloats(rng, k)
			dst := make([]float32, n)
			for _, path := range quantPaths()[1:] {
				if !path.rows {
					continue
				}
				withQuantPath(path, func() {
					run := func() { MatMul(dst, x, 1, &w) }
					run() // starts the helpers and grows the buffers
					if allocs := testing.AllocsPerRun(50, run); allocs != 0 {
						t.Errorf("%s on path %s: %v allocations per call, want 0", typ, path.name, allocs)
					}
				})
			}
		}
	})
}

// BenchmarkMatMulQuantizedDecode times one-row products with GPT-2
// small's MLP shapes on weights that do not stay in the caches: the
// benchmark cycles through enough matrices to fill 128 MiB, as decoding
// reads every layer's weights once per token.
func BenchmarkMatMulQuantizedDecode(b *testing.B) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, shape := range []struct{ k, n int }{{768, 3072}, {3072, 768}} {
			rowBytes := shape.k / typ.BlockSize() * typ.BlockBytes()
			weights := make([]Matrix, (128<<20)/(rowBytes*shape.n))
			for i := range weights {
				w, err := NewMatrix(shape.n, shape.k, typ, nil, randomBlocks(rng, typ, shape.n, shape.k))
				if err != nil {
					b.Fatal(err)
				}
				weights[i] = w
			}
			x := randomFloats(rng, shape.k)
			dst := make([]float32, shape.n)
			b.Run(fmt.Sprintf("%s/k=%d/n=%d", typ, shape.k, shape.n), func(b *testing.B) {
				b.SetBytes(int64(rowBytes * shape.n))
				i := 0
				for b.Loop() {
					MatMul(dst, x, 1, &weights[i])
					i = (i + 1) % len(weights)
				}
			})
		}
	}
}
