package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// withQuantAsm runs fn with the assembly dot products switched on or off.
func withQuantAsm(on bool, fn func()) {
	withQuantPath(quantPath{asm: on, rows: on, vnni: on && useQuantVNNI}, fn)
}

// withQuantPath runs fn on the given path.
func withQuantPath(path quantPath, fn func()) {
	savedAsm, savedRows, savedVNNI, savedQuad := useQuantAsm, useQuantRows, useQuantVNNI, useQuantQuad
	useQuantAsm, useQuantRows, useQuantVNNI, useQuantQuad = path.asm, path.rows, path.vnni, path.rows
	defer func() {
		useQuantAsm, useQuantRows, useQuantVNNI, useQuantQuad = savedAsm, savedRows, savedVNNI, savedQuad
	}()
	fn()
}

// quantPath is one implementation of the quantized products.
type quantPath struct {
	name string
	asm  bool // useQuantAsm
	rows bool // useQuantRows, and useQuantQuad
	vnni bool // useQuantVNNI
}

// quantPaths returns the portable path, and the assembly paths where the
// CPU has them: single-row kernels only, multi-row kernels where they
// exist, and those with AVX512_VNNI.
func quantPaths() []quantPath {
	paths := []quantPath{{name: "portable"}}
	if useQuantAsm {
		paths = append(paths, quantPath{name: "asm", asm: true}, quantPath{name: "rows", asm: true, rows: true})
	}
	if useQuantAsm && useQuantVNNI {
		paths = append(paths, quantPath{name: "vnni", asm: true, rows: true, vnni: true})
	}
	return paths
}

// asmQuantTypes lists the weight types with assembly dot products on
// amd64.
var asmQuantTypes = []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K}

// rowsOnlyQuantTypes lists the weight types with multi-row assembly
// kernels only, which the single-row assembly path leaves to the portable
// code.
var rowsOnlyQuantTypes = []gguf.Type{gguf.TypeQ5_0, gguf.TypeQ4_1, gguf.TypeQ5_1, gguf.TypeQ2_K, gguf.TypeQ3_K}

// TestQuantAsmMatchesPortable compares MatMul on the assembly and the
// portable path bit for bit, over many random blocks. The shapes cover
// the four-block and single-block loops of the Q8_0 kernel, partial tiles
// of weight rows and several activation rows. The activations mix scales
// over five decades, zero blocks and single large values.
func TestQuantAsmMatchesPortable(t *testing.T) {
	if !useQuantAsm {
		t.Skip("no assembly dot products on this CPU or build")
	}
	paths := []quantPath{
		{name: "asm", asm: true},
		{name: "rows", asm: true, rows: true},
		{name: "vnni", asm: true, rows: true, vnni: true},
	}
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			if path.vnni && !useQuantVNNI {
				t.Skip("CPU or OS lacks AVX512_VNNI or AVX512VL, so the VNNI kernels are not run")
			}
			checkQuantPathMatchesPortable(t, path)
		})
	}
}

// checkQuantPathMatchesPortable runs TestQuantAsmMatchesPortable on one
// assembly path.
func checkQuantPathMatchesPortable(t *testing.T, path quantPath) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, typ := range slices.Concat(asmQuantTypes, rowsOnlyQuantTypes) {
		for _, shape := range []struct{ m, n, blocks int }{
			{1, 1, 1}, {1, 64, 3}, {2, 65, 4}, {3, 130, 5}, {1, 200, 9}, {4, 33, 12}, {1, 7, 96},
			{6, 40, 7}, {9, 20, 2}, {1, 1001, 10},
		} {
			k := shape.blocks * typ.BlockSize()
			w, err := NewMatrix(shape.n, k, typ, nil, randomBlocks(rng, typ, shape.n, k))
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, shape.m*k)
			for i := range shape.m {
				scale := math.Pow(10, -3+5*rng.Float64())
				for c := range k {
					x[i*k+c] = float32(scale * rng.NormFloat64())
				}
				x[i*k+rng.IntN(k)] *= 1000
			}
			if shape.m > 1 {
				clear(x[k : k+typ.BlockSize()])
			}

			var asm, portable []float32
			withQuantAsm(false, func() { portable = matMulResult(x, shape.m, &w) })
			withQuantPath(path, func() { asm = matMulResult(x, shape.m, &w) })
			for e := range asm {
				if math.Float32bits(asm[e]) != math.Float32bits(portable[e]) {
					t.Fatalf("%s m=%d n=%d k=%d: element [%d,%d] = %g on path %s, %g portable",
						typ, shape.m, shape.n, k, e/shape.n, e%shape.n, asm[e], path.name, portable[e])
				}
			}
		}
	}
}

// matMulResult returns MatMul(x, w) for m rows of x.
func matMulResult(x []float32, m int, w *Matrix) []float32 {
	dst := make([]float32, m*w.Rows)
	MatMul(dst, x, m, w)
	return dst
}

// BenchmarkMatMulQuantizedPaths times a 768×768 product of each type with
// assembly dot products on amd64, on both paths, with one activation row
// (decoding) and 64 (prefill). The weights stay in the L2 cache, so this
// times the kernels rather than memory.
func BenchmarkMatMulQuantizedPaths(b *testing.B) {
	const n, k = 768, 768
	rng := rand.New(rand.NewPCG(27, 28))
	for _, typ := range slices.Concat(asmQuantTypes, rowsOnlyQuantTypes) {
		w, err := NewMatrix(n, k, typ, nil, randomBlocks(rng, typ, n, k))
		if err != nil {
			b.Fatal(err)
		}
		for _, path := range quantPaths() {
			for _, m := range []int{1, 64} {
				b.Run(fmt.Sprintf("%s/%s/m=%d", typ, path.name, m), func(b *testing.B) {
					x := randomFloats(rand.New(rand.NewPCG(5, 6)), m*k)
					dst := make([]float32, m*n)
					withQuantPath(path, func() {
						for b.Loop() {
							MatMul(dst, x, m, &w)
						}
					})
					b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
				})
			}
		}
	}
}
