//go:build amd64 && !purego

package kernels

import (
	"runtime"
	"sync"
)

// quantDecodeCall holds the operands of one quantDecode call for the
// pool's workers. Its block field is bound to the struct once, when the
// pool creates it, so that a call allocates nothing.
type quantDecodeCall struct {
	dst    []float32
	w      *Matrix
	x      *quantRow
	kernel rowsKernel
	block  func(block int)
}

var quantDecodeCalls = sync.Pool{New: func() any {
	c := new(quantDecodeCall)
	c.block = c.computeBlock
	return c
}}

// quantDecode computes dst = x·wᵀ for one activation row x with the
// multi-row kernel of w's type, on up to GOMAXPROCS goroutines that take
// blocks of tileRows rows of w in turn, one kernel call per block.
//
// The kernels read the rows of a block one after another, so a block is
// already one sequential stream of weights. The F16 and F32 decode
// products walk a block as four runs of rows, in blocks of 512 KiB. Done
// here, that made GPT-2 small's 768×3072 and 3072×768 Q8_0, Q4_K and Q6_K
// products take 1 to 2 times as long (BenchmarkMatMulQuantizedDecode, two
// busy AMD EPYC Zen 4 cores), so it is not done.
func quantDecode(dst []float32, w *Matrix, x *quantRow, kernel rowsKernel) {
	n := w.Rows
	workers := min(runtime.GOMAXPROCS(0), max(1, 2*n*w.Cols/minFlopsPerWorker))
	blocks := (n + tileRows - 1) / tileRows

	c := quantDecodeCalls.Get().(*quantDecodeCall)
	c.dst, c.w, c.x, c.kernel = dst[:n], w, x, kernel
	parallelFor(workers, blocks, c.block)
	c.dst, c.w, c.x, c.kernel = nil, nil, nil, nil
	quantDecodeCalls.Put(c)
}

// computeBlock computes the elements of dst of one block of rows of w.
func (c *quantDecodeCall) computeBlock(block int) {
	lo := block * tileRows
	hi := min(len(c.dst), lo+tileRows)
	c.kernel(c.dst[lo:hi], c.w, lo, hi, c.x)
}
