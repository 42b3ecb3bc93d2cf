//go:build amd64 && !purego

package kernels

import (
	"bytes"
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/interp-go/interp/gguf"
)

// useQuantAsm selects the AVX2 integer dot products of quantdot_amd64.s for
// the weight types in rowKernels and rowsKernels. They read the packed weight blocks
// directly, so no weight row is unpacked to int16. Tests turn it off to
// compare with the portable path.
var useQuantAsm = cpu.X86.HasAVX2 && hasF16C()

// useQuantRows selects the multi-row kernels of rowsKernels, when
// useQuantAsm is also set. Tests turn it off to compare them with the
// single-row kernels.
var useQuantRows = true

// useQuantQuad selects the kernels that multiply each weight row by four
// activation rows (dotQ8_0Quad, dotRowsQ6_KQuad, and with useQuantVNNI
// dotQ8_0QuadPairVNNI and dotQ4_KQuadVNNI) for products of Q8_0, Q6_K and
// Q4_K weights with four or more activation rows, when useQuantAsm is
// also set. Tests turn it off to compare them with the pair and
// single-row kernels.
var useQuantQuad = true

// useQuantVNNI selects the _VNNI variants of the K-quant multi-row
// kernels, which need AVX512_VNNI and AVX512VL, and FMA for
// dotQ8_0QuadPairVNNI's float sums. cpu.X86.HasAVX512VNNI is
// set only where the CPU and the OS support AVX-512. HasAVX512F is checked
// too, so that GODEBUG=cpu.avx512f=off turns these kernels off with every
// other AVX-512 path. Tests turn it off to compare the variants.
var useQuantVNNI = cpu.X86.HasAVX512 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI && cpu.X86.HasFMA

// hasAVX512BW reports whether the CPU has AVX512BW, which dotQ4_KQuadVNNI
// needs besides useQuantVNNI's features.
var hasAVX512BW = cpu.X86.HasAVX512BW

// hasF16C reports whether the CPU converts F16 with VCVTPH2PS, which
// golang.org/x/sys/cpu does not report.
func hasF16C() bool

// blockSumsQ4_0, blockSumsQ8_0 and laneSumsQ4_K … laneSumsQ6_K are the
// integer parts of dotQ4_0Row, dotQ8_0 and dotQ4_K … dotQ6_K, built from
// the same assembly macros. Only tests call them, to check the sums over
// the whole int8 range.

// blockSumsQ8_0 stores in sums[b] the integer dot product of the quants
// of Q8_0 weight block b at w with the 32 activation quants at x+32b.
//
//go:noescape
func blockSumsQ8_0(w *byte, x *int8, blocks int, sums *int32)

// blockSumsQ4_0 stores in sums[b] the integer dot product of the values
// q−8 of Q4_0 weight block b at w with the 32 activation quants at x+32b.
//
//go:noescape
func blockSumsQ4_0(w *byte, x *int8, blocks int, sums *int32)

// laneSumsQ4_K stores in lanes[8b+l] ggml's lane sum l of Q4_K
// super-block b at w: Σ sc·q·x over the values i ≡ l (mod 8). The
// activation quants at x are in laneInterleave order, and scales holds
// four words per super-block, the integer scales of sub-blocks 2g (low
// half) and 2g+1 (high half) for g = 0 … 3.
//
//go:noescape
func laneSumsQ4_K(w *byte, x *int8, scales *uint32, blocks int, lanes *int32)

// laneSumsQ5_K is laneSumsQ4_K for Q5_K super-blocks.
//
//go:noescape
func laneSumsQ5_K(w *byte, x *int8, scales *uint32, blocks int, lanes *int32)

// laneSumsQ6_K stores in lanes[8b+l] ggml's lane sum l of Q6_K
// super-block b at w: Σ sc·(q−32)·x over the values i ≡ l (mod 8). The
// activation quants at x are in laneInterleave order.
//
//go:noescape
func laneSumsQ6_K(w *byte, x *int8, blocks int, lanes *int32)

// dotQ8_0 returns the product of a Q8_0 weight row of blocks blocks at w
// with the activation quants x and block scales xd, as dotBlocks computes
// it.
//
//go:noescape
func dotQ8_0(w *byte, x *int8, blocks int, xd *float32) float32

// dotQ4_0Row returns the product of a Q4_0 weight row of blocks blocks
// at w with the activation quants x and block scales xd, as the portable
// dotQ4_0 computes it.
//
//go:noescape
func dotQ4_0Row(w *byte, x *int8, blocks int, xd *float32) float32

// dotQ8_0Pair computes dotQ8_0 for two activation rows at once, and
// stores the products in sums. No quant in x0 or x1 may be -128.
//
//go:noescape
func dotQ8_0Pair(w *byte, x0, x1 *int8, blocks int, xd0, xd1 *float32, sums *[2]float32)

// dotQ8_0Quad computes dotQ8_0 for a Q8_0 weight row at w and four
// activation rows, x + r·xStride for r < 4, with the block scales dxT in
// transposeScales' order, and stores the products in sums. No quant in
// the activation rows may be -128.
//
//go:noescape
func dotQ8_0Quad(w *byte, blocks int, x *int8, xStride int, dxT *float32, sums *[4]float32)

// dotQ8_0QuadPairVNNI computes dotQ8_0Quad for two weight rows at once,
// the row at w and the row at w+rowBytes, and for quads groups of four
// activation rows, group g at x+4g·xStride with its scales at
// dxT+4g·blocks. It stores the products of activation row i at
// dst+i·dstStride bytes, the first weight row's then the second's. It
// needs AVX512_VNNI and AVX512VL. No quant in the activation rows may be
// -128.
//
//go:noescape
func dotQ8_0QuadPairVNNI(w *byte, rowBytes, blocks int, x *int8, xStride int, dxT *float32, quads int, dst *float32, dstStride int)

// dotQ4_K returns the product of a Q4_K weight row at w with the
// activation quants x (in laneInterleave order), scales xd and block sums
// bsums, as dotLanesMin computes it. scales is as for laneSumsQ4_K, and
// mins holds the minimum of each 16-value group.
//
//go:noescape
func dotQ4_K(w *byte, x *int8, blocks int, scales *uint32, mins *int16, xd *float32, bsums *int16) float32

// dotQ4_KPair computes dotQ4_K for two activation rows at once, with
// each weight value unpacked once for both, and stores the products in
// sums.
//
//go:noescape
func dotQ4_KPair(w *byte, x0, x1 *int8, blocks int, scales *uint32, mins *int16, xd0, xd1 *float32, bsums0, bsums1 *int16, sums *[2]float32)

// dotQ5_K is dotQ4_K for Q5_K weights.
//
//go:noescape
func dotQ5_K(w *byte, x *int8, blocks int, scales *uint32, mins *int16, xd *float32, bsums *int16) float32

// dotQ6_K returns the product of a Q6_K weight row at w with the
// activation quants x (in laneInterleave order) and scales xd, as
// dotLanes computes it.
//
//go:noescape
func dotQ6_K(w *byte, x *int8, blocks int, xd *float32) float32

// dotRowsQ4_K stores in dst[r] the product of Q4_K weight row r, at
// w+r·rowBytes, with the activation quants x (in laneInterleave order),
// scales xd and block sums bsums, as dotQ4_K computes it, for r < rows.
// It unpacks the sub-block scales and minimums itself.
//
//go:noescape
func dotRowsQ4_K(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, bsums *int16, dst *float32)

// dotRowsQ5_K is dotRowsQ4_K for Q5_K weights.
//
//go:noescape
func dotRowsQ5_K(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, bsums *int16, dst *float32)

// dotRowsQ6_K stores in dst[r] the product of Q6_K weight row r, at
// w+r·rowBytes, with the activation quants x (in laneInterleave order) and
// scales xd, as dotQ6_K computes it, for r < rows. offsets holds the
// words 32·(x[2i]+x[2i+1]) (setQ6KOffsets).
//
//go:noescape
func dotRowsQ6_K(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, offsets *int16, dst *float32)

// dotRowsQ4_KVNNI, dotRowsQ5_KVNNI and dotRowsQ6_KVNNI are dotRowsQ4_K,
// dotRowsQ5_K and dotRowsQ6_K for CPUs with AVX512_VNNI and AVX512VL.
//
//go:noescape
func dotRowsQ4_KVNNI(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, bsums *int16, dst *float32)

//go:noescape
func dotRowsQ5_KVNNI(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, bsums *int16, dst *float32)

//go:noescape
func dotRowsQ6_KVNNI(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, offsets *int16, dst *float32)

// dotRowsQ8_0 stores in dst[r] the product of Q8_0 weight row r, at
// w+r·rowBytes, with the activation quants x and block scales xd, as
// dotQ8_0 computes it, for r < rows. No quant in x may be -128.
//
//go:noescape
func dotRowsQ8_0(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, dst *float32)

// dotRowsQ2_K stores in dst[r] the product of Q2_K weight row r, at
// w+r·rowBytes, with the activation quants x (in laneInterleave order),
// scales xd and block sums bsums, as dotQ2_K computes it, for r < rows.
//
//go:noescape
func dotRowsQ2_K(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, bsums *int16, dst *float32)

// dotRowsQ3_K stores in dst[r] the product of Q3_K weight row r, at
// w+r·rowBytes, with the activation quants x (in laneInterleave order) and
// scales xd, as dotLanes computes it, for r < rows.
//
//go:noescape
func dotRowsQ3_K(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, dst *float32)

// dotRowsQ4_0 stores in dst[r] the product of Q4_0 weight row r, at
// w+r·rowBytes, with the activation quants x and block scales xd, as
// dotQ4_0Row computes it, for r < rows.
//
//go:noescape
func dotRowsQ4_0(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, dst *float32)

// dotRowsQ5_0 stores in dst[r] the product of Q5_0 weight row r, at
// w+r·rowBytes, with the Q8_0 activation quants x and block scales xd, as
// dotBlocks computes it, for r < rows.
//
//go:noescape
func dotRowsQ5_0(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, dst *float32)

// dotRowsQ4_1 stores in dst[r] the product of Q4_1 weight row r, at
// w+r·rowBytes, with the Q8_1 activation quants x, block scales xd and
// block values xs = d·Σq, as dotOffsetBlocks computes it, for r < rows.
//
//go:noescape
func dotRowsQ4_1(w *byte, rowBytes, rows, blocks int, x *int8, xd, xs *float32, dst *float32)

// dotRowsQ5_1 is dotRowsQ4_1 for Q5_1 weights.
//
//go:noescape
func dotRowsQ5_1(w *byte, rowBytes, rows, blocks int, x *int8, xd, xs *float32, dst *float32)

// rowsKernel stores in dst[r] the product of weight row lo+r of w with
// the activation row x, for lo ≤ lo+r < hi, in one assembly call.
type rowsKernel func(dst []float32, w *Matrix, lo, hi int, x *quantRow)

// rowsKernels maps each weight type with a multi-row assembly kernel to
// its rowsKernel. Products use them in place of rowKernels, whose per-row
// calls cost more than the dot product of a short row. The exception is a
// product of a rowPairKernel type with several activation rows, where
// unpacking each weight value once for two activation rows pays more.
var rowsKernels = map[gguf.Type]rowsKernel{
	gguf.TypeQ4_K: rowsWithBlockSums(dotRowsQ4_K, dotRowsQ4_KVNNI),
	gguf.TypeQ5_K: rowsWithBlockSums(dotRowsQ5_K, dotRowsQ5_KVNNI),
	gguf.TypeQ6_K: rowsQ6_K,
	gguf.TypeQ8_0: rowsQ8_0,
	gguf.TypeQ2_K: rowsWithBlockSums(dotRowsQ2_K, dotRowsQ2_K),
	gguf.TypeQ3_K: rowsQ3_K,
	gguf.TypeQ4_0: rowsBlocks(dotRowsQ4_0),
	gguf.TypeQ5_0: rowsBlocks(dotRowsQ5_0),
	gguf.TypeQ4_1: rowsOffsetBlocks(dotRowsQ4_1),
	gguf.TypeQ5_1: rowsOffsetBlocks(dotRowsQ5_1),
}

// checkRows panics unless rows lo … hi−1 of w, dst[:hi−lo] and the first
// blocks·blockSize quants and blocks scales of x exist, which the assembly
// reads without checks.
func checkRows(dst []float32, w *Matrix, lo, hi int, x *quantRow, blocks, blockSize int) {
	_ = dst[hi-lo-1]
	_ = w.Raw[hi*w.RowBytes-1]
	_ = x.qs[blocks*blockSize-1]
	_ = x.d[blocks-1]
}

func rowsWithBlockSums(avx2, vnni func(*byte, int, int, int, *int8, *float32, *int16, *float32)) rowsKernel {
	return func(dst []float32, w *Matrix, lo, hi int, x *quantRow) {
		blocks := w.Cols / qkK
		checkRows(dst, w, lo, hi, x, blocks, qkK)
		_ = x.bsums[blocks*16-1]
		dot := avx2
		if useQuantVNNI {
			dot = vnni
		}
		dot(&w.Raw[lo*w.RowBytes], w.RowBytes, hi-lo, blocks, &x.qs[0], &x.d[0], &x.bsums[0], &dst[0])
	}
}

func rowsQ6_K(dst []float32, w *Matrix, lo, hi int, x *quantRow) {
	blocks := w.Cols / qkK
	checkRows(dst, w, lo, hi, x, blocks, qkK)
	_ = x.offsets[blocks*qkK/2-1]
	dot := dotRowsQ6_K
	if useQuantVNNI {
		dot = dotRowsQ6_KVNNI
	}
	dot(&w.Raw[lo*w.RowBytes], w.RowBytes, hi-lo, blocks, &x.qs[0], &x.d[0], &x.offsets[0], &dst[0])
}

func rowsQ3_K(dst []float32, w *Matrix, lo, hi int, x *quantRow) {
	blocks := w.Cols / qkK
	checkRows(dst, w, lo, hi, x, blocks, qkK)
	dotRowsQ3_K(&w.Raw[lo*w.RowBytes], w.RowBytes, hi-lo, blocks, &x.qs[0], &x.d[0], &dst[0])
}

func rowsQ8_0(dst []float32, w *Matrix, lo, hi int, x *quantRow) {
	blocks := w.Cols / qk8
	checkRows(dst, w, lo, hi, x, blocks, qk8)
	dotRowsQ8_0(&w.Raw[lo*w.RowBytes], w.RowBytes, hi-lo, blocks, &x.qs[0], &x.d[0], &dst[0])
}

func rowsBlocks(dot func(*byte, int, int, int, *int8, *float32, *float32)) rowsKernel {
	return func(dst []float32, w *Matrix, lo, hi int, x *quantRow) {
		blocks := w.Cols / qk8
		checkRows(dst, w, lo, hi, x, blocks, qk8)
		dot(&w.Raw[lo*w.RowBytes], w.RowBytes, hi-lo, blocks, &x.qs[0], &x.d[0], &dst[0])
	}
}

func rowsOffsetBlocks(dot func(*byte, int, int, int, *int8, *float32, *float32, *float32)) rowsKernel {
	return func(dst []float32, w *Matrix, lo, hi int, x *quantRow) {
		blocks := w.Cols / qk8
		checkRows(dst, w, lo, hi, x, blocks, qk8)
		_ = x.s[blocks-1]
		dot(&w.Raw[lo*w.RowBytes], w.RowBytes, hi-lo, blocks, &x.qs[0], &x.d[0], &x.s[0], &dst[0])
	}
}

// transposeScales returns the Q8_0 block scales of each group of four
// activation rows of xq, block by block: element 4(g·blocks+b)+r is the
// scale of block b of row 4g+r, as dotQ8_0Quad reads them. The result is
// xq's buffer dxT.
func transposeScales(xq *quantRows, m int) []float32 {
	blocks := xq.k / qk8
	xq.dxT = grow(xq.dxT, m/4*4*blocks)
	dxT := xq.dxT
	for g := range m / 4 {
		for r := range 4 {
			d := xq.d[(4*g+r)*blocks : (4*g+r+1)*blocks]
			for b, v := range d {
				dxT[4*(g*blocks+b)+r] = v
			}
		}
	}
	return dxT
}

// dotQ8_0Quads stores in dst[i·n] the product of the Q8_0 weight row raw
// with activation row i of xq, for i < m rounded down to a multiple of
// four, and returns that number of rows.
func dotQ8_0Quads(dst []float32, n int, raw []byte, xq *quantRows, m int, dxT []float32) int {
	k, blocks := xq.k, xq.k/qk8
	_ = raw[blocks*q8_0Bytes-1]
	quads := m / 4 * 4
	if quads == 0 {
		return 0
	}
	_ = xq.qs[quads*k-1]
	_ = dxT[quads*blocks-1]
	_ = dst[(quads-1)*n]
	var sums [4]float32
	for i := 0; i < quads; i += 4 {
		dotQ8_0Quad(&raw[0], blocks, &xq.qs[i*k], k, &dxT[i*blocks], &sums)
		dst[i*n], dst[(i+1)*n], dst[(i+2)*n], dst[(i+3)*n] = sums[0], sums[1], sums[2], sums[3]
	}
	return quads
}

// rowsQ6_KQuads stores in dst[i·n + j] the product of Q6_K weight row j
// of w with activation row i of xq, for lo ≤ j < hi and i < m rounded
// down to a multiple of four, with dotRowsQ6_KQuad, and returns that
// number of rows. xq's quants must be in laneInterleave order and its
// offsets set.
func rowsQ6_KQuads(dst []float32, w *Matrix, lo, hi int, xq *quantRows, m int) int {
	n, k := w.Rows, w.Cols
	blocks := k / qkK
	quads := m / 4 * 4
	if quads == 0 || lo == hi {
		return 0
	}
	_ = w.Raw[hi*w.RowBytes-1]
	_ = xq.qs[quads*k-1]
	_ = xq.offsets[quads*k/2-1]
	_ = xq.d[quads*blocks-1]
	_ = dst[(quads-1)*n+hi-1]
	dot := dotRowsQ6_KQuad
	if useQuantVNNI && hasAVX512BW {
		dot = dotRowsQ6_KQuadVNNI
	}
	for i := 0; i < quads; i += 4 {
		dot(&w.Raw[lo*w.RowBytes], w.RowBytes, hi-lo, blocks, &xq.qs[i*k], k,
			&xq.d[i*blocks], &xq.offsets[i*k/2], &dst[i*n+lo], 4*n)
	}
	return quads
}

// dotQ8_0QuadPairs is dotQ8_0Quads for the two consecutive Q8_0 weight
// rows in raw, which is 2·rowBytes long, with dotQ8_0QuadPairVNNI: it
// stores the products of the first row at dst[i·n] and those of the
// second at dst[i·n + 1].
func dotQ8_0QuadPairs(dst []float32, n int, raw []byte, rowBytes int, xq *quantRows, m int, dxT []float32) int {
	k, blocks := xq.k, xq.k/qk8
	_ = raw[rowBytes+blocks*q8_0Bytes-1]
	quads := m / 4 * 4
	if quads == 0 {
		return 0
	}
	_ = xq.qs[quads*k-1]
	_ = dxT[quads*blocks-1]
	_ = dst[(quads-1)*n+1]
	dotQ8_0QuadPairVNNI(&raw[0], rowBytes, blocks, &xq.qs[0], k, &dxT[0], quads/4, &dst[0], 4*n)
	return quads
}

// setQ6KOffsets sets the offsets of each row to 32·(qs[2i]+qs[2i+1]),
// the part of the Q6_K products that does not depend on the weights, in
// buf when it is long enough.
func setQ6KOffsets(rows []quantRow, buf []int16) []int16 {
	offsets := grow(buf, len(rows)*len(rows[0].qs)/2)
	for r := range rows {
		qs := rows[r].qs
		row := offsets[r*len(qs)/2 : (r+1)*len(qs)/2]
		for i := range row {
			row[i] = 32 * (int16(qs[2*i]) + int16(qs[2*i+1]))
		}
		rows[r].offsets = row
	}
	return offsets
}

// containsMinInt8 reports whether -128 is in qs, with the vectorized
// bytes.IndexByte.
func containsMinInt8(qs []int8) bool {
	return len(qs) > 0 && bytes.IndexByte(unsafe.Slice((*byte)(unsafe.Pointer(&qs[0])), len(qs)), 0x80) >= 0
}

// rowsChunk is the number of weight rows that a multi-row kernel call
// takes when there are several activation rows.
const rowsChunk = 16

// rowKernel multiplies one quantized weight row at a time by activation
// rows. prepare decodes the row's float and integer factors once, and dot
// returns its product with one activation row, with the float32 steps of
// the portable dot function of the same type, in the same order.
type rowKernel interface {
	prepare(raw []byte)
	dot(x *quantRow) float32
}

// rowPairKernel is a rowKernel that also multiplies its weight row by two
// activation rows in one call, which saves unpacking the weights twice.
type rowPairKernel interface {
	rowKernel
	dotPair(x0, x1 *quantRow) (float32, float32)
}

// rowKernels maps each weight type with an assembly dot product to the
// constructor of its rowKernel for rows of k values.
var rowKernels = map[gguf.Type]func(k int) rowKernel{
	gguf.TypeQ4_0: newRowQ4_0,
	gguf.TypeQ8_0: newRowQ8_0,
	gguf.TypeQ4_K: newRowQ4_K,
	gguf.TypeQ5_K: newRowQ5_K,
	gguf.TypeQ6_K: newRowQ6_K,
}

// laneInterleave reorders every 16 activation quants as 0, 8, 1, 9, …,
// 7, 15, the order in which the assembly shuffles the weight values, so
// that each pair that VPMADDUBSW adds lies in one lane (index mod 8). The
// Q8_K block sums stay those of consecutive values.
func laneInterleave(qs []int8) {
	if len(qs) == 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&qs[0])), len(qs))
	le := binary.LittleEndian
	for c := 0; c+16 <= len(b); c += 16 {
		chunk := b[c : c+16]
		lo, hi := le.Uint64(chunk), le.Uint64(chunk[8:])
		le.PutUint64(chunk, spreadBytes(uint32(lo))|spreadBytes(uint32(hi))<<8)
		le.PutUint64(chunk[8:], spreadBytes(uint32(lo>>32))|spreadBytes(uint32(hi>>32))<<8)
	}
}

// spreadBytes returns the four bytes of x in bytes 0, 2, 4 and 6, with
// zero bytes between them.
func spreadBytes(x uint32) uint64 {
	v := uint64(x)
	v = (v | v<<16) & 0x0000ffff0000ffff
	return (v | v<<8) & 0x00ff00ff00ff00ff
}

// matMulQuantizedAsm computes dst = x · wᵀ like matMulQuantized, from the
// activations xq already rounded to w's activation format, with the
// assembly dot products. It returns false, computing nothing, when they do
// not cover w's type, the CPU lacks AVX2 or F16C, or Q8_0 activation quants
// include -128. It may reorder xq's quants.
func matMulQuantizedAsm(dst []float32, xq *quantRows, m int, w *Matrix) bool {
	newKernel, hasRowKernel := rowKernels[w.Type]
	multiRow, hasRowsKernel := rowsKernels[w.Type]
	hasRowsKernel = hasRowsKernel && useQuantRows
	if !useQuantAsm || !hasRowKernel && !hasRowsKernel {
		return false
	}
	if w.Type == gguf.TypeQ8_0 && containsMinInt8(xq.qs) {
		// dotRowsQ8_0 and dotQ8_0Pair cannot take the quant -128.
		// quantizeRowQ8_0 gives it only for a block with a NaN.
		return false
	}
	if xq.format == gguf.TypeQ8_K {
		laneInterleave(xq.qs)
	}
	rows := xq.rowViews(m)

	n, k := w.Rows, w.Cols
	tiles := (n + tileRows - 1) / tileRows
	pairs := w.Type == gguf.TypeQ4_K || w.Type == gguf.TypeQ8_0 // the rowPairKernel types
	if hasRowsKernel && (m == 1 || !pairs) {
		if w.Type == gguf.TypeQ6_K {
			xq.offsets = setQ6KOffsets(rows, xq.offsets)
		}
		if m == 1 {
			quantDecode(dst, w, &rows[0], multiRow)
			return true
		}
		quad := w.Type == gguf.TypeQ6_K && useQuantQuad
		parallelWorkers(tiles, func() func(tile int) {
			return func(tile int) {
				// Chunks of weight rows small enough for the L1 or L2
				// cache, each multiplied by every activation row.
				for lo := tile * tileRows; lo < min(n, (tile+1)*tileRows); lo += rowsChunk {
					hi := min(n, lo+rowsChunk, (tile+1)*tileRows)
					i := 0
					if quad {
						i = rowsQ6_KQuads(dst, w, lo, hi, xq, m)
					}
					for ; i < len(rows); i++ {
						multiRow(dst[i*n+lo:i*n+hi], w, lo, hi, &rows[i])
					}
				}
			}
		})
		return true
	}
	var dxT []float32
	if w.Type == gguf.TypeQ8_0 && useQuantQuad {
		dxT = transposeScales(xq, m)
	}
	parallelWorkers(tiles, func() func(tile int) {
		kernel := newKernel(k)
		return func(tile int) {
			hi := min(n, (tile+1)*tileRows)
			paired := -1 // the last weight row that dotQ8_0QuadPairs has taken
			for j := tile * tileRows; j < hi; j++ {
				kernel.prepare(w.Raw[j*w.RowBytes : (j+1)*w.RowBytes])
				i := 0
				if dxT != nil && useQuantVNNI && j > paired && j+1 < hi {
					dotQ8_0QuadPairs(dst[j:], n, w.Raw[j*w.RowBytes:(j+2)*w.RowBytes], w.RowBytes, xq, m, dxT)
					paired = j + 1
				}
				switch {
				case dxT != nil && j <= paired:
					i = m / 4 * 4
				case dxT != nil:
					i = dotQ8_0Quads(dst[j:], n, w.Raw[j*w.RowBytes:(j+1)*w.RowBytes], xq, m, dxT)
				}
				if q4K, ok := kernel.(rowQ4_K); ok {
					if useQuantQuad && useQuantVNNI && hasAVX512BW {
						i = q4K.dotQuads(dst[j:], n, xq, m)
					}
					i = q4K.dotPairs(dst[j:], n, xq, i, m)
				}
				if pairKernel, ok := kernel.(rowPairKernel); ok {
					for ; i+1 < len(rows); i += 2 {
						dst[i*n+j], dst[(i+1)*n+j] = pairKernel.dotPair(&rows[i], &rows[i+1])
					}
				}
				for ; i < len(rows); i++ {
					dst[i*n+j] = kernel.dot(&rows[i])
				}
			}
		}
	})
	return true
}

// rowBlocks is the rowKernel of Q4_0 and Q6_K weights, whose assembly
// reads the block scales itself, so prepare only keeps the row.
type rowBlocks struct {
	raw                []byte
	blocks             int
	values, blockBytes int // per block
	dotRow             func(w *byte, x *int8, blocks int, xd *float32) float32
}

func newRowQ4_0(k int) rowKernel {
	return &rowBlocks{blocks: k / qk8, values: qk8, blockBytes: q4_0Bytes, dotRow: dotQ4_0Row}
}

func newRowQ6_K(k int) rowKernel {
	return &rowBlocks{blocks: k / qkK, values: qkK, blockBytes: q6KBytes, dotRow: dotQ6_K}
}

func (r *rowBlocks) prepare(raw []byte) {
	r.raw = raw[:r.blocks*r.blockBytes]
}

func (r *rowBlocks) dot(x *quantRow) float32 {
	_ = x.qs[r.blocks*r.values-1]
	_ = x.d[r.blocks-1]
	return r.dotRow(&r.raw[0], &x.qs[0], r.blocks, &x.d[0])
}

// rowQ8_0 is the rowPairKernel of Q8_0 weights. The assembly reads the block
// scales itself, so prepare only keeps the row.
type rowQ8_0 struct {
	raw    []byte
	blocks int
}

func newRowQ8_0(k int) rowKernel {
	return &rowQ8_0{blocks: k / qk8}
}

func (r *rowQ8_0) prepare(raw []byte) {
	r.raw = raw[:r.blocks*q8_0Bytes]
}

func (r *rowQ8_0) dotPair(x0, x1 *quantRow) (float32, float32) {
	for _, x := range [2]*quantRow{x0, x1} {
		_ = x.qs[r.blocks*qk8-1]
		_ = x.d[r.blocks-1]
	}
	var sums [2]float32
	dotQ8_0Pair(&r.raw[0], &x0.qs[0], &x1.qs[0], r.blocks, &x0.d[0], &x1.d[0], &sums)
	return sums[0], sums[1]
}

func (r *rowQ8_0) dot(x *quantRow) float32 {
	_ = x.qs[r.blocks*qk8-1]
	_ = x.d[r.blocks-1]
	return dotQ8_0(&r.raw[0], &x.qs[0], r.blocks, &x.d[0])
}

// rowKScaleMin is the rowKernel of Q4_K and Q5_K weights, which share
// the layout of their scales and minimums. prepare unpacks the 6-bit
// sub-block scales and minimums, and the assembly reads d and dmin.
type rowKScaleMin struct {
	raw        []byte
	blockBytes int
	scales     []uint32                                                                                           // [k/256·4] pairs of sub-block scales, as laneSumsQ4_K reads them
	mins       []int16                                                                                            // [k/256·16] minimum of each 16-value group
	dotAsm     func(w *byte, x *int8, blocks int, scales *uint32, mins *int16, xd *float32, bsums *int16) float32 // dotQ4_K or dotQ5_K
}

// rowQ4_K is the rowPairKernel of Q4_K weights.
type rowQ4_K struct {
	*rowKScaleMin
}

func newRowQ4_K(k int) rowKernel {
	return rowQ4_K{newRowKScaleMin(k, q4KBytes, dotQ4_K)}
}

func (r rowQ4_K) dotPair(x0, x1 *quantRow) (float32, float32) {
	blocks := len(r.scales) / 4
	for _, x := range [2]*quantRow{x0, x1} {
		_ = x.qs[blocks*qkK-1]
		_ = x.d[blocks-1]
		_ = x.bsums[blocks*16-1]
	}
	var sums [2]float32
	dotQ4_KPair(&r.raw[0], &x0.qs[0], &x1.qs[0], blocks, &r.scales[0], &r.mins[0],
		&x0.d[0], &x1.d[0], &x0.bsums[0], &x1.bsums[0], &sums)
	return sums[0], sums[1]
}

// dotQuads stores in dst[i·n] the product of the prepared row with
// activation row i of xq, in one dotQ4_KQuadVNNI call, for i < m rounded
// down to a multiple of four, and returns that number of rows.
func (r rowQ4_K) dotQuads(dst []float32, n int, xq *quantRows, m int) int {
	blocks := len(r.scales) / 4
	k := blocks * qkK
	quads := m / 4 * 4
	if quads == 0 {
		return 0
	}
	_ = xq.qs[quads*k-1]
	_ = xq.d[quads*blocks-1]
	_ = xq.bsums[quads*blocks*16-1]
	_ = dst[(quads-1)*n]
	dotQ4_KQuadVNNI(&r.raw[0], blocks, &r.scales[0], &r.mins[0], &xq.qs[0], k,
		&xq.d[0], &xq.bsums[0], quads/4, &dst[0], 4*n)
	return quads
}

// dotPairs stores in dst[i·n] the product of the prepared row with
// activation row i of xq, two rows per dotQ4_KPair call, for from ≤ i <
// m, with the count m − from rounded down to an even number, and returns
// the row after the last it computed. It checks the bounds once for all
// rows, which costs less than dotPair's checks per call on short rows.
func (r rowQ4_K) dotPairs(dst []float32, n int, xq *quantRows, from, m int) int {
	blocks := len(r.scales) / 4
	pairs := from + (m-from)/2*2
	if pairs == from {
		return from
	}
	_ = xq.qs[pairs*blocks*qkK-1]
	_ = xq.d[pairs*blocks-1]
	_ = xq.bsums[pairs*blocks*16-1]
	_ = dst[(pairs-1)*n]
	var sums [2]float32
	for i := from; i < pairs; i += 2 {
		x0, x1 := i*blocks, (i+1)*blocks
		dotQ4_KPair(&r.raw[0], &xq.qs[x0*qkK], &xq.qs[x1*qkK], blocks, &r.scales[0], &r.mins[0],
			&xq.d[x0], &xq.d[x1], &xq.bsums[x0*16], &xq.bsums[x1*16], &sums)
		dst[i*n], dst[(i+1)*n] = sums[0], sums[1]
	}
	return pairs
}

func newRowQ5_K(k int) rowKernel {
	return newRowKScaleMin(k, q5KBytes, dotQ5_K)
}

func newRowKScaleMin(k, blockBytes int, dot func(*byte, *int8, int, *uint32, *int16, *float32, *int16) float32) *rowKScaleMin {
	blocks := k / qkK
	return &rowKScaleMin{blockBytes: blockBytes, scales: make([]uint32, 4*blocks), mins: make([]int16, 16*blocks), dotAsm: dot}
}

func (r *rowKScaleMin) prepare(raw []byte) {
	blocks := len(r.scales) / 4
	r.raw = raw[:blocks*r.blockBytes]
	for b := range blocks {
		// kScaleMin's layout, for all eight sub-blocks at once: byte j of
		// sc and min is the scale and minimum of sub-block j.
		s := raw[b*r.blockBytes+4:]
		w0 := binary.LittleEndian.Uint32(s)
		w1 := binary.LittleEndian.Uint32(s[4:])
		w2 := binary.LittleEndian.Uint32(s[8:])
		sc := uint64(w0&0x3f3f3f3f) | uint64(w2&0x0f0f0f0f|(w0>>6&0x03030303)<<4)<<32
		min := uint64(w1&0x3f3f3f3f) | uint64(w2>>4&0x0f0f0f0f|(w1>>6&0x03030303)<<4)<<32

		scales := (*[4]uint32)(r.scales[4*b:])
		mins := (*[16]int16)(r.mins[16*b:])
		for g := range 4 {
			pair := uint32(sc >> (16 * g) & 0xffff)
			scales[g] = pair&0xff | (pair&0xff00)<<8
			m0, m1 := int16(min>>(16*g)&0xff), int16(min>>(16*g+8)&0xff)
			mins[4*g], mins[4*g+1], mins[4*g+2], mins[4*g+3] = m0, m0, m1, m1
		}
	}
}

func (r *rowKScaleMin) dot(x *quantRow) float32 {
	blocks := len(r.scales) / 4
	_ = x.qs[blocks*qkK-1]
	_ = x.d[blocks-1]
	_ = x.bsums[blocks*16-1]
	return r.dotAsm(&r.raw[0], &x.qs[0], blocks, &r.scales[0], &r.mins[0], &x.d[0], &x.bsums[0])
}

// dotRowsQ6_KQuad stores in dst[i·dstStride/4 + r] the product of Q6_K
// weight row r, at w+r·rowBytes, with activation row i, for r < rows and
// i < 4, as dotRowsQ6_K computes it. Row i's quants (in laneInterleave
// order) are at x+i·xStride and its offsets (setQ6KOffsets) at
// offsets+i·xStride bytes, and its scales at xd+i·blocks. Each weight
// super-block is unpacked once for the four rows.
//
//go:noescape
func dotRowsQ6_KQuad(w *byte, rowBytes, rows, blocks int, x *int8, xStride int, xd *float32, offsets *int16, dst *float32, dstStride int)

// dotRowsQ6_KQuadVNNI is dotRowsQ6_KQuad for CPUs with AVX512_VNNI,
// AVX512VL and AVX512BW. It keeps the unpacked weights in registers
// rather than in its stack frame.
//
//go:noescape
func dotRowsQ6_KQuadVNNI(w *byte, rowBytes, rows, blocks int, x *int8, xStride int, xd *float32, offsets *int16, dst *float32, dstStride int)

// dotQ4_KQuadVNNI computes dotQ4_K for quads groups of four activation
// rows, with each weight value unpacked once for the four rows of a
// group, and stores the product with row i at dst+i·dstStride bytes.
// Row i's quants (in laneInterleave order) are at x+i·xStride, its
// scales at xd+i·blocks and its block sums at bsums+i·16·blocks. It
// needs AVX512_VNNI, AVX512VL and AVX512BW.
//
//go:noescape
func dotQ4_KQuadVNNI(w *byte, blocks int, scales *uint32, mins *int16, x *int8, xStride int, xd *float32, bsums *int16, quads int, dst *float32, dstStride int)
