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

// Assembly reports whether F32 products run on the assembly kernels
// (amd64 with AVX2 and FMA, without the purego tag). The portable path
// runs gonum's sgemm instead.
func Assembly() bool { return useSgemmAsm }

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
// columns across GOMAXPROCS goroutines of the worker pool.
func matMulTPortable(dst, x, w []float32, m, k, n int) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/minColumnsPerWorker))
	if workers == 1 {
		impl.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, x, k, w, k, 0, dst, n)
		return
	}
	c := portableCalls.Get().(*portableCall)
	c.dst, c.x, c.w = dst, x, w
	c.m, c.k, c.n = m, k, n
	c.chunkColumns = (n + workers - 1) / workers
	ParallelFor((n+c.chunkColumns-1)/c.chunkColumns, c.chunk)
	c.dst, c.x, c.w = nil, nil, nil
	portableCalls.Put(c)
}

// portableCall holds the operands of one matMulTPortable call for the
// pool's workers. Its chunk field is bound to the struct once, when the
// pool creates it, so that a call allocates nothing.
type portableCall struct {
	dst, x, w    []float32
	m, k, n      int
	chunkColumns int
	chunk        func(i int)
}

var portableCalls = sync.Pool{New: func() any {
	c := new(portableCall)
	c.chunk = c.multiplyChunk
	return c
}}

// multiplyChunk computes chunk i of the output columns.
func (c *portableCall) multiplyChunk(i int) {
	lo := i * c.chunkColumns
	hi := min(c.n, lo+c.chunkColumns)
	impl.Sgemm(blas.NoTrans, blas.Trans, c.m, hi-lo, c.k, 1, c.x, c.k, c.w[lo*c.k:], c.k, 0, c.dst[lo:], c.n)
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
