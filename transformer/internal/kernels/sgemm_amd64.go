//go:build amd64 && !purego

package kernels

import (
	"runtime"
	"sync"

	"golang.org/x/sys/cpu"
)

// useSgemmAsm selects the assembly kernels for F32 products: those of
// sgemm_amd64.s, which need AVX2 and FMA, and with useSgemmAVX512 also
// those of sgemm_avx512_amd64.s. x/sys/cpu reports AVX2 only when the
// operating system also saves the YMM registers. Tests turn it off to
// compare with the portable path.
var useSgemmAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useSgemmAVX512 selects the AVX-512F kernels of sgemm_avx512_amd64.s
// (micro-kernels, transposing packer, sdot4 and saxpy4) in place of the
// AVX2 ones while useSgemmAsm is set. x/sys/cpu reports AVX-512F only when
// the operating system also saves the ZMM and mask registers.
var useSgemmAVX512 = useSgemmAsm && cpu.X86.HasAVX512F

// Block sizes of the packed product, in the terms of Goto and van de
// Geijn's "Anatomy of High-Performance Matrix Multiplication" (ACM
// Transactions on Mathematical Software, 2008). Every micro-kernel takes
// packed slivers of sgemmNR columns of b ([kc, sgemmNR]), which therefore
// have one layout and one set of packing routines.
//
// The AVX2 micro-kernel keeps a sgemmMR×sgemmNR tile of dst in twelve YMM
// registers. A packed sgemmMR-row sliver of x and a packed sgemmNR-column
// sliver of w (sgemmKC·sgemmNR·4 = 16 KiB) stay in the 32 KiB L1 cache.
// The 512 KiB L2 cache of AMD Zen 2 and Zen 3 keeps one worker's packed
// blocks of x (sgemmMC×sgemmKC, 144 KiB) and of w (sgemmKC×sgemmNC,
// 128 KiB). It also keeps the block of dst they update (at most 72 KiB).
//
// The AVX-512 micro-kernel keeps a sgemmMR512×sgemmNR tile in sixteen ZMM
// registers. Its blocks are sized by the same rule. A 16 KiB sliver of w
// stays in the L1 cache. Per worker, a 192 KiB block of x, a 128 KiB block
// of w and at most 96 KiB of dst fit in 512 KiB of L2 cache.
const (
	sgemmNR = 16

	sgemmMR = 6
	sgemmKC = 256
	sgemmMC = 144
	sgemmNC = 128

	sgemmMR512 = 16
	sgemmKC512 = 256
	sgemmMC512 = 192
	sgemmNC512 = 128
)

// sgemmTiling is a micro-kernel of the packed product with its block
// sizes.
type sgemmTiling struct {
	mr         int // rows of a tile of dst and of a packed sliver of a
	kc, mc, nc int // depth of a packed block, and its rows of a and columns of b
	// kernel sets (add = 0) or increases (add = 1) the mr×sgemmNR tile at
	// c, whose rows are ldc floats apart, by the product of a packed
	// sliver of a ([kc, mr]) and one of b ([kc, sgemmNR]).
	kernel func(kc int, a, b, c *float32, ldc int, add int)
	// edgeKernel, if set, is kernel for only the first edgeRows rows of
	// the tile, for a last sliver of at most edgeRows rows.
	edgeKernel func(kc int, a, b, c *float32, ldc int, add int)
	edgeRows   int
}

var (
	sgemmTilingAVX2 = sgemmTiling{
		mr: sgemmMR, kc: sgemmKC, mc: sgemmMC, nc: sgemmNC,
		kernel: sgemmKernel6x16,
	}
	sgemmTilingAVX512 = sgemmTiling{
		mr: sgemmMR512, kc: sgemmKC512, mc: sgemmMC512, nc: sgemmNC512,
		kernel:     sgemmKernel16x16AVX512,
		edgeKernel: sgemmKernel8x16AVX512, edgeRows: 8,
	}
)

// sgemmTilingFor returns the tiling for a product with m rows of a. The
// AVX-512 kernels, when useSgemmAVX512 allows them, compute rows in
// slivers of 16 (or 8 for the last one) against 6 for AVX2, so for some m
// they compute more padding rows. They take the product only if they
// compute no more rows than AVX2, because they gain little per row: from
// 2% slower to 6% faster for m = 20 to 128 with GPT-2 small's shapes, in
// CPU time on one core of a loaded two-core AMD EPYC 9004 (Zen 4).
//
// NOTE: Zen 4 splits each 512-bit FMA into two 256-bit halves. Processors
// with full-width AVX-512 units are likely to gain more per row, so this
// rule may pick the AVX2 kernels where AVX-512 would be faster.
func sgemmTilingFor(m int) *sgemmTiling {
	if !useSgemmAVX512 {
		return &sgemmTilingAVX2
	}
	if sgemmTilingAVX512.computedRows(m) > sgemmTilingAVX2.computedRows(m) {
		return &sgemmTilingAVX2
	}
	return &sgemmTilingAVX512
}

// computedRows returns the rows of a, padding included, that t's kernels
// compute for a product with m rows of a.
func (t *sgemmTiling) computedRows(m int) int {
	full := m / t.mr * t.mr
	switch rest := m - full; {
	case rest == 0:
		return full
	case t.edgeKernel != nil && rest <= t.edgeRows:
		return full + t.edgeRows
	default:
		return full + t.mr
	}
}

// sgemvMaxRows is the largest m for which MatMulT takes dot products of
// whole rows of x and w instead of packing them. With so few rows of x,
// packing w costs more than it saves: on GPT-2 small's shapes (k = 768,
// n = 3072 and k = 3072, n = 768) dot products were faster up to m = 8 and
// about even at m = 12 on an AMD EPYC (Zen 3) with two cores.
const sgemvMaxRows = 8

// saxpyMaxRows is the largest m for which MatMulInputGrad adds multiples
// of whole rows of w instead of packing them. Measured as above, packing
// was faster from m = 8 on for n = 768 and from m = 16 on for n = 3072.
const saxpyMaxRows = 4

// sgemmBuffers is one worker's packed block of b and its edge tile.
// Its arrays fit the larger of the two tilings.
type sgemmBuffers struct {
	b    [max(sgemmKC*sgemmNC, sgemmKC512*sgemmNC512)]float32
	tile [max(sgemmMR, sgemmMR512) * sgemmNR]float32
}

var sgemmPool = sync.Pool{New: func() any { return new(sgemmBuffers) }}

// sgemmKernel6x16 sets (add = 0) or increases (add = 1) the 6×16 tile at c,
// whose rows are ldc floats apart, by the product of a packed sliver a
// ([kc, 6]) and a packed sliver b ([kc, 16]).
//
//go:noescape
func sgemmKernel6x16(kc int, a, b, c *float32, ldc int, add int)

// sgemmKernel16x16AVX512 is sgemmKernel6x16 for a 16×16 tile and a packed
// sliver a of [kc, 16], with AVX-512F.
//
//go:noescape
func sgemmKernel16x16AVX512(kc int, a, b, c *float32, ldc int, add int)

// sgemmKernel8x16AVX512 is sgemmKernel16x16AVX512 for the first 8 rows of
// the tile only. It still reads a as a sliver of [kc, 16].
//
//go:noescape
func sgemmKernel8x16AVX512(kc int, a, b, c *float32, ldc int, add int)

// sdot4 sets dst[r] = Σ_{c<k} x[c]·w[r·ldw + c] for r = 0, 1, 2, 3.
//
//go:noescape
func sdot4(k int, x, w *float32, ldw int, dst *float32)

// packBT16 packs 16 rows of b, ldb floats apart, over 8·kc8 columns into
// dst as [8·kc8, 16], so dst[c·16 + r] = b[r·ldb + c].
//
//go:noescape
func packBT16(kc8 int, b *float32, ldb int, dst *float32)

// packBT16AVX512 is packBT16 over 16·kc16 columns, 16 at a time, with
// AVX-512F.
//
//go:noescape
func packBT16AVX512(kc16 int, b *float32, ldb int, dst *float32)

// packBT16F16 is packBT16 for 16 rows of F16 weights, which it widens
// exactly to floats, and packBT16BF16 the same for BF16 weights. ldb
// counts weights. packBT16F16 needs F16C as well.
//
//go:noescape
func packBT16F16(kc8 int, b *uint16, ldb int, dst *float32)

//go:noescape
func packBT16BF16(kc8 int, b *uint16, ldb int, dst *float32)

// packBT16F16AVX512 and packBT16BF16AVX512 are packBT16F16 and
// packBT16BF16 over 16·kc16 columns, 16 at a time, with AVX-512F (and
// AVX512BW for BF16).
//
//go:noescape
func packBT16F16AVX512(kc16 int, b *uint16, ldb int, dst *float32)

//go:noescape
func packBT16BF16AVX512(kc16 int, b *uint16, ldb int, dst *float32)

// packB16 copies kc rows of 16·slivers floats of b, ldb floats apart, into
// slivers of [kc, 16] floats at dst, so dst[s·kc·16 + c·16 + r] =
// b[c·ldb + s·16 + r].
//
//go:noescape
func packB16(kc, slivers int, b *float32, ldb int, dst *float32)

// saxpy4 adds Σ_r alpha[r]·w[r·ldw + c] to y[c] for r = 0, 1, 2, 3 and
// c < 8·k8.
//
//go:noescape
func saxpy4(k8 int, alpha, w *float32, ldw int, y *float32)

// sdot4AVX512 is sdot4 with AVX-512F.
//
//go:noescape
func sdot4AVX512(k int, x, w *float32, ldw int, dst *float32)

// saxpy4AVX512 is saxpy4 with AVX-512F.
//
//go:noescape
func saxpy4AVX512(k8 int, alpha, w *float32, ldw int, y *float32)

// sgemmAsm is MatMulT with the assembly kernels. The caller has checked
// the shapes and that m, n and k are positive.
func sgemmAsm(dst, x, w []float32, m, k, n int) {
	if m <= sgemvMaxRows {
		sgemvAsm(dst, x, w, m, k, n)
		return
	}
	sgemmPacked(dst, n, x, k, w, k, true, m, k, n)
}

// sgemmInputGradAsm sets dx = dy·w for dy of shape [m, n] and w of shape
// [n, k], MatMulInputGrad for F32 weights, with the assembly kernels.
func sgemmInputGradAsm(dx, dy, w []float32, m, n, k int) {
	_ = dx[m*k-1]
	_ = dy[m*n-1]
	_ = w[n*k-1]
	if m <= saxpyMaxRows {
		saxpyRowsAsm(dx, dy, w, m, n, k)
		return
	}
	sgemmPacked(dx, k, dy, n, w, k, false, m, n, k)
}

// sgemmPacked computes dst = a·op(b) for a of shape [m, depth] with rows
// lda apart and dst of shape [m, cols] with rows ldc apart. With transB,
// b is [cols, depth] and op(b) = bᵀ (MatMulT's layout), otherwise b is
// [depth, cols] (MatMulInputGrad's). Its rows are ldb floats apart.
//
// All of a is packed once, then workers take blocks of columns in turn,
// pack them block by block over depth and multiply.
func sgemmPacked(dst []float32, ldc int, a []float32, lda int, b []float32, ldb int, transB bool, m, depth, cols int) {
	sgemmPackedWith(sgemmTilingFor(m), dst, ldc, a, lda, sgemmOperand{f32: b, ld: ldb, trans: transB}, m, depth, cols)
}

// sgemmOperand is the right operand b of the packed product: floats, or
// F16 or BF16 weights that packing widens exactly to floats. Widening
// while packing gives the same packed blocks, and so the same products,
// as widening all of b first.
type sgemmOperand struct {
	f32   []float32
	half  []uint16 // the weights when f32 is nil, only with trans
	bf16  bool     // half holds BF16 rather than F16 weights
	ld    int      // elements from one row of b to the next
	trans bool     // b is [cols, depth], and the product takes bᵀ
}

// pack packs rows [pc, pc+kc) and columns [jc, jc+nc) of op(b) into
// slivers of sgemmNR columns ([kc, sgemmNR]) at dst.
func (b *sgemmOperand) pack(dst []float32, jc, nc, pc, kc int) {
	switch {
	case b.f32 == nil:
		packHalfBTransposed(dst, b.half, b.bf16, b.ld, jc, nc, pc, kc)
	case b.trans:
		packBTransposed(dst, b.f32, b.ld, jc, nc, pc, kc)
	default:
		packB(dst, b.f32, b.ld, jc, nc, pc, kc)
	}
}

// sgemmPackedWith is sgemmPacked with the micro-kernel and block sizes of
// t, for any operand b.
func sgemmPackedWith(t *sgemmTiling, dst []float32, ldc int, a []float32, lda int, b sgemmOperand, m, depth, cols int) {
	packed := sgemmPackedA(t, a, lda, m, depth)
	mPadded := (m + t.mr - 1) / t.mr * t.mr

	width := sgemmBlockWidth(t, cols, 2*m*depth*cols)
	blocks := (cols + width - 1) / width
	parallelBlocks(blocks, 2*m*depth*cols, func(block int, buf *sgemmBuffers) {
		jc := block * width
		nc := min(width, cols-jc)
		for pc := 0; pc < depth; pc += t.kc {
			kc := min(t.kc, depth-pc)
			b.pack(buf.b[:], jc, nc, pc, kc)
			add := 0
			if pc > 0 {
				add = 1
			}
			blockA := packed.data[pc*mPadded : pc*mPadded+mPadded*kc]
			for ic := 0; ic < m; ic += t.mc {
				mc := min(t.mc, m-ic)
				sgemmBlock(t, dst, ldc, blockA[ic*kc:], buf, ic, mc, jc, nc, kc, add)
			}
		}
	})
	sgemmPackedPool.Put(packed)
}

// sgemmBlockWidth returns the number of columns in a block of the packed
// product: at most t.nc and a multiple of sgemmNR, with at least four
// blocks per worker, so that workers finish together even when another
// process takes part of a core.
func sgemmBlockWidth(t *sgemmTiling, cols, flops int) int {
	workers := sgemmWorkers(flops)
	blocks := max((cols+t.nc-1)/t.nc, 4*workers)
	width := (cols + blocks - 1) / blocks
	return max(sgemmNR, (width+sgemmNR-1)/sgemmNR*sgemmNR)
}

// sgemmPackedBuffer is a packed left operand. Its size follows the
// largest product seen, so it comes from a pool of its own.
type sgemmPackedBuffer struct{ data []float32 }

var sgemmPackedPool = sync.Pool{New: func() any { return new(sgemmPackedBuffer) }}

// sgemmPackedA packs a, [m, depth] with rows lda apart, block by block
// over depth. Block pc holds the rows padded to a multiple of t.mr as
// slivers of t.mr rows ([kc, t.mr] each) and starts at pc·mPadded.
// The caller returns the buffer to sgemmPackedPool.
func sgemmPackedA(t *sgemmTiling, a []float32, lda, m, depth int) *sgemmPackedBuffer {
	mPadded := (m + t.mr - 1) / t.mr * t.mr
	packed := sgemmPackedPool.Get().(*sgemmPackedBuffer)
	packed.data = grow(packed.data, mPadded*depth)
	for pc := 0; pc < depth; pc += t.kc {
		kc := min(t.kc, depth-pc)
		switch t.mr {
		case 6:
			packA6(packed.data[pc*mPadded:], a, lda, m, pc, kc)
		case 16:
			packA16(packed.data[pc*mPadded:], a, lda, m, pc, kc)
		default:
			packARows(packed.data[pc*mPadded:], t.mr, a, lda, 0, m, pc, kc)
		}
	}
	return packed
}

// sgemmBlock multiplies the packed rows [ic, ic+mc) of a, whose first
// sliver is at packedA, by one packed block of b ([kc, nc]) into dst at
// row ic, column jc.
func sgemmBlock(t *sgemmTiling, dst []float32, ldc int, packedA []float32, buf *sgemmBuffers, ic, mc, jc, nc, kc, add int) {
	for jr := 0; jr < nc; jr += sgemmNR {
		nr := min(sgemmNR, nc-jr)
		bp := &buf.b[jr*kc]
		for ir := 0; ir < mc; ir += t.mr {
			mr := min(t.mr, mc-ir)
			ap := &packedA[ir*kc : (ir+t.mr)*kc][0]
			kernel, rows := t.kernel, t.mr
			if t.edgeKernel != nil && mr <= t.edgeRows {
				kernel, rows = t.edgeKernel, t.edgeRows
			}
			if mr == rows && nr == sgemmNR {
				c := dst[(ic+ir)*ldc+jc+jr:]
				_ = c[(rows-1)*ldc+sgemmNR-1]
				kernel(kc, ap, bp, &c[0], ldc, add)
				continue
			}
			kernel(kc, ap, bp, &buf.tile[0], sgemmNR, 0)
			for r := range mr {
				row := dst[(ic+ir+r)*ldc+jc+jr:][:nr]
				tile := buf.tile[r*sgemmNR:][:nr]
				if add == 0 {
					copy(row, tile)
				} else {
					for j, v := range tile {
						row[j] += v
					}
				}
			}
		}
	}
}

// packA6 copies all rows and columns [pc, pc+kc) of a into slivers of 6
// rows, each stored column by column ([kc, 6]), padding the last sliver
// with zero rows.
func packA6(dst, a []float32, lda, m, pc, kc int) {
	full := m / 6 * 6
	for ir := 0; ir < full; ir += 6 {
		sliver := dst[ir*kc : (ir+6)*kc]
		r0 := a[ir*lda+pc:][:kc]
		r1 := a[(ir+1)*lda+pc:][:kc]
		r2 := a[(ir+2)*lda+pc:][:kc]
		r3 := a[(ir+3)*lda+pc:][:kc]
		r4 := a[(ir+4)*lda+pc:][:kc]
		r5 := a[(ir+5)*lda+pc:][:kc]
		for c := range kc {
			s := sliver[c*6 : c*6+6]
			s[0], s[1], s[2], s[3], s[4], s[5] = r0[c], r1[c], r2[c], r3[c], r4[c], r5[c]
		}
	}
	packARows(dst, 6, a, lda, full, m, pc, kc)
}

// packA16 is packA6 for slivers of 16 rows.
func packA16(dst, a []float32, lda, m, pc, kc int) {
	full := m / 16 * 16
	for ir := 0; ir < full; ir += 16 {
		sliver := dst[ir*kc : (ir+16)*kc]
		first := ir*lda + pc
		packed := transpose16Rows(sliver, a, first, lda, kc)
		for r := range 16 {
			row := a[first+r*lda:][:kc]
			for c := packed; c < kc; c++ {
				sliver[c*16+r] = row[c]
			}
		}
	}
	packARows(dst, 16, a, lda, full, m, pc, kc)
}

// packARows copies rows [lo, m) and columns [pc, pc+kc) of a into slivers
// of mr rows ([kc, mr] each) starting at sliver lo/mr of dst, padding the
// last sliver with zero rows. lo is a multiple of mr.
func packARows(dst []float32, mr int, a []float32, lda, lo, m, pc, kc int) {
	for ir := lo; ir < m; ir += mr {
		sliver := dst[ir*kc : (ir+mr)*kc]
		rows := min(mr, m-ir)
		if rows < mr {
			clear(sliver)
		}
		for r := range rows {
			for c, v := range a[(ir+r)*lda+pc:][:kc] {
				sliver[c*mr+r] = v
			}
		}
	}
}

// packBTransposed copies rows [jc, jc+nc) and columns [pc, pc+kc) of b,
// which is [cols, depth], into slivers of sgemmNR rows of b, each stored
// column by column ([kc, sgemmNR]), padding the last sliver with zeros.
func packBTransposed(dst, b []float32, ldb, jc, nc, pc, kc int) {
	for jr := 0; jr < nc; jr += sgemmNR {
		sliver := dst[jr*kc : (jr+sgemmNR)*kc]
		nr := min(sgemmNR, nc-jr)
		first := (jc+jr)*ldb + pc
		// The assembly transposes full slivers, and the loop below packs
		// the rest.
		packed := 0
		if nr == sgemmNR {
			packed = transpose16Rows(sliver, b, first, ldb, kc)
		}
		for r := range nr {
			row := b[first+r*ldb:][:kc]
			for c := packed; c < kc; c++ {
				sliver[c*sgemmNR+r] = row[c]
			}
		}
		for r := nr; r < sgemmNR; r++ {
			for c := range kc {
				sliver[c*sgemmNR+r] = 0
			}
		}
	}
}

// transpose16Rows packs 16 rows of b, the first at b[first] and ldb
// floats apart, over their first kc/8·8 columns into dst, so that
// dst[c·16 + r] = b[first + r·ldb + c]. It returns the number of columns
// packed. With useSgemmAVX512 it takes 16 columns a step, which reads
// whole cache lines of each row.
func transpose16Rows(dst, b []float32, first, ldb, kc int) int {
	packed := kc / 8 * 8
	if packed == 0 {
		return 0
	}
	_ = b[first+15*ldb+packed-1]
	_ = dst[packed*16-1]
	done := 0
	if useSgemmAVX512 {
		done = kc / 16 * 16
		if done > 0 {
			packBT16AVX512(done/16, &b[first], ldb, &dst[0])
		}
	}
	if done < packed {
		packBT16((packed-done)/8, &b[first+done], ldb, &dst[done*16])
	}
	return packed
}

// packB copies rows [pc, pc+kc) and columns [jc, jc+nc) of b, which is
// [depth, cols], into slivers of sgemmNR columns ([kc, sgemmNR]), padding
// the last sliver with zeros.
func packB(dst, b []float32, ldb, jc, nc, pc, kc int) {
	full := nc / sgemmNR
	if full > 0 {
		first := pc*ldb + jc
		_ = b[first+(kc-1)*ldb+full*sgemmNR-1]
		_ = dst[full*sgemmNR*kc-1]
		packB16(kc, full, &b[first], ldb, &dst[0])
	}
	if jr := full * sgemmNR; jr < nc {
		sliver := dst[jr*kc : (jr+sgemmNR)*kc]
		for c := range kc {
			out := sliver[c*sgemmNR : (c+1)*sgemmNR]
			copy(out, b[(pc+c)*ldb+jc+jr:][:nc-jr])
			clear(out[nc-jr:])
		}
	}
}

// minFlopsPerWorker keeps the cost of handing work to a helper goroutine
// of the worker pool small beside the work that the helper takes on.
const minFlopsPerWorker = 1 << 18

// sgemmWorkers returns the number of goroutines for a product of the given
// work in flops.
func sgemmWorkers(flops int) int {
	return min(runtime.GOMAXPROCS(0), max(1, flops/minFlopsPerWorker))
}

// parallelBlocks calls fn for blocks [0, n) on up to GOMAXPROCS
// goroutines of the worker pool, each with packing buffers of its own.
// Small products, by their total work in flops, get fewer goroutines.
func parallelBlocks(n, flops int, fn func(block int, buf *sgemmBuffers)) {
	c := blockCalls.Get().(*blockCall)
	c.fn = fn
	parallelWithState(sgemmWorkers(flops), n, &sgemmPool, c.block)
	c.fn = nil
	blockCalls.Put(c)
}

// blockCall passes the fn of one parallelBlocks call to the pool's
// workers. Its block field is bound to the struct once, when the pool
// creates it, so that only the caller's fn can allocate.
type blockCall struct {
	fn    func(block int, buf *sgemmBuffers)
	block func(block int, state any)
}

var blockCalls = sync.Pool{New: func() any {
	c := new(blockCall)
	c.block = func(block int, state any) { c.fn(block, state.(*sgemmBuffers)) }
	return c
}}
