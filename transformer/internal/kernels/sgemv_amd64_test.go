//go:build amd64 && !purego

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// TestMatMulTFewRowsIndependent checks that, up to sgemvMaxRows rows, a
// row's products come out bit for bit the same whatever rows share its
// batch. n = 200 gives blocks of four runs and rows left after them.
func TestMatMulTFewRowsIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, path := range sgemmPaths {
		if reason := path.missing(); reason != "" {
			t.Logf("%s path not checked: %s", path.name, reason)
			continue
		}
		for _, k := range []int{7, 33, 100} {
			const n = 200
			w := randomFloats(rng, n*k)
			x := randomFloats(rng, sgemvMaxRows*k)
			alone := make([]float32, n)
			withSgemmPath(path, func() {
				for m := 1; m <= sgemvMaxRows; m++ {
					dst := make([]float32, m*n)
					MatMulT(dst, x, w, m, k, n)
					for i := range m {
						MatMulT(alone, x[i*k:(i+1)*k], w, 1, k, n)
						for j := range n {
							if math.Float32bits(dst[i*n+j]) != math.Float32bits(alone[j]) {
								t.Fatalf("%s k=%d: row %d of %d, column %d = %g, alone %g", path.name, k, i, m, j, dst[i*n+j], alone[j])
							}
						}
					}
				}
			})
		}
	}
}

// TestMatMulAllocatesNothing checks that products of the decoding path,
// and the few-row input gradient, allocate nothing once the worker pool
// and its buffers exist, on every path this machine has. The shapes are
// large enough to run on several goroutines. The portable path is left
// out because gonum's sgemm allocates.
func TestMatMulAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("skipping: the race detector's instrumentation allocates on its own")
	}
	withProcs(4, func() {
		rng := rand.New(rand.NewPCG(23, 24))
		const k, n = 256, 1024
		w, err := NewMatrix(n, k, gguf.TypeF32, randomFloats(rng, n*k), nil)
		if err != nil {
			t.Fatal(err)
		}
		x := randomFloats(rng, 4*n)
		dst := make([]float32, 4*n)
		for _, path := range sgemmPaths {
			if !path.asm || path.missing() != "" {
				continue
			}
			for _, m := range []int{1, 4} {
				tests := []struct {
					name string
					run  func()
				}{
					{"MatMulT", func() { MatMulT(dst, x, w.F32, m, k, n) }},
					{"MatMulInputGrad", func() { MatMulInputGrad(dst, x, m, &w) }},
				}
				for _, tt := range tests {
					withSgemmPath(path, func() {
						tt.run() // starts the helpers and grows the buffers
						if allocs := testing.AllocsPerRun(50, tt.run); allocs != 0 {
							t.Errorf("%s %s m=%d: %v allocations per call, want 0", path.name, tt.name, m, allocs)
						}
					})
				}
			}
		}
	})
}

// BenchmarkMatMulTF32Decode times one-row products with GPT-2 small's
// MLP shapes on weights that do not stay in the caches: the benchmark
// cycles through enough matrices to fill 128 MiB, as decoding reads
// every layer's weights once per token.
func BenchmarkMatMulTF32Decode(b *testing.B) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, shape := range []struct{ k, n int }{{768, 3072}, {3072, 768}} {
		count := (128 << 20) / (4 * shape.k * shape.n)
		weights := make([][]float32, count)
		for i := range weights {
			weights[i] = randomFloats(rng, shape.n*shape.k)
		}
		x := randomFloats(rng, shape.k)
		dst := make([]float32, shape.n)
		for _, path := range sgemmPaths[1:] {
			if path.missing() != "" {
				continue
			}
			b.Run(fmt.Sprintf("%s/k=%d/n=%d", path.name, shape.k, shape.n), func(b *testing.B) {
				withSgemmPath(path, func() {
					b.SetBytes(int64(4 * shape.n * shape.k))
					i := 0
					for b.Loop() {
						MatMulT(dst, x, weights[i], 1, shape.k, shape.n)
						i = (i + 1) % count
					}
				})
			})
		}
	}
}
