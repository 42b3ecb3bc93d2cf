package gguf

import "encoding/binary"

// The 32-value block formats that predate the K-quants. Each block starts
// with an F16 scale d (and, for the _1 types, an F16 offset m), followed by
// the quants. Byte j of qs holds value j in its low nibble and value j+16
// in its high nibble. The _0 types are symmetric, value = d·(q − 2^(b−1))
// for b-bit quants; the _1 types are offset, value = d·q + m. The 5-bit
// types keep the fifth bit of value j in bit j of the little-endian uint32
// qh. Layouts are those of block_q4_0 … block_q5_1 in ggml-common.h.
//
// The arithmetic follows ggml's dequantize_row_q4_0 … q5_1 operation for
// operation in float32, so the product d·q is rounded before m is added.
// The explicit float32 conversions keep the Go compiler from fusing the two
// into one multiply-add, which would change the last bit.

// qk4 is the number of values in a Q4_0, Q4_1, Q5_0 or Q5_1 block.
const qk4 = 32

// Block sizes in bytes: scale(s), then the fifth bits, then the nibbles.
const (
	q4_0Bytes = 2 + qk4/2
	q4_1Bytes = 4 + qk4/2
	q5_0Bytes = 2 + 4 + qk4/2
	q5_1Bytes = 4 + 4 + qk4/2
)

// dequantizeQ4_0 decodes whole Q4_0 blocks: value = d·(q − 8) with
// 4-bit q. The caller has checked the lengths.
func dequantizeQ4_0(dst []float32, src []byte) {
	table := f16Lookup()
	for b := 0; b < len(dst)/qk4; b++ {
		block := src[b*q4_0Bytes : (b+1)*q4_0Bytes]
		d := table[binary.LittleEndian.Uint16(block)]
		qs := block[2 : 2+qk4/2]
		out := dst[b*qk4 : (b+1)*qk4]
		for j, q := range qs {
			out[j] = float32(int(q&0x0F)-8) * d
			out[j+qk4/2] = float32(int(q>>4)-8) * d
		}
	}
}

// dequantizeQ4_1 decodes whole Q4_1 blocks: value = d·q + m with 4-bit q.
func dequantizeQ4_1(dst []float32, src []byte) {
	table := f16Lookup()
	for b := 0; b < len(dst)/qk4; b++ {
		block := src[b*q4_1Bytes : (b+1)*q4_1Bytes]
		d := table[binary.LittleEndian.Uint16(block)]
		m := table[binary.LittleEndian.Uint16(block[2:])]
		qs := block[4 : 4+qk4/2]
		out := dst[b*qk4 : (b+1)*qk4]
		for j, q := range qs {
			out[j] = float32(float32(q&0x0F)*d) + m
			out[j+qk4/2] = float32(float32(q>>4)*d) + m
		}
	}
}

// dequantizeQ5_0 decodes whole Q5_0 blocks: value = d·(q − 16) with 5-bit
// q, whose fifth bit comes from qh.
func dequantizeQ5_0(dst []float32, src []byte) {
	table := f16Lookup()
	for b := 0; b < len(dst)/qk4; b++ {
		block := src[b*q5_0Bytes : (b+1)*q5_0Bytes]
		d := table[binary.LittleEndian.Uint16(block)]
		qh := binary.LittleEndian.Uint32(block[2:])
		qs := block[6 : 6+qk4/2]
		out := dst[b*qk4 : (b+1)*qk4]
		for j, q := range qs {
			lo := int(q&0x0F) | int(qh>>j&1)<<4
			hi := int(q>>4) | int(qh>>(j+qk4/2)&1)<<4
			out[j] = float32(lo-16) * d
			out[j+qk4/2] = float32(hi-16) * d
		}
	}
}

// dequantizeQ5_1 decodes whole Q5_1 blocks: value = d·q + m with 5-bit q.
func dequantizeQ5_1(dst []float32, src []byte) {
	table := f16Lookup()
	for b := 0; b < len(dst)/qk4; b++ {
		block := src[b*q5_1Bytes : (b+1)*q5_1Bytes]
		d := table[binary.LittleEndian.Uint16(block)]
		m := table[binary.LittleEndian.Uint16(block[2:])]
		qh := binary.LittleEndian.Uint32(block[4:])
		qs := block[8 : 8+qk4/2]
		out := dst[b*qk4 : (b+1)*qk4]
		for j, q := range qs {
			lo := q&0x0F | byte(qh>>j&1)<<4
			hi := q>>4 | byte(qh>>(j+qk4/2)&1)<<4
			out[j] = float32(float32(lo)*d) + m
			out[j+qk4/2] = float32(float32(hi)*d) + m
		}
	}
}
