package kernels

import (
	"encoding/binary"

	"github.com/interp-go/interp/gguf"
)

// Dot products of quantized weight rows with quantized activation rows, as
// llama.cpp's CPU backend computes them: integer sums within a block, then
// float32 scale products summed over the blocks in order. Each dot function
// follows the float32 operations of ggml's portable reference
// (ggml_vec_dot_q4_0_q8_0_generic … ggml_vec_dot_q6_K_q8_K_generic in
// ggml-cpu/quants.c) in the same order. Integer sums are exact, so only the
// float32 steps need to match. Every float32 product is wrapped in an
// explicit conversion, which keeps the Go compiler from fusing it with a
// following sum into one multiply-add.
//
// Weight rows are unpacked two at a time (weightPair) and then multiplied
// by each activation row of the product, so the bit fiddling of the packed
// formats is done once per weight row. The pair's values are packed into
// one int64 per column as a + b·2³², with a from row 0 and b from row 1,
// both signed. One 64-bit multiply by an activation quant then forms both
// products. Every integer sum that ggml forms is at most 2²⁴ in magnitude,
// so the two sums never reach into each other. Every such sum is a dot
// product of 32 contiguous values:
//
//   - Q4_0 … Q8_0: one sum per 32-value block.
//   - K-quants: ggml keeps eight lane sums per super-block, lane l taking
//     the values i ≡ l (mod 8), each multiplied by its sub-block's integer
//     scale, and rounds each lane's float32 product with the scales
//     separately. The unpacked weights here are already multiplied by their
//     sub-block scale, and both the weights and the activation quants are
//     stored lane by lane (lanePosition, toLaneMajor), so each lane is 32
//     contiguous values.

// weightRow is one unpacked weight row. Which fields are used depends on
// the type.
type weightRow struct {
	// q holds the integer values that ggml multiplies by the activation
	// quants: Q4_0 q−8, Q5_0 q−16, Q8_0 q, Q4_1 and Q5_1 q. For the
	// K-quants it holds sc·v, where sc is the sub-block's integer scale
	// (for Q3_K the stored scale minus 32). v is the value as ggml uses
	// it: Q2_K, Q4_K and Q5_K q, Q3_K q−4 when its high bit is clear, Q6_K
	// q−32. The K-quants' values are stored lane by lane (see
	// lanePosition).
	q []int16 // [k]

	// Q4_0 … Q8_0: the F16 scale d of each 32-value block; Q4_1 and
	// Q5_1 also its offset m. K-quants: the super-block's F16 d, and its
	// dmin in Q2_K, Q4_K and Q5_K.
	d, m []float32 // [k/32] or [k/256]

	// Q2_K, Q4_K and Q5_K: the integer minimum of each 16-value group
	// (in Q4_K and Q5_K that of its 32-value sub-block), which ggml
	// multiplies by the activation block sums.
	min []int16 // [k/16]
}

// newWeightRow allocates a weightRow for rows of k values of type t.
func newWeightRow(t gguf.Type, k int) *weightRow {
	blocks := k / t.BlockSize()
	w := &weightRow{q: make([]int16, k), d: make([]float32, blocks), m: make([]float32, blocks)}
	if t.BlockSize() == qkK {
		w.min = make([]int16, k/16)
	}
	return w
}

// weightPair is two weight rows unpacked for dot products: their
// metadata, and their values and minimums packed into one int64 each, row
// 0 in the low and row 1 in the high 32 bits.
type weightPair struct {
	rows [2]*weightRow
	q    []int64 // [k] packed values, lane-major within K-quant super-blocks
	min  []int64 // [k/16] packed minimums (K-quants)
}

// newWeightPair allocates a weightPair for rows of k values of type t.
func newWeightPair(t gguf.Type, k int) *weightPair {
	p := &weightPair{rows: [2]*weightRow{newWeightRow(t, k), newWeightRow(t, k)}, q: make([]int64, k)}
	if t.BlockSize() == qkK {
		p.min = make([]int64, k/16)
	}
	return p
}

// packed returns a + b·2³².
func packed(a, b int16) int64 {
	return int64(a) + int64(b)<<32
}

// split returns the two signed 32-bit sums packed in s as a + b·2³².
func split(s int64) (a, b int32) {
	a = int32(s)
	return a, int32((s - int64(a)) >> 32)
}

// pack sets p.q and p.min from both rows.
func (p *weightPair) pack() {
	q0, q1 := p.rows[0].q, p.rows[1].q
	q := p.q[:len(q0)]
	q1 = q1[:len(q0)]
	for i, v := range q0 {
		q[i] = packed(v, q1[i])
	}
	min0, min1 := p.rows[0].min, p.rows[1].min[:len(p.rows[0].min)]
	for j, v := range min0 {
		p.min[j] = packed(v, min1[j])
	}
}

// clearRow sets row r of the pair to zeros, for the unpaired last row of
// a matrix.
func (p *weightPair) clearRow(r int) {
	w := p.rows[r]
	clear(w.q)
	clear(w.d)
	clear(w.m)
	clear(w.min)
}

// quantKernel unpacks weight rows of one type and multiplies pairs of them
// by activation rows in that type's activation format.
type quantKernel struct {
	unpack func(w *weightRow, raw []byte)
	dot    func(p *weightPair, x *quantRow) (float32, float32)
}

// quantKernels maps each quantized weight type to its kernel.
var quantKernels = map[gguf.Type]quantKernel{
	gguf.TypeQ4_0: {unpackQ4_0, dotQ4_0},
	gguf.TypeQ4_1: {unpackQ4_1, dotOffsetBlocks},
	gguf.TypeQ5_0: {unpackQ5_0, dotBlocks},
	gguf.TypeQ5_1: {unpackQ5_1, dotOffsetBlocks},
	gguf.TypeQ8_0: {unpackQ8_0, dotBlocks},
	gguf.TypeQ2_K: {unpackQ2_K, dotQ2_K},
	gguf.TypeQ3_K: {unpackQ3_K, dotLanes},
	gguf.TypeQ4_K: {unpackQ4_K, dotLanesMin},
	gguf.TypeQ5_K: {unpackQ5_K, dotLanesMin},
	gguf.TypeQ6_K: {unpackQ6_K, dotLanes},
}

// f16 reads the little-endian F16 at the start of b as float32.
func f16(b []byte) float32 {
	return gguf.F16ToFloat32(binary.LittleEndian.Uint16(b))
}

// Block layouts, from the block_* structs of ggml-common.h.
const (
	q4_0Bytes = 2 + qk8/2     // d, qs
	q4_1Bytes = 4 + qk8/2     // d, m, qs
	q5_0Bytes = 2 + 4 + qk8/2 // d, qh, qs
	q5_1Bytes = 4 + 4 + qk8/2 // d, m, qh, qs
	q8_0Bytes = 2 + qk8       // d, qs
	q2KBytes  = 84            // scales[16], qs[64], d, dmin
	q3KBytes  = 110           // hmask[32], qs[64], scales[12], d
	q4KBytes  = 144           // d, dmin, scales[12], qs[128]
	q5KBytes  = 176           // d, dmin, scales[12], qh[32], qs[128]
	q6KBytes  = 210           // ql[128], qh[64], scales[16], d
)

// The 32-value types. Byte j of qs holds value j in its low nibble and
// value j+16 in its high nibble; the 5-bit types keep the fifth bit of
// value j in bit j of the little-endian uint32 qh.

func unpackQ4_0(w *weightRow, raw []byte) {
	for b := range w.d {
		block := (*[q4_0Bytes]byte)(raw[b*q4_0Bytes:])
		w.d[b] = f16(block[:])
		q := (*[qk8]int16)(w.q[b*qk8:])
		for j, v := range (*[qk8 / 2]byte)(block[2:]) {
			q[j] = int16(v&0xF) - 8
			q[j+qk8/2] = int16(v>>4) - 8
		}
	}
}

func unpackQ4_1(w *weightRow, raw []byte) {
	for b := range w.d {
		block := (*[q4_1Bytes]byte)(raw[b*q4_1Bytes:])
		w.d[b], w.m[b] = f16(block[:]), f16(block[2:])
		q := (*[qk8]int16)(w.q[b*qk8:])
		for j, v := range (*[qk8 / 2]byte)(block[4:]) {
			q[j] = int16(v & 0xF)
			q[j+qk8/2] = int16(v >> 4)
		}
	}
}

func unpackQ5_0(w *weightRow, raw []byte) {
	for b := range w.d {
		block := (*[q5_0Bytes]byte)(raw[b*q5_0Bytes:])
		w.d[b] = f16(block[:])
		qh := binary.LittleEndian.Uint32(block[2:])
		q := (*[qk8]int16)(w.q[b*qk8:])
		for j, v := range (*[qk8 / 2]byte)(block[6:]) {
			q[j] = int16(v&0xF|byte(qh>>j&1)<<4) - 16
			q[j+qk8/2] = int16(v>>4|byte(qh>>(j+qk8/2)&1)<<4) - 16
		}
	}
}

func unpackQ5_1(w *weightRow, raw []byte) {
	for b := range w.d {
		block := (*[q5_1Bytes]byte)(raw[b*q5_1Bytes:])
		w.d[b], w.m[b] = f16(block[:]), f16(block[2:])
		qh := binary.LittleEndian.Uint32(block[4:])
		q := (*[qk8]int16)(w.q[b*qk8:])
		for j, v := range (*[qk8 / 2]byte)(block[8:]) {
			q[j] = int16(v&0xF | byte(qh>>j&1)<<4)
			q[j+qk8/2] = int16(v>>4 | byte(qh>>(j+qk8/2)&1)<<4)
		}
	}
}

func unpackQ8_0(w *weightRow, raw []byte) {
	for b := range w.d {
		block := (*[q8_0Bytes]byte)(raw[b*q8_0Bytes:])
		w.d[b] = f16(block[:])
		q := (*[qk8]int16)(w.q[b*qk8:])
		for j, v := range (*[qk8]byte)(block[2:]) {
			q[j] = int16(int8(v))
		}
	}
}

// The K-quants. Each unpack function multiplies every value by its
// sub-block's integer scale and stores value n of a super-block at
// lanePosition[n].

// lanePosition maps the index n of a value in a super-block to its
// lane-major position 32·(n mod 8) + n/8, so that lane l, the values
// n ≡ l (mod 8), is positions 32l … 32l+31.
var lanePosition = func() (pos [qkK]uint8) {
	for n := range pos {
		pos[n] = uint8(32*(n%8) + n/8)
	}
	return pos
}()

// unpackQ2_K: 16 sub-blocks of 16 two-bit values. Each 32-byte half of qs
// covers 128 values: bit pair p of byte l is value 32p+l of the half. A
// scales byte holds the sub-block's scale in its low nibble and its minimum
// in its high nibble.
func unpackQ2_K(w *weightRow, raw []byte) {
	for b := range w.d {
		block := (*[q2KBytes]byte)(raw[b*q2KBytes:])
		w.d[b], w.m[b] = f16(block[80:]), f16(block[82:])
		scales := (*[16]byte)(block[:])
		min := (*[16]int16)(w.min[16*b:])
		for sub, sc := range scales {
			min[sub] = int16(sc >> 4)
		}
		q := (*[qkK]int16)(w.q[b*qkK:])
		for half := range 2 {
			qs := (*[32]byte)(block[16+32*half:])
			for pair := range 4 {
				sub := 8*half + 2*pair
				pos := (*[32]uint8)(lanePosition[128*half+32*pair:])
				sc0, sc1 := int16(scales[sub]&0xF), int16(scales[sub+1]&0xF)
				for l := range 16 {
					q[pos[l]] = sc0 * int16(qs[l]>>(2*pair)&3)
					q[pos[l+16]] = sc1 * int16(qs[l+16]>>(2*pair)&3)
				}
			}
		}
	}
}

// q3KScale returns the 6-bit scale i (0..15) of a Q3_K super-block from its
// 12 bytes s: the low nibbles of bytes 0..7 are the low bits of scales
// 0..7, their high nibbles those of scales 8..15, and bit pair i/4 of byte
// 8+i%4 holds the two high bits.
func q3KScale(s *[12]byte, i int) int16 {
	var lo byte
	if i < 8 {
		lo = s[i] & 0xF
	} else {
		lo = s[i-8] >> 4
	}
	hi := s[8+i%4] >> (2 * (i / 4)) & 3
	return int16(lo | hi<<4)
}

// unpackQ3_K: the two low bits are arranged as in Q2_K, and bit
// 4·half+pair of hmask byte l is the high bit of value 32·pair+l of that
// half. A clear high bit subtracts 4.
func unpackQ3_K(w *weightRow, raw []byte) {
	for b := range w.d {
		block := (*[q3KBytes]byte)(raw[b*q3KBytes:])
		w.d[b] = f16(block[108:])
		hmask := (*[32]byte)(block[:])
		scales := (*[12]byte)(block[96:])
		q := (*[qkK]int16)(w.q[b*qkK:])
		for half := range 2 {
			qs := (*[32]byte)(block[32+32*half:])
			for pair := range 4 {
				sub := 8*half + 2*pair
				pos := (*[32]uint8)(lanePosition[128*half+32*pair:])
				sc0, sc1 := q3KScale(scales, sub)-32, q3KScale(scales, sub+1)-32
				bit := 4*half + pair
				for l := range 16 {
					q[pos[l]] = sc0 * (int16(qs[l]>>(2*pair)&3) - 4 + 4*int16(hmask[l]>>bit&1))
					q[pos[l+16]] = sc1 * (int16(qs[l+16]>>(2*pair)&3) - 4 + 4*int16(hmask[l+16]>>bit&1))
				}
			}
		}
	}
}

// kScaleMin returns the 6-bit scale and minimum of 32-value sub-block j
// (0..7) of a Q4_K or Q5_K super-block from its 12 packed bytes s.
// Sub-blocks 0..3 keep theirs in the low 6 bits of bytes j and j+4.
// Sub-blocks 4..7 keep the low 4 bits in the nibbles of byte j+4, and the
// high 2 bits in the top bits of bytes j−4 (scale) and j (minimum).
func kScaleMin(s *[12]byte, j int) (sc, m int16) {
	if j < 4 {
		return int16(s[j] & 63), int16(s[j+4] & 63)
	}
	return int16(s[j+4]&0xF | s[j-4]>>6<<4), int16(s[j+4]>>4 | s[j]>>6<<4)
}

// unpackKScales sets the four minimums of the 16-value groups of 32-value
// sub-blocks 2g and 2g+1 of super-block b, and returns their two scales.
func unpackKScales(w *weightRow, b, g int, s *[12]byte) (sc0, sc1 int16) {
	sc0, m0 := kScaleMin(s, 2*g)
	sc1, m1 := kScaleMin(s, 2*g+1)
	min := (*[4]int16)(w.min[16*b+4*g:])
	min[0], min[1], min[2], min[3] = m0, m0, m1, m1
	return sc0, sc1
}

// unpackQ4_K: byte l of each 32-byte group g of qs holds value l of
// sub-block 2g in its low nibble and value l of sub-block 2g+1 in its high
// nibble.
func unpackQ4_K(w *weightRow, raw []byte) {
	for b := range w.d {
		block := (*[q4KBytes]byte)(raw[b*q4KBytes:])
		w.d[b], w.m[b] = f16(block[:]), f16(block[2:])
		q := (*[qkK]int16)(w.q[b*qkK:])
		for g := range 4 {
			sc0, sc1 := unpackKScales(w, b, g, (*[12]byte)(block[4:]))
			lo, hi := (*[32]uint8)(lanePosition[64*g:]), (*[32]uint8)(lanePosition[64*g+32:])
			for l, v := range (*[32]byte)(block[16+32*g:]) {
				q[lo[l]] = sc0 * int16(v&0xF)
				q[hi[l]] = sc1 * int16(v>>4)
			}
		}
	}
}

// unpackQ5_K: Q4_K with a fifth bit per value, bit s of qh byte l for
// value l of sub-block s.
func unpackQ5_K(w *weightRow, raw []byte) {
	for b := range w.d {
		block := (*[q5KBytes]byte)(raw[b*q5KBytes:])
		w.d[b], w.m[b] = f16(block[:]), f16(block[2:])
		qh := (*[32]byte)(block[16:])
		q := (*[qkK]int16)(w.q[b*qkK:])
		for g := range 4 {
			sc0, sc1 := unpackKScales(w, b, g, (*[12]byte)(block[4:]))
			lo, hi := (*[32]uint8)(lanePosition[64*g:]), (*[32]uint8)(lanePosition[64*g+32:])
			for l, v := range (*[32]byte)(block[48+32*g:]) {
				h := qh[l] >> (2 * g)
				q[lo[l]] = sc0 * int16(v&0xF|h&1<<4)
				q[hi[l]] = sc1 * int16(v>>4|h&2<<3)
			}
		}
	}
}

// unpackQ6_K: 16 sub-blocks of 16 six-bit values with signed 8-bit
// scales. Value l+32p of each 128-value half (l < 32, p < 4) takes its low
// 4 bits from ql byte l+32·(p%2), low nibble for p < 2 and high nibble
// otherwise, and its high 2 bits from bit pair p of qh byte l.
func unpackQ6_K(w *weightRow, raw []byte) {
	for b := range w.d {
		block := (*[q6KBytes]byte)(raw[b*q6KBytes:])
		w.d[b] = f16(block[208:])
		q := (*[qkK]int16)(w.q[b*qkK:])
		for half := range 2 {
			ql := (*[64]byte)(block[64*half:])
			qh := (*[32]byte)(block[128+32*half:])
			sc := (*[8]byte)(block[192+8*half:])
			pos := (*[128]uint8)(lanePosition[128*half:])
			for l, h := range qh {
				is := l / 16
				q[pos[l]] = int16(int8(sc[is])) * (int16(ql[l]&0xF|h&3<<4) - 32)
				q[pos[l+32]] = int16(int8(sc[is+2])) * (int16(ql[l+32]&0xF|h>>2&3<<4) - 32)
				q[pos[l+64]] = int16(int8(sc[is+4])) * (int16(ql[l]>>4|h>>4&3<<4) - 32)
				q[pos[l+96]] = int16(int8(sc[is+6])) * (int16(ql[l+32]>>4|h>>6<<4) - 32)
			}
		}
	}
}

// dot32 returns Σ w[j]·x[j] over 32 values. With two rows packed in w,
// it returns both sums packed.
func dot32(w *[32]int64, x *[32]int8) int64 {
	s0 := w[0]*int64(x[0]) + w[4]*int64(x[4]) + w[8]*int64(x[8]) + w[12]*int64(x[12]) +
		w[16]*int64(x[16]) + w[20]*int64(x[20]) + w[24]*int64(x[24]) + w[28]*int64(x[28])
	s1 := w[1]*int64(x[1]) + w[5]*int64(x[5]) + w[9]*int64(x[9]) + w[13]*int64(x[13]) +
		w[17]*int64(x[17]) + w[21]*int64(x[21]) + w[25]*int64(x[25]) + w[29]*int64(x[29])
	s2 := w[2]*int64(x[2]) + w[6]*int64(x[6]) + w[10]*int64(x[10]) + w[14]*int64(x[14]) +
		w[18]*int64(x[18]) + w[22]*int64(x[22]) + w[26]*int64(x[26]) + w[30]*int64(x[30])
	s3 := w[3]*int64(x[3]) + w[7]*int64(x[7]) + w[11]*int64(x[11]) + w[15]*int64(x[15]) +
		w[19]*int64(x[19]) + w[23]*int64(x[23]) + w[27]*int64(x[27]) + w[31]*int64(x[31])
	return s0 + s1 + s2 + s3
}

// blockSums returns the two rows' integer sums over 32-value block b.
func (p *weightPair) blockSums(x *quantRow, b int) (int32, int32) {
	return split(dot32((*[32]int64)(p.q[qk8*b:]), (*[32]int8)(x.qs[qk8*b:])))
}

// dotQ4_0 follows ggml_vec_dot_q4_0_q8_0: Σ_b (sumi·dw)·dx.
func dotQ4_0(p *weightPair, x *quantRow) (sum0, sum1 float32) {
	d0, d1 := p.rows[0].d, p.rows[1].d
	for b, dx := range x.d {
		s0, s1 := p.blockSums(x, b)
		sum0 += float32(float32(float32(s0)*d0[b]) * dx)
		sum1 += float32(float32(float32(s1)*d1[b]) * dx)
	}
	return sum0, sum1
}

// dotBlocks follows ggml_vec_dot_q5_0_q8_0 and ggml_vec_dot_q8_0_q8_0:
// Σ_b (dw·dx)·sumi.
func dotBlocks(p *weightPair, x *quantRow) (sum0, sum1 float32) {
	d0, d1 := p.rows[0].d, p.rows[1].d
	for b, dx := range x.d {
		s0, s1 := p.blockSums(x, b)
		sum0 += float32(float32(d0[b]*dx) * float32(s0))
		sum1 += float32(float32(d1[b]*dx) * float32(s1))
	}
	return sum0, sum1
}

// dotOffsetBlocks follows ggml_vec_dot_q4_1_q8_1 and
// ggml_vec_dot_q5_1_q8_1: Σ_b ((dw·dx)·sumi + mw·sx), where sx is the
// activation block's d·Σq.
func dotOffsetBlocks(p *weightPair, x *quantRow) (sum0, sum1 float32) {
	w0, w1 := p.rows[0], p.rows[1]
	for b, dx := range x.d {
		s0, s1 := p.blockSums(x, b)
		sum0 += float32(float32(w0.d[b]*dx)*float32(s0)) + float32(w0.m[b]*x.s[b])
		sum1 += float32(float32(w1.d[b]*dx)*float32(s1)) + float32(w1.m[b]*x.s[b])
	}
	return sum0, sum1
}

// lanes returns ggml's eight lane sums of super-block b, packed for both
// rows: lane l is Σ sc·v·q over the values i ≡ l (mod 8) of the
// super-block, which the unpack functions and toLaneMajor have put at
// 32l … 32l+31.
func (p *weightPair) lanes(x *quantRow, b int) [8]int64 {
	w := (*[qkK]int64)(p.q[qkK*b:])
	q := (*[qkK]int8)(x.qs[qkK*b:])
	return [8]int64{
		dot32((*[32]int64)(w[0:]), (*[32]int8)(q[0:])),
		dot32((*[32]int64)(w[32:]), (*[32]int8)(q[32:])),
		dot32((*[32]int64)(w[64:]), (*[32]int8)(q[64:])),
		dot32((*[32]int64)(w[96:]), (*[32]int8)(q[96:])),
		dot32((*[32]int64)(w[128:]), (*[32]int8)(q[128:])),
		dot32((*[32]int64)(w[160:]), (*[32]int8)(q[160:])),
		dot32((*[32]int64)(w[192:]), (*[32]int8)(q[192:])),
		dot32((*[32]int64)(w[224:]), (*[32]int8)(q[224:])),
	}
}

// minSums returns both rows' Σ_j bsums[j]·min[j] over the 16 groups of
// super-block b.
func (p *weightPair) minSums(x *quantRow, b int) (int32, int32) {
	bsums := (*[16]int16)(x.bsums[16*b:])
	min := (*[16]int64)(p.min[16*b:])
	var s int64
	for j, v := range bsums {
		s += int64(v) * min[j]
	}
	return split(s)
}

// dotQ2_K follows ggml_vec_dot_q2_K_q8_K: per super-block,
// (dx·dw)·isum − (dx·dminw)·Σ bsums·min, where isum is the sum of all
// lanes.
func dotQ2_K(p *weightPair, x *quantRow) (sum0, sum1 float32) {
	w0, w1 := p.rows[0], p.rows[1]
	for b, dx := range x.d {
		var isum int64
		for _, v := range p.lanes(x, b) {
			isum += v
		}
		i0, i1 := split(isum)
		m0, m1 := p.minSums(x, b)
		sum0 += float32(float32(dx*w0.d[b])*float32(i0)) - float32(float32(dx*w0.m[b])*float32(m0))
		sum1 += float32(float32(dx*w1.d[b])*float32(i1)) - float32(float32(dx*w1.m[b])*float32(m1))
	}
	return sum0, sum1
}

// laneSums holds ggml's eight float32 lane sums for each row of a pair.
type laneSums [2][8]float32

// add adds (dw·dx)·lane to each lane sum of both rows.
func (s *laneSums) add(lanes *[8]int64, d0, d1 float32) {
	for l, v := range lanes {
		a, b := split(v)
		s[0][l] += float32(d0 * float32(a))
		s[1][l] += float32(d1 * float32(b))
	}
}

// dotLanes follows ggml_vec_dot_q3_K_q8_K and ggml_vec_dot_q6_K_q8_K: eight
// float32 lane sums of (dw·dx)·lane over the super-blocks, added up at the
// end.
func dotLanes(p *weightPair, x *quantRow) (sum0, sum1 float32) {
	var sums laneSums
	d0, d1 := p.rows[0].d, p.rows[1].d
	for b, dx := range x.d {
		lanes := p.lanes(x, b)
		sums.add(&lanes, float32(d0[b]*dx), float32(d1[b]*dx))
	}
	for l := range 8 {
		sum0 += sums[0][l]
		sum1 += sums[1][l]
	}
	return sum0, sum1
}

// dotLanesMin follows ggml_vec_dot_q4_K_q8_K and ggml_vec_dot_q5_K_q8_K:
// dotLanes, with (dminw·dx)·Σ bsums·min subtracted from the running sum
// at each super-block, before the lanes are added.
func dotLanesMin(p *weightPair, x *quantRow) (sum0, sum1 float32) {
	var sums laneSums
	w0, w1 := p.rows[0], p.rows[1]
	for b, dx := range x.d {
		lanes := p.lanes(x, b)
		sums.add(&lanes, float32(w0.d[b]*dx), float32(w1.d[b]*dx))
		m0, m1 := p.minSums(x, b)
		sum0 -= float32(float32(w0.m[b]*dx) * float32(m0))
		sum1 -= float32(float32(w1.m[b]*dx) * float32(m1))
	}
	for l := range 8 {
		sum0 += sums[0][l]
		sum1 += sums[1][l]
	}
	return sum0, sum1
}
