package gguf

import "encoding/binary"

// The K-quants store super-blocks of 256 values, cut into sub-blocks of 16
// or 32 values. Each sub-block has a small integer scale, and in Q2_K, Q4_K
// and Q5_K also a small integer minimum. The super-block's F16 factors d
// and dmin turn these into float32. Layouts are those of block_q2_K …
// block_q6_K in ggml-common.h, and the decoding follows ggml's
// dequantize_row_q2_K … q6_K operation for operation in float32.
//
// A sub-block's scale d·sc and minimum dmin·m are rounded to float32 first.
// Then each value is (d·sc)·q − dmin·m, with the product rounded before the
// subtraction. Every product is wrapped in an explicit float32 conversion,
// because Go may otherwise fuse a product and a later sum into one
// multiply-add, even across statements. On arm64 it fused dmin·m and the
// subtraction into one FMSUB, which changes the last bit.

// qkK is the number of values in a K-quant super-block.
const qkK = 256

// Super-block sizes in bytes, and the offsets of their fields. Fields in
// file order:
//
//	Q2_K: scales[16] (low nibble scale, high nibble minimum), qs[64], d, dmin
//	Q3_K: hmask[32], qs[64], scales[12], d
//	Q4_K: d, dmin, scales[12], qs[128]
//	Q5_K: d, dmin, scales[12], qh[32], qs[128]
//	Q6_K: ql[128], qh[64], scales[16] (int8), d
const (
	q2KBytes   = 16 + qkK/4 + 4
	q2KQuants  = 16
	q2KFactors = 16 + qkK/4

	q3KBytes  = qkK/8 + qkK/4 + 12 + 2
	q3KQuants = qkK / 8
	q3KScales = qkK/8 + qkK/4
	q3KFactor = qkK/8 + qkK/4 + 12

	kScaleFields = 12 // bytes of packed 6-bit scales and minimums in Q4_K and Q5_K
	q4KBytes     = 4 + kScaleFields + qkK/2
	q5KBytes     = 4 + kScaleFields + qkK/8 + qkK/2
	q5KQuants    = 4 + kScaleFields + qkK/8

	q6KBytes    = qkK/2 + qkK/4 + qkK/16 + 2
	q6KHighBits = qkK / 2
	q6KScales   = qkK/2 + qkK/4
	q6KFactor   = qkK/2 + qkK/4 + qkK/16
)

// dequantizeQ2_K decodes whole Q2_K super-blocks: 16 sub-blocks of 16
// values, value = d·sc·q − dmin·m with 2-bit q and 4-bit sc and m. Each
// 32-byte half of qs covers 128 values: bit pair k of byte l is value
// 32k+l of the half, so bytes 0..15 hold the even sub-blocks and bytes
// 16..31 the odd ones.
func dequantizeQ2_K(dst []float32, src []byte) {
	table := f16Lookup()
	for b := 0; b < len(dst)/qkK; b++ {
		block := src[b*q2KBytes : (b+1)*q2KBytes]
		d := table[binary.LittleEndian.Uint16(block[q2KFactors:])]
		dmin := table[binary.LittleEndian.Uint16(block[q2KFactors+2:])]
		scales := block[:16]
		out := dst[b*qkK : (b+1)*qkK]

		for sub := range 16 {
			// Sub-block sub lies in half sub/8, uses bit pair (sub/2)%4 and
			// the first or second 16 bytes of that half's 32.
			sc := scales[sub]
			dl := float32(d * float32(sc&0xF))
			ml := float32(dmin * float32(sc>>4))
			q := block[q2KQuants+32*(sub/8)+16*(sub%2):][:16]
			shift := 2 * uint(sub/2%4)
			o := out[16*sub : 16*sub+16]
			for l, x := range q {
				o[l] = float32(dl*float32(x>>shift&3)) - ml
			}
		}
	}
}

// q3KScaleValues unpacks the sixteen 6-bit Q3_K scales from their 12 bytes
// and multiplies each by the super-block factor d:
// the low nibbles of bytes 0..7 are the low bits of scales 0..7, their
// high nibbles those of scales 8..15, and bit pair k of byte 8+i holds the
// two high bits of scale 4k+i. The stored value is offset by 32.
// dst[i] = d·(sc_i − 32), rounded to float32 as in ggml.
func q3KScaleValues(s []byte, dst *[16]float32, d float32) {
	for i := range 16 {
		var lo byte
		if i < 8 {
			lo = s[i] & 0xF
		} else {
			lo = s[i-8] >> 4
		}
		hi := s[8+i%4] >> (2 * uint(i/4)) & 3
		dst[i] = d * float32(int(lo|hi<<4)-32)
	}
}

// dequantizeQ3_K decodes whole Q3_K super-blocks: 16 sub-blocks of 16
// values, value = d·(sc − 32)·(q − 4·(1 − h)) with a 2-bit q from qs, its
// high bit h from hmask, and 6-bit sc. The 2-bit quants are arranged as in
// Q2_K. Bit 4·half+k of hmask byte l is the high bit for the quant at bit
// pair k of qs byte l of that half.
func dequantizeQ3_K(dst []float32, src []byte) {
	table := f16Lookup()
	var scale [16]float32
	for b := 0; b < len(dst)/qkK; b++ {
		block := src[b*q3KBytes : (b+1)*q3KBytes]
		d := table[binary.LittleEndian.Uint16(block[q3KFactor:])]
		q3KScaleValues(block[q3KScales:q3KScales+12], &scale, d)
		hmask := block[:q3KQuants]
		out := dst[b*qkK : (b+1)*qkK]

		for sub := range 16 {
			half, pair, second := sub/8, uint(sub/2%4), 16*(sub%2)
			q := block[q3KQuants+32*half+second:][:16]
			h := hmask[second : second+16]
			bit := 4*uint(half) + pair
			dl := scale[sub]
			o := out[16*sub : 16*sub+16]
			for l, x := range q {
				// A clear high bit subtracts 4.
				v := int(x>>(2*pair)&3) - 4 + 4*int(h[l]>>bit&1)
				o[l] = dl * float32(v)
			}
		}
	}
}

// kScaleMin returns the 6-bit scale and minimum of sub-block j (0..7) of
// a Q4_K or Q5_K super-block from its 12 packed bytes s. Sub-blocks 0..3
// keep theirs in the low 6 bits of bytes j and j+4. Sub-blocks 4..7 keep
// the low 4 bits in the nibbles of byte j+4, and the high 2 bits in the top
// bits of bytes j−4 (scale) and j (minimum).
func kScaleMin(s []byte, j int) (sc, m byte) {
	if j < 4 {
		return s[j] & 63, s[j+4] & 63
	}
	return s[j+4]&0xF | s[j-4]>>6<<4, s[j+4]>>4 | s[j]>>6<<4
}

// dequantizeQ4_K decodes whole Q4_K super-blocks: 8 sub-blocks of 32
// values, value = d·sc·q − dmin·m with 4-bit q and 6-bit sc and m. Byte l
// of each 32-byte group of qs holds value l of sub-block 2g in its low
// nibble and value l of sub-block 2g+1 in its high nibble.
func dequantizeQ4_K(dst []float32, src []byte) {
	table := f16Lookup()
	for b := 0; b < len(dst)/qkK; b++ {
		block := src[b*q4KBytes : (b+1)*q4KBytes]
		d := table[binary.LittleEndian.Uint16(block)]
		dmin := table[binary.LittleEndian.Uint16(block[2:])]
		scales := block[4 : 4+kScaleFields]
		out := dst[b*qkK : (b+1)*qkK]

		for g := range 4 {
			sc1, m1 := kScaleMin(scales, 2*g)
			sc2, m2 := kScaleMin(scales, 2*g+1)
			d1, min1 := float32(d*float32(sc1)), float32(dmin*float32(m1))
			d2, min2 := float32(d*float32(sc2)), float32(dmin*float32(m2))
			q := block[16+32*g:][:32]
			lo, hi := out[64*g:64*g+32], out[64*g+32:64*g+64]
			for l, x := range q {
				lo[l] = float32(d1*float32(x&0xF)) - min1
				hi[l] = float32(d2*float32(x>>4)) - min2
			}
		}
	}
}

// dequantizeQ5_K decodes whole Q5_K super-blocks: as Q4_K with a fifth
// bit per quant, value = d·sc·q − dmin·m with 5-bit q. Bit 2g of qh byte l
// is the high bit of value l of sub-block 2g, bit 2g+1 that of sub-block
// 2g+1.
func dequantizeQ5_K(dst []float32, src []byte) {
	table := f16Lookup()
	for b := 0; b < len(dst)/qkK; b++ {
		block := src[b*q5KBytes : (b+1)*q5KBytes]
		d := table[binary.LittleEndian.Uint16(block)]
		dmin := table[binary.LittleEndian.Uint16(block[2:])]
		scales := block[4 : 4+kScaleFields]
		qh := block[16 : 16+qkK/8]
		out := dst[b*qkK : (b+1)*qkK]

		for g := range 4 {
			sc1, m1 := kScaleMin(scales, 2*g)
			sc2, m2 := kScaleMin(scales, 2*g+1)
			d1, min1 := float32(d*float32(sc1)), float32(dmin*float32(m1))
			d2, min2 := float32(d*float32(sc2)), float32(dmin*float32(m2))
			q := block[q5KQuants+32*g:][:32]
			lo, hi := out[64*g:64*g+32], out[64*g+32:64*g+64]
			shift := 2 * uint(g)
			for l, x := range q {
				h := qh[l] >> shift
				lo[l] = float32(d1*float32(x&0xF|h&1<<4)) - min1
				hi[l] = float32(d2*float32(x>>4|h&2<<3)) - min2
			}
		}
	}
}

// dequantizeQ6_K decodes whole Q6_K super-blocks: 16 sub-blocks of 16
// values, value = d·sc·(q − 32) with 6-bit q and signed 8-bit sc. Each
// 128-value half uses 64 bytes of ql and 32 of qh: value l+32k of the half
// (l < 32, k < 4) takes its low 4 bits from ql byte l+32·(k%2), low
// nibble for k < 2 and high nibble otherwise, and its high 2 bits from bit
// pair k of qh byte l.
func dequantizeQ6_K(dst []float32, src []byte) {
	table := f16Lookup()
	var scale [16]float32
	for b := 0; b < len(dst)/qkK; b++ {
		block := src[b*q6KBytes : (b+1)*q6KBytes]
		d := table[binary.LittleEndian.Uint16(block[q6KFactor:])]
		for i, s := range block[q6KScales : q6KScales+16] {
			scale[i] = d * float32(int8(s))
		}
		out := dst[b*qkK : (b+1)*qkK]

		for half := range 2 {
			ql := block[64*half:][:64]
			qh := block[q6KHighBits+32*half:][:32]
			sc := scale[8*half : 8*half+8]
			o := out[128*half : 128*half+128]
			for l, h := range qh {
				is := l / 16
				q1 := int(ql[l]&0xF|h&3<<4) - 32
				q2 := int(ql[l+32]&0xF|h>>2&3<<4) - 32
				q3 := int(ql[l]>>4|h>>4&3<<4) - 32
				q4 := int(ql[l+32]>>4|h>>6<<4) - 32
				o[l] = sc[is] * float32(q1)
				o[l+32] = sc[is+2] * float32(q2)
				o[l+64] = sc[is+4] * float32(q3)
				o[l+96] = sc[is+6] * float32(q4)
			}
		}
	}
}
