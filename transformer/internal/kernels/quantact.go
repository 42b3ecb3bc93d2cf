package kernels

import (
	"math"
	"sync"

	"github.com/interp-go/interp/gguf"
)

// llama.cpp's CPU backend does not multiply float activations by decoded
// quantized weights. Before a product it rounds each activation row to the
// weight type's dot-product format (vec_dot_type in ggml-cpu.c): Q8_0 for
// Q4_0, Q5_0 and Q8_0 weights, Q8_1 for Q4_1 and Q5_1, Q8_K for the
// K-quants. The quantizers here follow ggml's reference ones
// (quantize_row_q8_0_ref, quantize_row_q8_1_ref and quantize_row_q8_K_ref
// in ggml-quants.c) operation for operation in float32, so they give ggml's
// bytes.
//
// NOTE: on x86 with AVX, ggml's CPU backend quantizes to Q8_0 and Q8_1 with
// its own SIMD code. That code multiplies by 127/amax where the reference
// multiplies by 1/(amax/127), and rounds ties to even where the reference
// rounds them away from zero, so a quant can differ by one from these.

// Values per block of the activation formats.
const (
	qk8 = 32  // Q8_0 and Q8_1, and the Q4_0 … Q5_1 weight blocks
	qkK = 256 // Q8_K, and the K-quant super-blocks
)

// quantRows holds activation rows [m, k] in one of ggml's 8-bit
// dot-product formats, field by field rather than in ggml's block bytes.
type quantRows struct {
	format gguf.Type // TypeQ8_0, TypeQ8_1 or TypeQ8_K
	k      int       // values per row
	qs     []int8    // [m, k] quants
	d      []float32 // [m, k/block] scales; F16 values for Q8_0 and Q8_1, float32 for Q8_K
	s      []float32 // Q8_1: [m, k/32] d·Σqs per block, an F16 value
	bsums  []int16   // Q8_K: [m, k/16] sums of 16 consecutive quants

	// Buffers of the products that take these rows, kept with the struct
	// in quantRowsPool so that a product allocates nothing once they have
	// grown.
	rows    []quantRow // [m] views of each row
	offsets []int16    // Q6_K assembly: [m, k/2] (setQ6KOffsets)
	dxT     []float32  // Q8_0 assembly: block scales by groups of four rows (transposeScales)
}

// quantRowsPool holds *quantRows whose buffers products reuse.
var quantRowsPool = sync.Pool{New: func() any { return new(quantRows) }}

// grow returns s resliced to length n, reallocated only when its capacity
// is short. The contents are unspecified.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// quantRow is one row of a quantRows.
type quantRow struct {
	qs    []int8
	d     []float32
	s     []float32
	bsums []int16

	// offsets holds 32·(qs[2i]+qs[2i+1]) for i < k/2, which the Q6_K
	// kernels of quantdot_amd64.s subtract. Only they set and use it.
	offsets []int16
}

// activationFormat returns the format to which llama.cpp rounds activations
// before a product with weights of type t, or false for a type whose
// product uses float activations here.
func activationFormat(t gguf.Type) (gguf.Type, bool) {
	switch t {
	case gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ8_0:
		return gguf.TypeQ8_0, true
	case gguf.TypeQ4_1, gguf.TypeQ5_1:
		return gguf.TypeQ8_1, true
	case gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K:
		return gguf.TypeQ8_K, true
	}
	return 0, false
}

// quantizeRows rounds the m rows of x, each of k values, to format, which
// is TypeQ8_0, TypeQ8_1 or TypeQ8_K. k must be a multiple of the format's
// block size.
func quantizeRows(format gguf.Type, x []float32, m, k int) *quantRows {
	q := new(quantRows)
	q.quantize(format, x, m, k)
	return q
}

// quantize is quantizeRows into q, reusing its buffers.
func (q *quantRows) quantize(format gguf.Type, x []float32, m, k int) {
	block := format.BlockSize()
	q.format, q.k = format, k
	q.qs, q.d = grow(q.qs, m*k), grow(q.d, m*k/block)
	q.s, q.bsums = q.s[:0], q.bsums[:0]
	switch format {
	case gguf.TypeQ8_1:
		q.s = grow(q.s, m*k/qk8)
	case gguf.TypeQ8_K:
		q.bsums = grow(q.bsums, m*k/16)
	}
	if m*k < minQuantizeParallel {
		for i := range m {
			q.quantizeRow(i, x)
		}
		return
	}
	ParallelFor(m, func(i int) { q.quantizeRow(i, x) })
}

// minQuantizeParallel is the number of activation values from which
// quantize rounds the rows on several goroutines. At 128 rows of 768
// values, rounding to Q8_K took about 4% of a GPT-2 small Q4_K_M prefill
// on one goroutine.
const minQuantizeParallel = 1 << 15

// quantizeRow rounds row i of x, which has q.k values per row, to q's
// format.
func (q *quantRows) quantizeRow(i int, x []float32) {
	r := q.row(i)
	xi := x[i*q.k : (i+1)*q.k]
	switch q.format {
	case gguf.TypeQ8_0:
		quantizeRowQ8_0(r.qs, r.d, xi)
	case gguf.TypeQ8_1:
		quantizeRowQ8_1(r.qs, r.d, r.s, xi)
	case gguf.TypeQ8_K:
		quantizeRowQ8_K(r.qs, r.d, r.bsums, xi)
	}
}

// rowViews returns a view of each of the m rows, in a buffer of q.
func (q *quantRows) rowViews(m int) []quantRow {
	q.rows = grow(q.rows, m)
	for i := range q.rows {
		q.rows[i] = q.row(i)
	}
	return q.rows
}

// row returns row i.
func (q *quantRows) row(i int) quantRow {
	k, block := q.k, q.format.BlockSize()
	r := quantRow{qs: q.qs[i*k : (i+1)*k], d: q.d[i*k/block : (i+1)*k/block]}
	if len(q.s) > 0 {
		r.s = q.s[i*k/qk8 : (i+1)*k/qk8]
	}
	if len(q.bsums) > 0 {
		r.bsums = q.bsums[i*k/16 : (i+1)*k/16]
	}
	return r
}

// toLaneMajor reorders the quants of each Q8_K block lane by lane, the
// order of the unpacked K-quant weights (see lanePosition). The block sums
// stay those of consecutive values.
func (q *quantRows) toLaneMajor() {
	var v [qkK]int8
	for b := 0; b < len(q.qs); b += qkK {
		copy(v[:], q.qs[b:b+qkK])
		out := (*[qkK]int8)(q.qs[b:])
		for n, x := range v {
			out[lanePosition[n]] = x
		}
	}
}

// q8Scale returns the block scale d = amax/127 of x and its float32 inverse
// (0 when d is 0). amax is the largest |v|, with a NaN handled as ggml's
// MAX(amax, fabsf(v)) macro handles it.
func q8Scale(x *[qk8]float32) (d, id float32) {
	var amax float32
	for _, v := range x {
		if a := abs32(v); !(amax > a) {
			amax = a
		}
	}
	d = amax / 127
	if d != 0 {
		id = 1 / d
	}
	return d, id
}

// abs32 returns |v|.
func abs32(v float32) float32 {
	return math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
}

// roundAway rounds v to the nearest integer, halves away from zero, as C's
// roundf does.
func roundAway(v float32) int8 {
	return int8(math.Round(float64(v)))
}

// quantizeRowQ8_0 sets each 32-value block to q = roundf(x·(1/d)) with
// d = amax/127 stored as F16, as quantize_row_q8_0_ref does. d receives the
// F16 scale as float32. quantact_amd64.go replaces it with an AVX-512
// kernel that gives the same bytes where the CPU has one.
var quantizeRowQ8_0 = quantizeRowQ8_0Go

func quantizeRowQ8_0Go(qs []int8, d []float32, x []float32) {
	for b := range len(x) / qk8 {
		xb := (*[qk8]float32)(x[b*qk8:])
		qb := (*[qk8]int8)(qs[b*qk8:])
		scale, inv := q8Scale(xb)
		d[b] = gguf.F16ToFloat32(gguf.Float32ToF16(scale))
		for j, v := range xb {
			qb[j] = roundAway(v * inv)
		}
	}
}

// quantizeRowQ8_1 is quantizeRowQ8_0 that also sets s[b] to the F16
// rounding of d·Σq, with the float32 d before its own F16 rounding, as
// quantize_row_q8_1_ref does.
func quantizeRowQ8_1(qs []int8, d, s []float32, x []float32) {
	for b := range len(x) / qk8 {
		xb := (*[qk8]float32)(x[b*qk8:])
		qb := (*[qk8]int8)(qs[b*qk8:])
		scale, inv := q8Scale(xb)
		d[b] = gguf.F16ToFloat32(gguf.Float32ToF16(scale))
		var sum int32
		for j, v := range xb {
			qb[j] = roundAway(v * inv)
			sum += int32(qb[j])
		}
		s[b] = gguf.F16ToFloat32(gguf.Float32ToF16(float32(sum) * scale))
	}
}

// nearestEven rounds v (|v| < 2²²) to the nearest integer, halves to even,
// as ggml's nearest_int does by adding 1.5·2²³ in float32.
func nearestEven(v float32) int32 {
	sum := float32(v + 12582912)
	return int32(math.Float32bits(sum)&0x007fffff) - 0x00400000
}

// quantizeRowQ8_K sets each 256-value block as quantize_row_q8_K_ref does:
// max is the first value of largest magnitude, the quants are
// min(127, nearest_int(x·(−127/max))), the scale is d = 1/(−127/max) in
// float32, and bsums holds the sums of 16 consecutive quants. An all-zero
// block gets d = 0 and zero quants and sums.
func quantizeRowQ8_K(qs []int8, d []float32, bsums []int16, x []float32) {
	for b := range len(x) / qkK {
		xb := (*[qkK]float32)(x[b*qkK:])
		qb := (*[qkK]int8)(qs[b*qkK:])
		sums := (*[qkK / 16]int16)(bsums[b*qkK/16:])

		maxv := maxMagnitudeQ8_K(xb)
		if maxv == 0 {
			d[b] = 0
			clear(qb[:])
			clear(sums[:])
			continue
		}

		iscale := -127 / maxv
		quantizeBlockQ8_K(qb, sums, xb, iscale)
		d[b] = 1 / iscale
	}
}

// maxMagnitudeQ8_K returns the first value of largest magnitude in a
// Q8_K block, ignoring NaN, or 0 when every value is zero or NaN.
// quantact_amd64.go replaces it with an AVX-512 kernel where the CPU has
// one.
var maxMagnitudeQ8_K = maxMagnitudeQ8_KGo

func maxMagnitudeQ8_KGo(xb *[qkK]float32) float32 {
	var amax, maxv float32
	for _, v := range xb {
		if a := abs32(v); a > amax {
			amax, maxv = a, v
		}
	}
	return maxv
}

// quantizeBlockQ8_K sets the quants of one Q8_K block to
// min(127, nearest_int(iscale·x)), truncated to int8, and the sums of 16
// consecutive quants. quantact_amd64.go replaces it with an AVX-512 kernel
// that gives the same bytes where the CPU has one.
var quantizeBlockQ8_K = quantizeBlockQ8_KGo

func quantizeBlockQ8_KGo(qb *[qkK]int8, sums *[qkK / 16]int16, xb *[qkK]float32, iscale float32) {
	for j := range sums {
		var sum int16
		for i, v := range (*[16]float32)(xb[16*j:]) {
			// The conversion rounds the product, so that it cannot
			// fuse with nearestEven's addition.
			q := int8(min(127, nearestEven(float32(iscale*v))))
			qb[16*j+i] = q
			sum += int16(q)
		}
		sums[j] = sum
	}
}

// roundActivations returns x rounded to the precision of F16 or BF16
// values, as llama.cpp converts activations before a product with F16 or
// BF16 weights (round to nearest, ties to even).
func roundActivations(t gguf.Type, x []float32) []float32 {
	out := make([]float32, len(x))
	roundActivationsTo(out, t, x)
	return out
}

// roundActivationsTo is roundActivations into out, which has x's length.
func roundActivationsTo(out []float32, t gguf.Type, x []float32) {
	out = out[:len(x)]
	switch t {
	case gguf.TypeF16:
		for i, v := range x {
			out[i] = gguf.F16ToFloat32(gguf.Float32ToF16(v))
		}
	case gguf.TypeBF16:
		for i, v := range x {
			out[i] = gguf.BF16ToFloat32(gguf.Float32ToBF16(v))
		}
	default:
		copy(out, x)
	}
}
