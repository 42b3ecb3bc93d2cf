//go:build amd64 && !purego

package kernels

import (
	"runtime"
	"sync"

	"golang.org/x/sys/cpu"

	"github.com/interp-go/interp/gguf"
)

// useQuantAsm selects the AVX2 integer dot products of quantdot_amd64.s for
// the weight types in rowKernels. They read the packed weight blocks
// directly, so no weight row is unpacked to int16. Tests turn it off to
// compare with the portable path.
var useQuantAsm = cpu.X86.HasAVX2

// blockSumsQ8_0 stores in sums[b] the integer dot product of the quants
// of Q8_0 weight block b at w with the 32 activation quants at x+32b.
//
//go:noescape
func blockSumsQ8_0(w *byte, x *int8, blocks int, sums *int32)

// laneSumsQ4_K stores in lanes[8b+l] ggml's lane sum l of Q4_K
// super-block b at w: Σ sc·q·x over the values i ≡ l (mod 8). The
// activation quants at x are in laneInterleave order, and scales holds
// four words per super-block, the integer scales of sub-blocks 2g (low
// half) and 2g+1 (high half) for g = 0 … 3.
//
//go:noescape
func laneSumsQ4_K(w *byte, x *int8, scales *uint32, blocks int, lanes *int32)

// laneSumsQ6_K stores in lanes[8b+l] ggml's lane sum l of Q6_K
// super-block b at w: Σ sc·(q−32)·x over the values i ≡ l (mod 8). The
// activation quants at x are in laneInterleave order.
//
//go:noescape
func laneSumsQ6_K(w *byte, x *int8, blocks int, lanes *int32)

// rowKernel multiplies one quantized weight row at a time by activation
// rows. prepare decodes the row's float and integer factors once, and dot
// returns its product with one activation row, with the float32 steps of
// the portable dot function of the same type, in the same order.
type rowKernel interface {
	prepare(raw []byte)
	dot(x *quantRow) float32
}

// rowKernels maps each weight type with an assembly dot product to the
// constructor of its rowKernel for rows of k values.
var rowKernels = map[gguf.Type]func(k int) rowKernel{
	gguf.TypeQ8_0: newRowQ8_0,
	gguf.TypeQ4_K: newRowQ4_K,
	gguf.TypeQ6_K: newRowQ6_K,
}

// laneInterleave reorders every 16 activation quants as 0, 8, 1, 9, …,
// 7, 15, the order in which the assembly shuffles the weight values, so
// that each pair that VPMADDUBSW adds lies in one lane (index mod 8). The
// Q8_K block sums stay those of consecutive values.
func laneInterleave(qs []int8) {
	for c := 0; c+16 <= len(qs); c += 16 {
		chunk := (*[16]int8)(qs[c:])
		v := *chunk
		for e := range 8 {
			chunk[2*e] = v[e]
			chunk[2*e+1] = v[e+8]
		}
	}
}

// matMulQuantizedAsm computes dst = x · wᵀ like matMulQuantized, from the
// activations xq already rounded to w's activation format, with the
// assembly dot products. It returns false, computing nothing, when they do
// not cover w's type or the CPU lacks AVX2. It may reorder xq's quants.
func matMulQuantizedAsm(dst []float32, xq *quantRows, m int, w *Matrix) bool {
	newKernel, ok := rowKernels[w.Type]
	if !useQuantAsm || !ok {
		return false
	}
	if xq.format == gguf.TypeQ8_K {
		laneInterleave(xq.qs)
	}
	rows := make([]quantRow, m)
	for i := range rows {
		rows[i] = xq.row(i)
	}

	n, k := w.Rows, w.Cols
	tiles := (n + tileRows - 1) / tileRows
	workers := min(runtime.GOMAXPROCS(0), tiles)
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kernel := newKernel(k)
			for {
				mu.Lock()
				tile := next
				next++
				mu.Unlock()
				if tile >= tiles {
					return
				}
				for j := tile * tileRows; j < min(n, (tile+1)*tileRows); j++ {
					kernel.prepare(w.Raw[j*w.RowBytes : (j+1)*w.RowBytes])
					for i := range rows {
						dst[i*n+j] = kernel.dot(&rows[i])
					}
				}
			}
		}()
	}
	wg.Wait()
	return true
}

// rowQ8_0 is the rowKernel of Q8_0 weights.
type rowQ8_0 struct {
	raw  []byte
	d    []float32 // [k/32] block scales
	sums []int32   // [k/32] integer block sums of the current product
}

func newRowQ8_0(k int) rowKernel {
	return &rowQ8_0{d: make([]float32, k/qk8), sums: make([]int32, k/qk8)}
}

func (r *rowQ8_0) prepare(raw []byte) {
	r.raw = raw[:len(r.d)*q8_0Bytes]
	for b := range r.d {
		r.d[b] = f16(raw[b*q8_0Bytes:])
	}
}

// dot follows dotBlocks: Σ_b (dw·dx)·sumi.
func (r *rowQ8_0) dot(x *quantRow) float32 {
	blocks := len(r.d)
	_ = x.qs[blocks*qk8-1]
	blockSumsQ8_0(&r.raw[0], &x.qs[0], blocks, &r.sums[0])
	d, sums := r.d, r.sums[:blocks]
	var sum float32
	for b, dx := range x.d[:blocks] {
		sum += float32(float32(d[b]*dx) * float32(sums[b]))
	}
	return sum
}

// rowQ4_K is the rowKernel of Q4_K weights.
type rowQ4_K struct {
	raw     []byte
	d, dmin []float32 // [k/256] super-block factors
	scales  []uint32  // [k/256·4] pairs of sub-block scales, as laneSumsQ4_K reads them
	mins    []int32   // [k/256·8] sub-block minimums
	lanes   []int32   // [k/256·8] lane sums of the current product
}

func newRowQ4_K(k int) rowKernel {
	blocks := k / qkK
	return &rowQ4_K{
		d: make([]float32, blocks), dmin: make([]float32, blocks),
		scales: make([]uint32, 4*blocks), mins: make([]int32, 8*blocks), lanes: make([]int32, 8*blocks),
	}
}

func (r *rowQ4_K) prepare(raw []byte) {
	r.raw = raw[:len(r.d)*q4KBytes]
	for b := range r.d {
		block := (*[q4KBytes]byte)(raw[b*q4KBytes:])
		r.d[b], r.dmin[b] = f16(block[:]), f16(block[2:])
		s := (*[12]byte)(block[4:])
		for g := range 4 {
			sc0, m0 := kScaleMin(s, 2*g)
			sc1, m1 := kScaleMin(s, 2*g+1)
			r.scales[4*b+g] = uint32(sc0) | uint32(sc1)<<16
			r.mins[8*b+2*g], r.mins[8*b+2*g+1] = int32(m0), int32(m1)
		}
	}
}

// dot follows dotLanesMin: eight float32 lane sums of (dw·dx)·lane, with
// (dminw·dx)·Σ bsums·min subtracted from the running sum at each
// super-block, and the lanes added at the end.
func (r *rowQ4_K) dot(x *quantRow) float32 {
	blocks := len(r.d)
	_ = x.qs[blocks*qkK-1]
	laneSumsQ4_K(&r.raw[0], &x.qs[0], &r.scales[0], blocks, &r.lanes[0])
	var lanes [8]float32
	var sum float32
	for b, dx := range x.d[:blocks] {
		dd := float32(r.d[b] * dx)
		for l, v := range (*[8]int32)(r.lanes[8*b:]) {
			lanes[l] += float32(dd * float32(v))
		}
		// Each 32-value sub-block's minimum applies to two 16-value
		// block sums.
		bsums := (*[16]int16)(x.bsums[16*b:])
		var minSum int32
		for s, m := range (*[8]int32)(r.mins[8*b:]) {
			minSum += m * (int32(bsums[2*s]) + int32(bsums[2*s+1]))
		}
		sum -= float32(float32(r.dmin[b]*dx) * float32(minSum))
	}
	for _, v := range lanes {
		sum += v
	}
	return sum
}

// rowQ6_K is the rowKernel of Q6_K weights.
type rowQ6_K struct {
	raw   []byte
	d     []float32 // [k/256] super-block scales
	lanes []int32   // [k/256·8] lane sums of the current product
}

func newRowQ6_K(k int) rowKernel {
	blocks := k / qkK
	return &rowQ6_K{d: make([]float32, blocks), lanes: make([]int32, 8*blocks)}
}

func (r *rowQ6_K) prepare(raw []byte) {
	r.raw = raw[:len(r.d)*q6KBytes]
	for b := range r.d {
		r.d[b] = f16(raw[b*q6KBytes+208:])
	}
}

// dot follows dotLanes: eight float32 lane sums of (dw·dx)·lane over the
// super-blocks, added up at the end.
func (r *rowQ6_K) dot(x *quantRow) float32 {
	blocks := len(r.d)
	_ = x.qs[blocks*qkK-1]
	laneSumsQ6_K(&r.raw[0], &x.qs[0], blocks, &r.lanes[0])
	var lanes [8]float32
	for b, dx := range x.d[:blocks] {
		dd := float32(r.d[b] * dx)
		for l, v := range (*[8]int32)(r.lanes[8*b:]) {
			lanes[l] += float32(dd * float32(v))
		}
	}
	var sum float32
	for _, v := range lanes {
		sum += v
	}
	return sum
}
