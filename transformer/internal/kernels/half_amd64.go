//go:build amd64 && !purego

package kernels

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/interp-go/interp/gguf"
)

// useHalfAsm selects the AVX2, FMA and F16C kernels of half_amd64.s for
// products with F16 and BF16 weights, and useHalfAVX512 the AVX-512
// variants of the kernels that pack them for the packed product (AVX512F,
// and AVX512BW for BF16).
// Tests turn them off to compare the paths.
var (
	useHalfAsm    = cpu.X86.HasAVX2 && cpu.X86.HasFMA && hasF16C()
	useHalfAVX512 = useHalfAsm && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW
)

// hdot4F16 sets dst[r] = Σ_{c<8·k8} x[c]·w[r·ldw + c] for r = 0 … 3, where
// w holds F16 weights, and hdot4BF16 does the same for BF16 weights. They
// sum in the order of hdot4x2F16 and hdot4x2BF16.
//
//go:noescape
func hdot4F16(k8 int, x *float32, w *uint16, ldw int, dst *float32)

//go:noescape
func hdot4BF16(k8 int, x *float32, w *uint16, ldw int, dst *float32)

// hdot4x2F16 sets dst[4i + r] = Σ_{c<8·k8} x[i·ldx + c]·w[r·ldw + c] for
// the rows i = 0, 1 of x and r = 0 … 3 of F16 weights w, and hdot4x2BF16
// does the same for BF16 weights.
//
//go:noescape
func hdot4x2F16(k8 int, x *float32, ldx int, w *uint16, ldw int, dst *float32)

//go:noescape
func hdot4x2BF16(k8 int, x *float32, ldx int, w *uint16, ldw int, dst *float32)

// roundToF16 sets dst[i] to src[i] rounded to the nearest F16 value, ties
// to even, for i < 8·n8.
//
//go:noescape
func roundToF16(n8 int, src, dst *float32)

// roundHalfActivations sets out[:len(x)] to x rounded as roundActivations
// rounds it for F16 or BF16 weights t, with VCVTPS2PH for F16 where the CPU
// has F16C, and returns out[:len(x)]. Both round to nearest with ties to
// even, subnormals and overflow to infinity included. A NaN stays NaN,
// though its payload may differ from roundActivations'.
func roundHalfActivations(out []float32, t gguf.Type, x []float32) []float32 {
	out = out[:len(x)]
	if !useHalfAsm || t != gguf.TypeF16 {
		roundActivationsTo(out, t, x)
		return out
	}
	n8 := len(x) / 8
	if n8 > 0 {
		roundToF16(n8, &x[0], &out[0])
	}
	for i := 8 * n8; i < len(x); i++ {
		out[i] = gguf.F16ToFloat32(gguf.Float32ToF16(x[i]))
	}
	return out
}

// halfDotMaxRows is the largest m for which matMulHalfAsm takes dot
// products of whole rows instead of the packed product. On GPT-2 small's
// MLP shapes (768×3072 and 3072×768) on one core of a busy AMD EPYC
// (Zen 4), the dot products took 0.7 to 0.85 of the packed product's time
// for m = 12 and 16, 0.85 to 0.95 for m = 24, and more from about m = 32
// on. (Measured when the packed product still widened the weights in a
// pass of their own.)
const halfDotMaxRows = 16

// matMulHalfAsm computes dst = x · wᵀ for F16 or BF16 w with the assembly
// kernels and returns true, or returns false where they do not apply.
// Every weight is widened exactly to float32, and the products are summed
// in float32 with FMA, in an order that is not ggml's. The dot products of
// few rows keep eight partial sums per output, one per column modulo 8,
// and add them pairwise at the end. The columns after the last whole group
// of eight are then added one by one. Up to halfDotMaxRows rows, a row's
// result does not depend on the other rows. The packed product for more
// rows sums in sgemmPacked's order, so in a longer batch the same row can
// differ in the last bits.
func matMulHalfAsm(dst, x []float32, m int, w *Matrix) bool {
	if !useHalfAsm || w.Type != gguf.TypeF16 && w.Type != gguf.TypeBF16 {
		return false
	}
	n, k := w.Rows, w.Cols
	if m == 0 || n == 0 {
		return true
	}
	_ = dst[m*n-1]
	if k == 0 {
		clear(dst[:m*n])
		return true
	}
	_ = x[m*k-1]

	if m <= halfDotMaxRows {
		halfDotRows(dst, x, m, w)
	} else {
		halfPacked(dst, x, m, w)
	}
	return true
}

// halfWords returns the raw weights of w as 16-bit words. GGUF stores
// them little-endian, the byte order of amd64.
func halfWords(w *Matrix) []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(w.Raw))), len(w.Raw)/2)
}

// halfToFloat32 returns the value of one F16 or BF16 weight.
func halfToFloat32(v uint16, t gguf.Type) float32 {
	if t == gguf.TypeF16 {
		return gguf.F16ToFloat32(v)
	}
	return gguf.BF16ToFloat32(v)
}

// halfDot4 sets out[r] to the dot product of x (k floats) with the weight
// row at w[r·ldw:], for r = 0 … 3. With ldw = 0 all four are the dot
// product with one row.
func halfDot4(out *[4]float32, x []float32, w []uint16, ldw int, t gguf.Type) {
	k := len(x)
	_ = w[3*ldw+k-1]
	k8 := k / 8
	switch {
	case k8 == 0:
		*out = [4]float32{}
	case t == gguf.TypeF16:
		hdot4F16(k8, &x[0], &w[0], ldw, &out[0])
	default:
		hdot4BF16(k8, &x[0], &w[0], ldw, &out[0])
	}
	for c := 8 * k8; c < k; c++ {
		for r := range 4 {
			out[r] += x[c] * halfToFloat32(w[r*ldw+c], t)
		}
	}
}

// halfDotRows computes dst = x·wᵀ for a few rows of x as dot products,
// four rows of w at a time, on up to GOMAXPROCS goroutines that take
// blocks of rows of w in turn. The kernels read the weights straight from
// w, and pairs of rows of x share each widened weight.
//
// A block of b rows is split into four runs of b/4 consecutive rows, and
// each call takes the next row of every run. The kernels then read four
// long sequential streams, which the hardware prefetcher follows, rather
// than four rows of 1.5 to 6 KiB that end before it has started. Measured
// on 40 out-of-cache 3072×768 F16 matrices and one row of x, two cores of
// an AMD EPYC (Zen 4) read about 25 GB/s this way. Four adjacent rows gave
// 15 GB/s, and adjacent rows with software prefetching 22 GB/s.
func halfDotRows(dst, x []float32, m int, w *Matrix) {
	n, k := w.Rows, w.Cols
	blockRows := max(64, (halfDotBlockBytes/(2*k)+15)/16*16)
	blocks := (n + blockRows - 1) / blockRows
	c := halfDotCalls.Get().(*halfDotCall)
	c.dst, c.x, c.words = dst, x, halfWords(w)
	c.m, c.n, c.k, c.blockRows, c.t = m, n, k, blockRows, w.Type
	parallelFor(sgemmWorkers(2*m*k*n), blocks, c.block)
	c.dst, c.x, c.words = nil, nil, nil
	halfDotCalls.Put(c)
}

// halfDotCall holds the operands of one halfDotRows call for the pool's
// workers. Its block field is bound to the struct once, when the pool
// creates it, so that a call allocates nothing.
type halfDotCall struct {
	dst, x             []float32
	words              []uint16
	m, n, k, blockRows int
	t                  gguf.Type
	block              func(block int)
}

var halfDotCalls = sync.Pool{New: func() any {
	c := new(halfDotCall)
	c.block = c.computeBlock
	return c
}}

// computeBlock computes the columns of dst of one block of rows of w.
func (c *halfDotCall) computeBlock(block int) {
	lo := block * c.blockRows
	hi := min(c.n, lo+c.blockRows)
	run := (hi - lo) / 4
	for j := lo; j < lo+run; j++ {
		halfDotRowGroup(c.dst, c.x, c.m, c.n, c.k, c.words[j*c.k:], run*c.k, c.t, j, run)
	}
	// The rows after the four runs one at a time, through ldw = 0.
	for j := lo + 4*run; j < hi; j++ {
		halfDotRowGroup(c.dst, c.x, c.m, c.n, c.k, c.words[j*c.k:], 0, c.t, j, 0)
	}
}

// halfDotBlockBytes is about the size of the blocks of weights that
// halfDotRows hands out, so that each of a block's four runs is a stream of
// about 128 KiB. Blocks of 64 rows give four streams of 24 KiB for GPT-2
// small's 768 columns. With them the F16 products of one decoding step
// took about 1.2 times as long on two loaded cores of an AMD EPYC (Zen 4),
// an estimate from interleaved runs. Every row comes out the same
// whatever the block size.
const halfDotBlockBytes = 512 << 10

// halfDotRowGroup sets dst[i, j + r·step] for every row i of x and r = 0 …
// 3 to the dot products with the four weight rows at w, ldw words apart.
// With ldw = 0 it sets only dst[i, j], the product with one row.
func halfDotRowGroup(dst, x []float32, m, n, k int, w []uint16, ldw int, t gguf.Type, j, step int) {
	width := 4
	if ldw == 0 {
		width = 1
	}
	var out [8]float32
	i := 0
	for ; i+2 <= m; i += 2 {
		halfDot4x2((*[8]float32)(&out), x[i*k:(i+2)*k], w, ldw, t)
		for r := range width {
			dst[i*n+j+r*step] = out[r]
			dst[(i+1)*n+j+r*step] = out[4+r]
		}
	}
	if i < m {
		halfDot4((*[4]float32)(out[:4]), x[i*k:(i+1)*k], w, ldw, t)
		for r := range width {
			dst[i*n+j+r*step] = out[r]
		}
	}
}

// halfDot4x2 is halfDot4 for two rows of x, which is [2, k]. out[4i + r]
// is the dot product of row i with weight row r.
func halfDot4x2(out *[8]float32, x []float32, w []uint16, ldw int, t gguf.Type) {
	k := len(x) / 2
	_ = w[3*ldw+k-1]
	k8 := k / 8
	if k8 == 0 {
		*out = [8]float32{}
	} else if t == gguf.TypeF16 {
		hdot4x2F16(k8, &x[0], k, &w[0], ldw, &out[0])
	} else {
		hdot4x2BF16(k8, &x[0], k, &w[0], ldw, &out[0])
	}
	for c := 8 * k8; c < k; c++ {
		for r := range 4 {
			v := halfToFloat32(w[r*ldw+c], t)
			out[r] += x[c] * v
			out[4+r] += x[k+c] * v
		}
	}
}

// halfPacked computes dst = x·wᵀ for many rows of x with sgemmPacked's
// blocks and kernels, packing blocks of w straight from its F16 or BF16
// weights.
func halfPacked(dst, x []float32, m int, w *Matrix) {
	n, k := w.Rows, w.Cols
	b := sgemmOperand{half: halfWords(w), bf16: w.Type == gguf.TypeBF16, ld: k, trans: true}
	sgemmPackedWith(sgemmTilingFor(m), dst, n, x, k, b, m, k, n)
}

// packHalfBTransposed is packBTransposed for b of F16 (or, with bf16,
// BF16) weights, which it widens to floats.
func packHalfBTransposed(dst []float32, b []uint16, bf16 bool, ldb, jc, nc, pc, kc int) {
	t := gguf.TypeF16
	if bf16 {
		t = gguf.TypeBF16
	}
	for jr := 0; jr < nc; jr += sgemmNR {
		sliver := dst[jr*kc : (jr+sgemmNR)*kc]
		nr := min(sgemmNR, nc-jr)
		first := (jc+jr)*ldb + pc
		// The assembly packs full slivers, and the loop below the rest.
		packed := 0
		if nr == sgemmNR {
			packed = transpose16HalfRows(sliver, b, bf16, first, ldb, kc)
		}
		for r := range nr {
			row := b[first+r*ldb:][:kc]
			for c := packed; c < kc; c++ {
				sliver[c*sgemmNR+r] = halfToFloat32(row[c], t)
			}
		}
		for r := nr; r < sgemmNR; r++ {
			for c := range kc {
				sliver[c*sgemmNR+r] = 0
			}
		}
	}
}

// transpose16HalfRows is transpose16Rows for 16 rows of F16 or BF16
// weights: it widens and packs the first columns of the rows, whole steps
// of 16 with useHalfAVX512 and then of 8, and returns the number of
// columns packed. Without useHalfAsm it packs none.
func transpose16HalfRows(dst []float32, b []uint16, bf16 bool, first, ldb, kc int) int {
	packed := kc / 8 * 8
	if !useHalfAsm || packed == 0 {
		return 0
	}
	_ = b[first+15*ldb+packed-1]
	_ = dst[packed*16-1]
	done := 0
	if useHalfAVX512 {
		done = kc / 16 * 16
		switch {
		case done == 0:
		case bf16:
			packBT16BF16AVX512(done/16, &b[first], ldb, &dst[0])
		default:
			packBT16F16AVX512(done/16, &b[first], ldb, &dst[0])
		}
	}
	switch {
	case done == packed:
	case bf16:
		packBT16BF16((packed-done)/8, &b[first+done], ldb, &dst[done*16])
	default:
		packBT16F16((packed-done)/8, &b[first+done], ldb, &dst[done*16])
	}
	return packed
}
