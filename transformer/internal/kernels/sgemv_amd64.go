//go:build amd64 && !purego

package kernels

import (
	"runtime"
	"sync"
)

// sgemvBlockRows is the number of rows of w that a worker of sgemvAsm
// takes at a time. A block of 64 rows keeps scheduling costs small and
// still splits a 768-row matrix into 12 blocks.
const sgemvBlockRows = 64

// sgemvCall holds the operands of one sgemvAsm call for the pool's
// workers. Its block field is bound to the struct once, when the pool
// creates it, so that a call allocates nothing.
type sgemvCall struct {
	dst, x, w []float32
	m, k, n   int
	avx512    bool
	block     func(block int)
}

var sgemvCalls = sync.Pool{New: func() any {
	c := new(sgemvCall)
	c.block = c.computeBlock
	return c
}}

// sgemvAsm computes dst = x·wᵀ for a few rows of x as dot products, four
// rows of w at a time, on up to GOMAXPROCS goroutines that take blocks of
// rows of w in turn.
//
// A block of b rows is split into four runs of b/4 consecutive rows, and
// each call of the kernel takes the next row of every run, so the kernel
// reads four long sequential streams that the hardware prefetcher
// follows. Every row of w goes through the same kernel lane arithmetic
// whichever run it is in, so a row's result does not depend on m.
func sgemvAsm(dst, x, w []float32, m, k, n int) {
	blocks := (n + sgemvBlockRows - 1) / sgemvBlockRows
	c := sgemvCalls.Get().(*sgemvCall)
	c.dst, c.x, c.w = dst, x, w
	c.m, c.k, c.n = m, k, n
	c.avx512 = useSgemmAVX512
	parallelFor(sgemmWorkers(2*m*k*n), blocks, c.block)
	c.dst, c.x, c.w = nil, nil, nil
	sgemvCalls.Put(c)
}

// computeBlock computes the columns of dst of one block of rows of w.
func (c *sgemvCall) computeBlock(block int) {
	lo := block * sgemvBlockRows
	hi := min(c.n, lo+sgemvBlockRows)
	run := (hi - lo) / 4
	for j := lo; j < lo+run; j++ {
		c.dotRows(j, run)
	}
	// The rows after the four runs one at a time.
	for j := lo + 4*run; j < hi; j++ {
		c.dotRows(j, 0)
	}
}

// dotRows sets dst[i, j + r·step] for every row i of x and r = 0 … 3 to
// the dot product with row j + r·step of w. With step = 0 it sets only
// dst[i, j].
func (c *sgemvCall) dotRows(j, step int) {
	k, n := c.k, c.n
	width := 4
	if step == 0 {
		width = 1
	}
	_ = c.w[(j+3*step)*k+k-1]
	_ = c.x[c.m*k-1]
	_ = c.dst[(c.m-1)*n+j+(width-1)*step]
	var out [4]float32
	for i := range c.m {
		// With ldw = 0 the four sums are all the dot product with row j.
		if c.avx512 {
			sdot4AVX512(k, &c.x[i*k], &c.w[j*k], step*k, &out[0])
		} else {
			sdot4(k, &c.x[i*k], &c.w[j*k], step*k, &out[0])
		}
		for r := range width {
			c.dst[i*n+j+r*step] = out[r]
		}
	}
}

// saxpyMaxWorkers bounds the goroutines of saxpyRowsAsm. Each one after
// the first adds m·k floats of partial sums at the end, on one goroutine,
// so more of them pay less and less.
const saxpyMaxWorkers = 16

// saxpyCall holds the operands of one saxpyRowsAsm call and the partial
// sums of its workers after the first, which stay with the struct in its
// pool. Its chunk field is bound to the struct once, so that a call
// allocates nothing once the buffers have grown.
type saxpyCall struct {
	dx, dy, w []float32
	m, n, k   int
	chunkRows int
	partials  [saxpyMaxWorkers][]float32
	chunk     func(worker int)
}

var saxpyCalls = sync.Pool{New: func() any {
	c := new(saxpyCall)
	c.chunk = c.addChunk
	return c
}}

// saxpyRowsAsm sets dx = dy·w for a few rows of dy by adding multiples of
// whole rows of w, four at a time. Each worker takes a contiguous range of
// rows of w and sums into a buffer of its own (the first into dx), and
// the buffers are added at the end.
func saxpyRowsAsm(dx, dy, w []float32, m, n, k int) {
	clear(dx[:m*k])
	workers := min(runtime.GOMAXPROCS(0), saxpyMaxWorkers, (n+3)/4, max(1, 2*m*n*k/minFlopsPerWorker))
	if workers == 1 {
		addRowMultiples(dx, dy, w, m, n, k, 0, n)
		return
	}

	c := saxpyCalls.Get().(*saxpyCall)
	c.dx, c.dy, c.w = dx, dy, w
	c.m, c.n, c.k = m, n, k
	c.chunkRows = ((n+workers-1)/workers + 3) / 4 * 4
	chunks := (n + c.chunkRows - 1) / c.chunkRows
	parallelFor(workers, chunks, c.chunk)
	for worker := 1; worker < chunks; worker++ {
		Add(dx[:m*k], c.partials[worker][:m*k])
	}
	c.dx, c.dy, c.w = nil, nil, nil
	saxpyCalls.Put(c)
}

// addChunk adds the multiples of one worker's range of rows of w.
func (c *saxpyCall) addChunk(worker int) {
	m, n, k := c.m, c.n, c.k
	lo, hi := worker*c.chunkRows, min(n, (worker+1)*c.chunkRows)
	acc := c.dx
	if worker > 0 {
		c.partials[worker] = grow(c.partials[worker], m*k)
		acc = c.partials[worker]
		clear(acc)
	}
	addRowMultiples(acc, c.dy, c.w, m, n, k, lo, hi)
}

// addRowMultiples adds Σ_{lo≤j<hi} dy[i, j]·w[j, :] to acc[i, :] for every
// row i of dy ([m, n]), where w is [n, k] and acc is [m, k].
func addRowMultiples(acc, dy, w []float32, m, n, k, lo, hi int) {
	k8 := k / 8
	avx512 := useSgemmAVX512
	var alpha [4]float32
	j := lo
	for ; j+4 <= hi; j += 4 {
		rows := w[j*k : (j+4)*k]
		for i := range m {
			copy(alpha[:], dy[i*n+j:i*n+j+4])
			out := acc[i*k : (i+1)*k]
			switch {
			case k8 > 0 && avx512:
				saxpy4AVX512(k8, &alpha[0], &rows[0], k, &out[0])
			case k8 > 0:
				saxpy4(k8, &alpha[0], &rows[0], k, &out[0])
			}
			for c := 8 * k8; c < k; c++ {
				out[c] += alpha[0]*rows[c] + alpha[1]*rows[k+c] + alpha[2]*rows[2*k+c] + alpha[3]*rows[3*k+c]
			}
		}
	}
	for ; j < hi; j++ {
		row := w[j*k : (j+1)*k]
		for i := range m {
			a := dy[i*n+j]
			out := acc[i*k : (i+1)*k]
			for c, v := range row {
				out[c] += a * v
			}
		}
	}
}
