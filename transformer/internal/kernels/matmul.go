// Package kernels holds the runtime's numeric kernels: matrix products,
// normalization, softmax and activation functions over float32 slices.
// Kernels write into caller-provided destinations and allocate nothing in
// their inner loops.
package kernels

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

var impl gonum.Implementation

// minColumnsPerWorker keeps goroutine start-up from dominating small products.
const minColumnsPerWorker = 16

// MatMulT computes dst = x · wᵀ, where x is [m, k], w is [n, k] (a weight
// matrix stored as GGUF stores it, one output row per input-sized row) and
// dst is [m, n], all row-major. The output columns are split across
// GOMAXPROCS goroutines. On amd64 with AVX2 and FMA it runs the assembly
// kernels of sgemm_amd64.s, elsewhere gonum's sgemm. It panics if a slice
// is shorter than its shape.
func MatMulT(dst, x, w []float32, m, k, n int) {
	if m == 0 || n == 0 {
		return
	}
	_ = dst[m*n-1]
	if k == 0 {
		clear(dst[:m*n])
		return
	}
	_ = x[m*k-1]
	_ = w[n*k-1]

	if useSgemmAsm {
		sgemmAsm(dst, x, w, m, k, n)
		return
	}
	matMulTPortable(dst, x, w, m, k, n)
}

// matMulTPortable is MatMulT with gonum's sgemm, splitting the output
// columns across GOMAXPROCS goroutines.
func matMulTPortable(dst, x, w []float32, m, k, n int) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/minColumnsPerWorker))
	if workers == 1 {
		impl.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, x, k, w, k, 0, dst, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(n, lo+chunk)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			impl.Sgemm(blas.NoTrans, blas.Trans, m, hi-lo, k, 1, x, k, w[lo*k:], k, 0, dst[lo:], n)
		}(lo, hi)
	}
	wg.Wait()
}

// AddBias adds bias to every row of x, which is [rows, len(bias)].
func AddBias(x, bias []float32) {
	n := len(bias)
	for off := 0; off+n <= len(x); off += n {
		row := x[off : off+n]
		for i, b := range bias {
			row[i] += b
		}
	}
}

// Add sets dst[i] += src[i] for every i.
func Add(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}
