//go:build amd64 && !purego

#include "textflag.h"

// Dot products of quantized weight blocks, read in their packed GGUF
// layout, with 8-bit activation quants. The integer sums within a block or
// lane are exact, so the order in which SIMD adds them does not matter.
// The float32 steps that follow repeat those of the portable dot functions
// in quantdot.go in the same order, so the results are bit-identical.

// 0x0F in every byte, to take the low nibble of each weight byte.
DATA lowNibble<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA lowNibble<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA lowNibble<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA lowNibble<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL lowNibble<>(SB), RODATA|NOPTR, $32

// 0x30 in every byte, to place the two high bits of a Q6_K value.
DATA q6KHighBits<>+0(SB)/8, $0x3030303030303030
DATA q6KHighBits<>+8(SB)/8, $0x3030303030303030
DATA q6KHighBits<>+16(SB)/8, $0x3030303030303030
DATA q6KHighBits<>+24(SB)/8, $0x3030303030303030
GLOBL q6KHighBits<>(SB), RODATA|NOPTR, $32

// 0x01 and 0x10 in every byte: the first bit mask of the Q5_K qh bytes,
// and the fifth bit of a Q5_K value.
DATA q5KFirstBit<>+0(SB)/8, $0x0101010101010101
DATA q5KFirstBit<>+8(SB)/8, $0x0101010101010101
DATA q5KFirstBit<>+16(SB)/8, $0x0101010101010101
DATA q5KFirstBit<>+24(SB)/8, $0x0101010101010101
GLOBL q5KFirstBit<>(SB), RODATA|NOPTR, $32
DATA q5KFifthBit<>+0(SB)/8, $0x1010101010101010
DATA q5KFifthBit<>+8(SB)/8, $0x1010101010101010
DATA q5KFifthBit<>+16(SB)/8, $0x1010101010101010
DATA q5KFifthBit<>+24(SB)/8, $0x1010101010101010
GLOBL q5KFifthBit<>(SB), RODATA|NOPTR, $32

// 8 in every byte, the offset of Q4_0 values, and 1 in every word.
DATA q4_0Offset<>+0(SB)/8, $0x0808080808080808
DATA q4_0Offset<>+8(SB)/8, $0x0808080808080808
DATA q4_0Offset<>+16(SB)/8, $0x0808080808080808
DATA q4_0Offset<>+24(SB)/8, $0x0808080808080808
GLOBL q4_0Offset<>(SB), RODATA|NOPTR, $32
DATA wordOnes<>+0(SB)/8, $0x0001000100010001
DATA wordOnes<>+8(SB)/8, $0x0001000100010001
DATA wordOnes<>+16(SB)/8, $0x0001000100010001
DATA wordOnes<>+24(SB)/8, $0x0001000100010001
GLOBL wordOnes<>(SB), RODATA|NOPTR, $32

// 32 in every byte, the offset of Q6_K values.
DATA q6KOffset<>+0(SB)/8, $0x2020202020202020
DATA q6KOffset<>+8(SB)/8, $0x2020202020202020
DATA q6KOffset<>+16(SB)/8, $0x2020202020202020
DATA q6KOffset<>+24(SB)/8, $0x2020202020202020
GLOBL q6KOffset<>(SB), RODATA|NOPTR, $32

// VPSHUFB control that reorders each 16 bytes as 0, 8, 1, 9, … 7, 15, so
// that VPMADDUBSW adds values e and e+8, which belong to the same lane
// (index mod 8) of the K-quant dot products. laneInterleave in
// quantdot_amd64.go applies the same order to the activation quants.
DATA laneShuffle<>+0(SB)/8, $0x0b030a0209010800
DATA laneShuffle<>+8(SB)/8, $0x0f070e060d050c04
DATA laneShuffle<>+16(SB)/8, $0x0b030a0209010800
DATA laneShuffle<>+24(SB)/8, $0x0f070e060d050c04
GLOBL laneShuffle<>(SB), RODATA|NOPTR, $32

// VPSHUFB controls that spread the 16 signed scale bytes of a Q6_K
// super-block into the high bytes of words, for VPSRAW $8 to sign-extend.
// Control c (32 bytes at offset 32c) serves the value pairs (p, p+1) =
// (2(c%2), 2(c%2)+1) of half c/2. With s = 4c, its low 128 bits hold the
// word pair (scale s, scale s+2) and its high 128 bits (s+1, s+3), the
// 16-value sub-blocks of the low and high 16 bytes of values p and p+1.
DATA q6KScaleShuffle<>+0(SB)/8, $0x0280008002800080
DATA q6KScaleShuffle<>+8(SB)/8, $0x0280008002800080
DATA q6KScaleShuffle<>+16(SB)/8, $0x0380018003800180
DATA q6KScaleShuffle<>+24(SB)/8, $0x0380018003800180
DATA q6KScaleShuffle<>+32(SB)/8, $0x0680048006800480
DATA q6KScaleShuffle<>+40(SB)/8, $0x0680048006800480
DATA q6KScaleShuffle<>+48(SB)/8, $0x0780058007800580
DATA q6KScaleShuffle<>+56(SB)/8, $0x0780058007800580
DATA q6KScaleShuffle<>+64(SB)/8, $0x0a8008800a800880
DATA q6KScaleShuffle<>+72(SB)/8, $0x0a8008800a800880
DATA q6KScaleShuffle<>+80(SB)/8, $0x0b8009800b800980
DATA q6KScaleShuffle<>+88(SB)/8, $0x0b8009800b800980
DATA q6KScaleShuffle<>+96(SB)/8, $0x0e800c800e800c80
DATA q6KScaleShuffle<>+104(SB)/8, $0x0e800c800e800c80
DATA q6KScaleShuffle<>+112(SB)/8, $0x0f800d800f800d80
DATA q6KScaleShuffle<>+120(SB)/8, $0x0f800d800f800d80
GLOBL q6KScaleShuffle<>(SB), RODATA|NOPTR, $128

// Q8_0_BLOCK sets acc to eight int32 partial sums of one 32-value block:
// the weight quants at w and the activation quants at x, both signed bytes,
// sign-extended to words and multiplied with VPMADDWD. This is exact for
// every byte value, including -128.
#define Q8_0_BLOCK(w, x, acc) \
	VPMOVSXBW w, Y0 \
	VPMOVSXBW 16+w, Y1 \
	VPMOVSXBW x, Y2 \
	VPMOVSXBW 16+x, Y3 \
	VPMADDWD Y2, Y0, Y0 \
	VPMADDWD Y3, Y1, Y1 \
	VPADDD Y1, Y0, acc

// func blockSumsQ8_0(w *byte, x *int8, blocks int, sums *int32)
TEXT ·blockSumsQ8_0(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ blocks+16(FP), CX
	MOVQ sums+24(FP), DX
	ADDQ $2, SI // skip the F16 scale of the first block

q8_0four:
	CMPQ CX, $4
	JL   q8_0tail
	Q8_0_BLOCK(0(SI), 0(DI), Y4)
	Q8_0_BLOCK(34(SI), 32(DI), Y5)
	Q8_0_BLOCK(68(SI), 64(DI), Y6)
	Q8_0_BLOCK(102(SI), 96(DI), Y7)

	// Three horizontal adds leave the four blocks' sums over each 128-bit
	// half in the two halves of Y4.
	VPHADDD      Y5, Y4, Y4
	VPHADDD      Y7, Y6, Y6
	VPHADDD      Y6, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPADDD       X5, X4, X4
	VMOVDQU      X4, (DX)

	ADDQ $136, SI
	ADDQ $128, DI
	ADDQ $16, DX
	SUBQ $4, CX
	JMP  q8_0four

q8_0tail:
	TESTQ CX, CX
	JZ    q8_0done
	Q8_0_BLOCK(0(SI), 0(DI), Y4)
	VEXTRACTI128 $1, Y4, X5
	VPADDD       X5, X4, X4
	VPSHUFD      $0x4e, X4, X5
	VPADDD       X5, X4, X4
	VPSHUFD      $0xb1, X4, X5
	VPADDD       X5, X4, X4
	VMOVD        X4, (DX)
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JMP          q8_0tail

q8_0done:
	VZEROUPPER
	RET

// Q4_0_BLOCK sets acc to eight int32 partial sums of one 32-value block:
// Σ (q−8)·x as Σ q·x − Σ 8·x, with the 16 qs bytes at qs (value j in the
// low nibble of byte j, value j+16 in the high nibble) and the activation
// quants at x. Y15 holds 0x0F bytes, Y12 8 in every byte and Y13 1 in
// every word.
#define Q4_0_BLOCK(qs, x, acc) \
	VMOVDQU     qs, X0 \
	VPSRLW      $4, X0, X1 \
	VINSERTI128 $1, X1, Y0, Y0 \
	VPAND       Y15, Y0, Y0 \
	VPMADDUBSW  x, Y0, Y0 \
	VPMADDUBSW  x, Y12, Y1 \
	VPSUBW      Y1, Y0, Y0 \
	VPMADDWD    Y13, Y0, acc

// func blockSumsQ4_0(w *byte, x *int8, blocks int, sums *int32)
TEXT ·blockSumsQ4_0(SB), NOSPLIT, $0-32
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    blocks+16(FP), CX
	MOVQ    sums+24(FP), DX
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU q4_0Offset<>(SB), Y12
	VMOVDQU wordOnes<>(SB), Y13
	ADDQ    $2, SI
	TESTQ   CX, CX
	JZ      q4_0done

q4_0loop:
	Q4_0_BLOCK(0(SI), 0(DI), Y4)
	VEXTRACTI128 $1, Y4, X5
	VPADDD       X5, X4, X4
	VPSHUFD      $0x4e, X4, X5
	VPADDD       X5, X4, X4
	VPSHUFD      $0xb1, X4, X5
	VPADDD       X5, X4, X4
	VMOVD        X4, (DX)
	ADDQ         $18, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          q4_0loop

q4_0done:
	VZEROUPPER
	RET

// LANES_STORE adds the lane sums in Y8 (lanes 0–3 of each 128-bit half)
// and Y9 (lanes 4–7 of each half) and stores lanes 0–7 at dst.
#define LANES_STORE(dst) \
	VPERM2I128 $0x20, Y9, Y8, Y0 \
	VPERM2I128 $0x31, Y9, Y8, Y1 \
	VPADDD     Y1, Y0, Y0 \
	VMOVDQU    Y0, dst

// LANES_ADD multiplies the word products a (sub-block of the first
// scale) and b (the second) by the scale words in sc and adds them to the
// lane sums Y8 and Y9. Words e of a and b (e < 8 in each 128-bit half)
// are lane e, and unpacking puts them side by side for VPMADDWD.
#define LANES_ADD(a, b, sc) \
	VPUNPCKLWD b, a, Y2 \
	VPUNPCKHWD b, a, Y3 \
	VPMADDWD   sc, Y2, Y2 \
	VPMADDWD   sc, Y3, Y3 \
	VPADDD     Y2, Y8, Y8 \
	VPADDD     Y3, Y9, Y9

// K_NIBBLES_DOT adds the lane sums of the 32 values in Y0 (sub-block of
// the low scale word) and the 32 values in Y1 (high scale word), unsigned
// bytes in value order, with the activation quants at xlo and xhi.
#define K_NIBBLES_DOT(xlo, xhi, scale) \
	VPSHUFB      Y14, Y0, Y0 \
	VPSHUFB      Y14, Y1, Y1 \
	VPMADDUBSW   xlo, Y0, Y4 \
	VPMADDUBSW   xhi, Y1, Y5 \
	VPBROADCASTD scale, Y6 \
	LANES_ADD(Y4, Y5, Y6)

// K_NIBBLES splits the 32 bytes at qs: their low nibbles go to Y0 and
// their high nibbles to Y1.
#define K_NIBBLES(qs) \
	VMOVDQU qs, Y0 \
	VPSRLW  $4, Y0, Y1 \
	VPAND   Y15, Y0, Y0 \
	VPAND   Y15, Y1, Y1

// Q4_K_GROUP takes the 32 bytes of qs group g: their low nibbles are 32
// values of sub-block 2g, their high nibbles 32 values of sub-block 2g+1.
#define Q4_K_GROUP(qs, xlo, xhi, scale) \
	K_NIBBLES(qs) \
	K_NIBBLES_DOT(xlo, xhi, scale)

// Q5_K_HIGH_BIT sets bit 4 of each byte of v where the qh byte in Y7 has
// the bit of mask Y12, then moves the mask to the next bit. Y13 holds
// 0x10 in every byte.
#define Q5_K_HIGH_BIT(v) \
	VPAND    Y12, Y7, Y2 \
	VPCMPEQB Y12, Y2, Y2 \
	VPAND    Y13, Y2, Y2 \
	VPOR     Y2, v, v \
	VPADDB   Y12, Y12, Y12

// Q5_K_GROUP is Q4_K_GROUP with the fifth bits of sub-blocks 2g and 2g+1,
// bits 2g and 2g+1 of the qh bytes in Y7. Y12 must start each super-block
// at 0x01 in every byte.
#define Q5_K_GROUP(qs, xlo, xhi, scale) \
	K_NIBBLES(qs) \
	Q5_K_HIGH_BIT(Y0) \
	Q5_K_HIGH_BIT(Y1) \
	K_NIBBLES_DOT(xlo, xhi, scale)

// func laneSumsQ4_K(w *byte, x *int8, scales *uint32, blocks int, lanes *int32)
TEXT ·laneSumsQ4_K(SB), NOSPLIT, $0-40
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    scales+16(FP), R8
	MOVQ    blocks+24(FP), CX
	MOVQ    lanes+32(FP), DX
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	TESTQ   CX, CX
	JZ      q4_Kdone

q4_Kloop:
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	Q4_K_GROUP(16(SI), 0(DI), 32(DI), 0(R8))
	Q4_K_GROUP(48(SI), 64(DI), 96(DI), 4(R8))
	Q4_K_GROUP(80(SI), 128(DI), 160(DI), 8(R8))
	Q4_K_GROUP(112(SI), 192(DI), 224(DI), 12(R8))
	LANES_STORE((DX))
	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $16, R8
	ADDQ $32, DX
	DECQ CX
	JNZ  q4_Kloop

q4_Kdone:
	VZEROUPPER
	RET

// func laneSumsQ5_K(w *byte, x *int8, scales *uint32, blocks int, lanes *int32)
TEXT ·laneSumsQ5_K(SB), NOSPLIT, $0-40
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    scales+16(FP), R8
	MOVQ    blocks+24(FP), CX
	MOVQ    lanes+32(FP), DX
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VMOVDQU q5KFifthBit<>(SB), Y13
	TESTQ   CX, CX
	JZ      q5_Kdone

q5_Kloop:
	VPXOR   Y8, Y8, Y8
	VPXOR   Y9, Y9, Y9
	VMOVDQU 16(SI), Y7
	VMOVDQU q5KFirstBit<>(SB), Y12
	Q5_K_GROUP(48(SI), 0(DI), 32(DI), 0(R8))
	Q5_K_GROUP(80(SI), 64(DI), 96(DI), 4(R8))
	Q5_K_GROUP(112(SI), 128(DI), 160(DI), 8(R8))
	Q5_K_GROUP(144(SI), 192(DI), 224(DI), 12(R8))
	LANES_STORE((DX))
	ADDQ $176, SI
	ADDQ $256, DI
	ADDQ $16, R8
	ADDQ $32, DX
	DECQ CX
	JNZ  q5_Kloop

q5_Kdone:
	VZEROUPPER
	RET

// Q6_K_PRODUCT multiplies the shuffled values u (0…63) by the activation
// quants at x and subtracts 32·x, giving words of (u−32)·x summed over
// pairs of the same lane.
#define Q6_K_PRODUCT(u, x) \
	VPSHUFB    Y14, u, u \
	VPMADDUBSW x, Y12, Y11 \
	VPMADDUBSW x, u, u \
	VPSUBW     Y11, u, u

// Q6_K_HALF adds the lane sums of one 128-value half: ql at ql, qh at qh,
// activation quants at x, and scale controls c and c+1 at ctrl.
#define Q6_K_HALF(ql, qh, x, ctrl) \
	VMOVDQU qh, Y0 \
	VMOVDQU ql, Y1 \
	VMOVDQU 32+ql, Y2 \
	VPSLLW  $4, Y0, Y3 \
	VPAND   q6KHighBits<>(SB), Y3, Y3 \
	VPAND   Y15, Y1, Y4 \
	VPOR    Y3, Y4, Y4 \
	VPSLLW  $2, Y0, Y3 \
	VPAND   q6KHighBits<>(SB), Y3, Y3 \
	VPAND   Y15, Y2, Y5 \
	VPOR    Y3, Y5, Y5 \
	VPAND   q6KHighBits<>(SB), Y0, Y3 \
	VPSRLW  $4, Y1, Y6 \
	VPAND   Y15, Y6, Y6 \
	VPOR    Y3, Y6, Y6 \
	VPSRLW  $2, Y0, Y3 \
	VPAND   q6KHighBits<>(SB), Y3, Y3 \
	VPSRLW  $4, Y2, Y7 \
	VPAND   Y15, Y7, Y7 \
	VPOR    Y3, Y7, Y7 \
	Q6_K_PRODUCT(Y4, x) \
	Q6_K_PRODUCT(Y5, 32+x) \
	Q6_K_PRODUCT(Y6, 64+x) \
	Q6_K_PRODUCT(Y7, 96+x) \
	VPSHUFB ctrl, Y10, Y1 \
	VPSRAW  $8, Y1, Y1 \
	LANES_ADD(Y4, Y5, Y1) \
	VPSHUFB 32+ctrl, Y10, Y1 \
	VPSRAW  $8, Y1, Y1 \
	LANES_ADD(Y6, Y7, Y1)

// func laneSumsQ6_K(w *byte, x *int8, blocks int, lanes *int32)
TEXT ·laneSumsQ6_K(SB), NOSPLIT, $0-32
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    blocks+16(FP), CX
	MOVQ    lanes+24(FP), DX
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VMOVDQU q6KOffset<>(SB), Y12
	LEAQ    q6KScaleShuffle<>(SB), R9
	TESTQ   CX, CX
	JZ      q6_Kdone

q6_Kloop:
	VPXOR          Y8, Y8, Y8
	VPXOR          Y9, Y9, Y9
	VBROADCASTI128 192(SI), Y10
	Q6_K_HALF(0(SI), 128(SI), 0(DI), 0(R9))
	Q6_K_HALF(64(SI), 160(SI), 128(DI), 64(R9))
	LANES_STORE((DX))
	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $32, DX
	DECQ CX
	JNZ  q6_Kloop

q6_Kdone:
	VZEROUPPER
	RET

// The dot routines below add the float32 steps of the portable dot
// functions to the integer sums above, operation for operation: separate
// multiplies and adds (no FMA), packed only where the portable code
// computes the same products independently, and every sum of a running
// total taken one value at a time in the portable order.

// ADD_FOUR_TO adds the four floats of X0 to the running sum in element 0
// of sum, in order.
#define ADD_FOUR_TO(sum) \
	VADDSS  X0, sum, sum \
	VPSHUFD $0x55, X0, X1 \
	VADDSS  X1, sum, sum \
	VPSHUFD $0xaa, X0, X1 \
	VADDSS  X1, sum, sum \
	VPSHUFD $0xff, X0, X1 \
	VADDSS  X1, sum, sum

// ADD_FOUR adds the four floats of X0 to the running sum X11 in order.
#define ADD_FOUR ADD_FOUR_TO(X11)

// ADD_LANES adds the eight float lane sums of acc to X11 in order.
#define ADD_LANES(acc, acclow) \
	VMOVAPS      acclow, X0 \
	ADD_FOUR \
	VEXTRACTF128 $1, acc, X0 \
	ADD_FOUR

// LANES_SCALE adds (d·dx)·lane for the int32 lanes Y0 to the float lane
// sums acc, with d·dx in X1.
#define LANES_SCALE(acc) \
	VBROADCASTSS X1, Y1 \
	VCVTDQ2PS    Y0, Y0 \
	VMULPS       Y1, Y0, Y0 \
	VADDPS       Y0, acc, acc

// func hasF16C() bool
TEXT ·hasF16C(SB), NOSPLIT, $0-1
	MOVL  $1, AX
	XORL  CX, CX
	CPUID
	SHRL  $29, CX
	ANDL  $1, CX
	MOVB  CX, ret+0(FP)
	RET

// func dotQ8_0(w *byte, x *int8, blocks int, xd *float32) float32
TEXT ·dotQ8_0(SB), NOSPLIT, $0-36
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   blocks+16(FP), CX
	MOVQ   xd+24(FP), R9
	VXORPS X11, X11, X11
	ADDQ   $2, SI

dq8_0four:
	CMPQ CX, $4
	JL   dq8_0tail
	Q8_0_BLOCK(0(SI), 0(DI), Y4)
	Q8_0_BLOCK(34(SI), 32(DI), Y5)
	Q8_0_BLOCK(68(SI), 64(DI), Y6)
	Q8_0_BLOCK(102(SI), 96(DI), Y7)
	VPHADDD      Y5, Y4, Y4
	VPHADDD      Y7, Y6, Y6
	VPHADDD      Y6, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPADDD       X5, X4, X4

	// (d·dx)·sumi for the four blocks, then added one by one. VCVTPH2PS
	// converts F16 exactly, and quiets a NaN as gguf.F16ToFloat32 does.
	VCVTDQ2PS X4, X4
	MOVWLZX   -2(SI), AX
	VMOVD     AX, X0
	VPINSRW   $1, 32(SI), X0, X0
	VPINSRW   $2, 66(SI), X0, X0
	VPINSRW   $3, 100(SI), X0, X0
	VCVTPH2PS X0, X0
	VMULPS    (R9), X0, X0
	VMULPS    X4, X0, X0
	ADD_FOUR

	ADDQ $136, SI
	ADDQ $128, DI
	ADDQ $16, R9
	SUBQ $4, CX
	JMP  dq8_0four

dq8_0tail:
	TESTQ CX, CX
	JZ    dq8_0done
	Q8_0_BLOCK(0(SI), 0(DI), Y4)
	VEXTRACTI128 $1, Y4, X5
	VPADDD       X5, X4, X4
	VPSHUFD      $0x4e, X4, X5
	VPADDD       X5, X4, X4
	VPSHUFD      $0xb1, X4, X5
	VPADDD       X5, X4, X4
	VCVTDQ2PS    X4, X4
	MOVWLZX      -2(SI), AX
	VMOVD        AX, X0
	VCVTPH2PS    X0, X0
	VMULSS       (R9), X0, X0
	VMULSS       X4, X0, X0
	VADDSS       X0, X11, X11
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $4, R9
	DECQ         CX
	JMP          dq8_0tail

dq8_0done:
	VMOVSS X11, ret+32(FP)
	VZEROUPPER
	RET

// func dotQ4_K(w *byte, x *int8, blocks int, scales *uint32, mins *int16, xd *float32, bsums *int16) float32
TEXT ·dotQ4_K(SB), NOSPLIT, $0-60
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    blocks+16(FP), CX
	MOVQ    scales+24(FP), R8
	MOVQ    mins+32(FP), R13
	MOVQ    xd+40(FP), R11
	MOVQ    bsums+48(FP), R12
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VXORPS  Y10, Y10, Y10
	VXORPS  X11, X11, X11
	TESTQ   CX, CX
	JZ      dq4_Kdone

dq4_Kloop:
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	Q4_K_GROUP(16(SI), 0(DI), 32(DI), 0(R8))
	Q4_K_GROUP(48(SI), 64(DI), 96(DI), 4(R8))
	Q4_K_GROUP(80(SI), 128(DI), 160(DI), 8(R8))
	Q4_K_GROUP(112(SI), 192(DI), 224(DI), 12(R8))
	VPERM2I128 $0x20, Y9, Y8, Y0
	VPERM2I128 $0x31, Y9, Y8, Y1
	VPADDD     Y1, Y0, Y0
	VMOVD     0(SI), X7
	VCVTPH2PS X7, X7
	VMULSS    0(R11), X7, X1
	LANES_SCALE(Y10)

	// sum −= (dmin·dx)·Σ bsums·min, with one minimum per 16-value group.
	VMOVDQU      (R12), Y2
	VPMADDWD     (R13), Y2, Y2
	VEXTRACTI128 $1, Y2, X3
	VPADDD       X3, X2, X2
	VPSHUFD      $0x4e, X2, X3
	VPADDD       X3, X2, X2
	VPSHUFD      $0xb1, X2, X3
	VPADDD       X3, X2, X2
	VCVTDQ2PS    X2, X2
	VPSHUFD      $0x55, X7, X3
	VMULSS       0(R11), X3, X3
	VMULSS       X2, X3, X3
	VSUBSS       X3, X11, X11

	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $16, R8
	ADDQ $32, R13
	ADDQ $4, R11
	ADDQ $32, R12
	DECQ CX
	JNZ  dq4_Kloop

dq4_Kdone:
	ADD_LANES(Y10, X10)
	VMOVSS X11, ret+56(FP)
	VZEROUPPER
	RET

// func dotQ5_K(w *byte, x *int8, blocks int, scales *uint32, mins *int16, xd *float32, bsums *int16) float32
TEXT ·dotQ5_K(SB), NOSPLIT, $0-60
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    blocks+16(FP), CX
	MOVQ    scales+24(FP), R8
	MOVQ    mins+32(FP), R13
	MOVQ    xd+40(FP), R11
	MOVQ    bsums+48(FP), R12
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VMOVDQU q5KFifthBit<>(SB), Y13
	VXORPS  Y10, Y10, Y10
	VXORPS  X11, X11, X11
	TESTQ   CX, CX
	JZ      dq5_Kdone

dq5_Kloop:
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VMOVDQU 16(SI), Y7
	VMOVDQU q5KFirstBit<>(SB), Y12
	Q5_K_GROUP(48(SI), 0(DI), 32(DI), 0(R8))
	Q5_K_GROUP(80(SI), 64(DI), 96(DI), 4(R8))
	Q5_K_GROUP(112(SI), 128(DI), 160(DI), 8(R8))
	Q5_K_GROUP(144(SI), 192(DI), 224(DI), 12(R8))
	VPERM2I128 $0x20, Y9, Y8, Y0
	VPERM2I128 $0x31, Y9, Y8, Y1
	VPADDD     Y1, Y0, Y0
	VMOVD     0(SI), X7
	VCVTPH2PS X7, X7
	VMULSS    0(R11), X7, X1
	LANES_SCALE(Y10)

	// sum −= (dmin·dx)·Σ bsums·min, with one minimum per 16-value group.
	VMOVDQU      (R12), Y2
	VPMADDWD     (R13), Y2, Y2
	VEXTRACTI128 $1, Y2, X3
	VPADDD       X3, X2, X2
	VPSHUFD      $0x4e, X2, X3
	VPADDD       X3, X2, X2
	VPSHUFD      $0xb1, X2, X3
	VPADDD       X3, X2, X2
	VCVTDQ2PS    X2, X2
	VPSHUFD      $0x55, X7, X3
	VMULSS       0(R11), X3, X3
	VMULSS       X2, X3, X3
	VSUBSS       X3, X11, X11

	ADDQ $176, SI
	ADDQ $256, DI
	ADDQ $16, R8
	ADDQ $32, R13
	ADDQ $4, R11
	ADDQ $32, R12
	DECQ CX
	JNZ  dq5_Kloop

dq5_Kdone:
	ADD_LANES(Y10, X10)
	VMOVSS X11, ret+56(FP)
	VZEROUPPER
	RET

// func dotQ6_K(w *byte, x *int8, blocks int, xd *float32) float32
TEXT ·dotQ6_K(SB), NOSPLIT, $0-36
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    blocks+16(FP), CX
	MOVQ    xd+24(FP), R11
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VMOVDQU q6KOffset<>(SB), Y12
	LEAQ    q6KScaleShuffle<>(SB), R9
	VXORPS  Y13, Y13, Y13
	TESTQ   CX, CX
	JZ      dq6_Kdone

dq6_Kloop:
	VPXOR          Y8, Y8, Y8
	VPXOR          Y9, Y9, Y9
	VBROADCASTI128 192(SI), Y10
	Q6_K_HALF(0(SI), 128(SI), 0(DI), 0(R9))
	Q6_K_HALF(64(SI), 160(SI), 128(DI), 64(R9))
	VPERM2I128     $0x20, Y9, Y8, Y0
	VPERM2I128     $0x31, Y9, Y8, Y1
	VPADDD         Y1, Y0, Y0
	MOVWLZX        208(SI), AX
	VMOVD          AX, X1
	VCVTPH2PS      X1, X1
	VMULSS         0(R11), X1, X1
	LANES_SCALE(Y13)
	ADDQ           $210, SI
	ADDQ           $256, DI
	ADDQ           $4, R11
	DECQ           CX
	JNZ            dq6_Kloop

dq6_Kdone:
	// The scales and Q6_K_PRODUCT use Y10 and Y11 in the loop, and the
	// lane sums are in Y13.
	VXORPS X11, X11, X11
	ADD_LANES(Y13, X13)
	VMOVSS X11, ret+32(FP)
	VZEROUPPER
	RET

// func dotQ4_0Row(w *byte, x *int8, blocks int, xd *float32) float32
TEXT ·dotQ4_0Row(SB), NOSPLIT, $0-36
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    blocks+16(FP), CX
	MOVQ    xd+24(FP), R9
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU q4_0Offset<>(SB), Y12
	VMOVDQU wordOnes<>(SB), Y13
	VXORPS  X11, X11, X11
	ADDQ    $2, SI

dq4_0four:
	CMPQ CX, $4
	JL   dq4_0tail
	Q4_0_BLOCK(0(SI), 0(DI), Y4)
	Q4_0_BLOCK(18(SI), 32(DI), Y5)
	Q4_0_BLOCK(36(SI), 64(DI), Y6)
	Q4_0_BLOCK(54(SI), 96(DI), Y7)
	VPHADDD      Y5, Y4, Y4
	VPHADDD      Y7, Y6, Y6
	VPHADDD      Y6, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPADDD       X5, X4, X4

	// (sumi·d)·dx for the four blocks, then added one by one.
	VCVTDQ2PS X4, X4
	MOVWLZX   -2(SI), AX
	VMOVD     AX, X0
	VPINSRW   $1, 16(SI), X0, X0
	VPINSRW   $2, 34(SI), X0, X0
	VPINSRW   $3, 52(SI), X0, X0
	VCVTPH2PS X0, X0
	VMULPS    X0, X4, X4
	VMULPS    (R9), X4, X0
	ADD_FOUR

	ADDQ $72, SI
	ADDQ $128, DI
	ADDQ $16, R9
	SUBQ $4, CX
	JMP  dq4_0four

dq4_0tail:
	TESTQ CX, CX
	JZ    dq4_0done
	Q4_0_BLOCK(0(SI), 0(DI), Y4)
	VEXTRACTI128 $1, Y4, X5
	VPADDD       X5, X4, X4
	VPSHUFD      $0x4e, X4, X5
	VPADDD       X5, X4, X4
	VPSHUFD      $0xb1, X4, X5
	VPADDD       X5, X4, X4
	VCVTDQ2PS    X4, X4
	MOVWLZX      -2(SI), AX
	VMOVD        AX, X0
	VCVTPH2PS    X0, X0
	VMULSS       X0, X4, X4
	VMULSS       (R9), X4, X0
	VADDSS       X0, X11, X11
	ADDQ         $18, SI
	ADDQ         $32, DI
	ADDQ         $4, R9
	DECQ         CX
	JMP          dq4_0tail

dq4_0done:
	VMOVSS X11, ret+32(FP)
	VZEROUPPER
	RET

// Q4_K_PAIR_GROUP is Q4_K_GROUP for two activation rows at once: the
// weight values are unpacked once, and row 0 adds to the lane sums Y8 and
// Y9, row 1 to Y10 and Y11.
#define Q4_K_PAIR_GROUP(qs, x0lo, x0hi, x1lo, x1hi, scale) \
	K_NIBBLES(qs) \
	VPSHUFB      Y14, Y0, Y0 \
	VPSHUFB      Y14, Y1, Y1 \
	VPBROADCASTD scale, Y6 \
	VPMADDUBSW   x0lo, Y0, Y4 \
	VPMADDUBSW   x0hi, Y1, Y5 \
	VPUNPCKLWD   Y5, Y4, Y2 \
	VPUNPCKHWD   Y5, Y4, Y3 \
	VPMADDWD     Y6, Y2, Y2 \
	VPMADDWD     Y6, Y3, Y3 \
	VPADDD       Y2, Y8, Y8 \
	VPADDD       Y3, Y9, Y9 \
	VPMADDUBSW   x1lo, Y0, Y4 \
	VPMADDUBSW   x1hi, Y1, Y5 \
	VPUNPCKLWD   Y5, Y4, Y2 \
	VPUNPCKHWD   Y5, Y4, Y3 \
	VPMADDWD     Y6, Y2, Y2 \
	VPMADDWD     Y6, Y3, Y3 \
	VPADDD       Y2, Y10, Y10 \
	VPADDD       Y3, Y11, Y11

// PAIR_ADD_LANES adds the lane sums of the float pair X0 (row 0 and row 1
// of lane 2l in elements 0 and 1, of lane 2l+1 in elements 2 and 3) to
// the two running sums in elements 0 and 1 of X7, lane 2l first.
#define PAIR_ADD_LANES \
	VADDPS  X0, X7, X7 \
	VPSRLDQ $8, X0, X2 \
	VADDPS  X2, X7, X7

// func dotQ4_KPair(w *byte, x0, x1 *int8, blocks int, scales *uint32, mins *int16, xd0, xd1 *float32, bsums0, bsums1 *int16, sums *[2]float32)
TEXT ·dotQ4_KPair(SB), NOSPLIT, $0-88
	MOVQ    w+0(FP), SI
	MOVQ    x0+8(FP), DI
	MOVQ    x1+16(FP), BX
	MOVQ    blocks+24(FP), CX
	MOVQ    scales+32(FP), R8
	MOVQ    mins+40(FP), R13
	MOVQ    xd0+48(FP), R9
	MOVQ    xd1+56(FP), R10
	MOVQ    bsums0+64(FP), R11
	MOVQ    bsums1+72(FP), R12
	MOVQ    sums+80(FP), DX
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VXORPS  Y12, Y12, Y12
	VXORPS  Y13, Y13, Y13
	VXORPS  Y7, Y7, Y7
	TESTQ   CX, CX
	JZ      dq4_Kpairdone

dq4_Kpairloop:
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	Q4_K_PAIR_GROUP(16(SI), 0(DI), 32(DI), 0(BX), 32(BX), 0(R8))
	Q4_K_PAIR_GROUP(48(SI), 64(DI), 96(DI), 64(BX), 96(BX), 4(R8))
	Q4_K_PAIR_GROUP(80(SI), 128(DI), 160(DI), 128(BX), 160(BX), 8(R8))
	Q4_K_PAIR_GROUP(112(SI), 192(DI), 224(DI), 192(BX), 224(BX), 12(R8))

	// Integer lanes 0–7 of row 0 in Y2, of row 1 in Y3.
	VPERM2I128 $0x20, Y9, Y8, Y2
	VPERM2I128 $0x31, Y9, Y8, Y3
	VPADDD     Y3, Y2, Y2
	VPERM2I128 $0x20, Y11, Y10, Y3
	VPERM2I128 $0x31, Y11, Y10, Y4
	VPADDD     Y4, Y3, Y3

	// Float lane sums += (d·dx)·lane, with X0 = [d, dmin].
	VMOVD        0(SI), X0
	VCVTPH2PS    X0, X0
	VMULSS       0(R9), X0, X1
	VBROADCASTSS X1, Y1
	VCVTDQ2PS    Y2, Y2
	VMULPS       Y1, Y2, Y2
	VADDPS       Y2, Y12, Y12
	VMULSS       0(R10), X0, X1
	VBROADCASTSS X1, Y1
	VCVTDQ2PS    Y3, Y3
	VMULPS       Y1, Y3, Y3
	VADDPS       Y3, Y13, Y13

	// Σ bsums·min of both rows in elements 0 and 1 of X2.
	VMOVDQU      (R11), Y2
	VPMADDWD     (R13), Y2, Y2
	VMOVDQU      (R12), Y3
	VPMADDWD     (R13), Y3, Y3
	VPHADDD      Y3, Y2, Y2
	VEXTRACTI128 $1, Y2, X3
	VPADDD       X3, X2, X2
	VPHADDD      X2, X2, X2
	VCVTDQ2PS    X2, X2

	// sums −= (dmin·dx)·Σ bsums·min, for both rows in elements 0 and 1.
	VPSHUFD   $0x55, X0, X4
	VMOVSS    0(R9), X5
	VMOVSS    0(R10), X1
	VUNPCKLPS X1, X5, X5
	VMULPS    X5, X4, X4
	VMULPS    X2, X4, X4
	VSUBPS    X4, X7, X7

	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $256, BX
	ADDQ $16, R8
	ADDQ $32, R13
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $32, R11
	ADDQ $32, R12
	DECQ CX
	JNZ  dq4_Kpairloop

dq4_Kpairdone:
	// Interleave the float lanes of both rows and add lanes 0–7 in order.
	VUNPCKLPS    Y13, Y12, Y0
	VUNPCKHPS    Y13, Y12, Y1
	VEXTRACTF128 $1, Y0, X3
	VEXTRACTF128 $1, Y1, X4
	PAIR_ADD_LANES
	VMOVAPS      X1, X0
	PAIR_ADD_LANES
	VMOVAPS      X3, X0
	PAIR_ADD_LANES
	VMOVAPS      X4, X0
	PAIR_ADD_LANES
	VMOVLPS      X7, (DX)
	VZEROUPPER
	RET

// Q8_0_PAIR_BLOCK sets acc0 and acc1 to eight int32 partial sums each of
// one 32-value block: the weight quants at w times the activation quants
// at x0 and x1. As in Q8_0_SIGNED_BLOCK, VPMADDUBSW takes |w| and x·sign(w),
// which is exact unless an activation quant is -128, and |w| serves both
// rows. Y15 holds 1 in every word.
#define Q8_0_PAIR_BLOCK(w, x0, x1, acc0, acc1) \
	VMOVDQU    w, Y0 \
	VPABSB     Y0, Y1 \
	VMOVDQU    x0, Y2 \
	VPSIGNB    Y0, Y2, Y2 \
	VPMADDUBSW Y2, Y1, Y2 \
	VPMADDWD   Y15, Y2, acc0 \
	VMOVDQU    x1, Y3 \
	VPSIGNB    Y0, Y3, Y3 \
	VPMADDUBSW Y3, Y1, Y3 \
	VPMADDWD   Y15, Y3, acc1

// HSUM sets element 0 of acclow, the low half of acc, to the sum of the
// eight int32 of acc, using tmp.
#define HSUM(acc, acclow, tmp) \
	VEXTRACTI128 $1, acc, tmp \
	VPADDD       tmp, acclow, acclow \
	VPSHUFD      $0x4e, acclow, tmp \
	VPADDD       tmp, acclow, acclow \
	VPSHUFD      $0xb1, acclow, tmp \
	VPADDD       tmp, acclow, acclow

// func dotQ8_0Pair(w *byte, x0, x1 *int8, blocks int, xd0, xd1 *float32, sums *[2]float32)
TEXT ·dotQ8_0Pair(SB), NOSPLIT, $0-56
	VMOVDQU wordOnes<>(SB), Y15
	MOVQ   w+0(FP), SI
	MOVQ   x0+8(FP), DI
	MOVQ   x1+16(FP), BX
	MOVQ   blocks+24(FP), CX
	MOVQ   xd0+32(FP), R9
	MOVQ   xd1+40(FP), R10
	MOVQ   sums+48(FP), DX
	VXORPS X12, X12, X12
	VXORPS X13, X13, X13
	ADDQ   $2, SI

dq8_0pairfour:
	CMPQ CX, $4
	JL   dq8_0pairtail
	Q8_0_PAIR_BLOCK(0(SI), 0(DI), 0(BX), Y4, Y8)
	Q8_0_PAIR_BLOCK(34(SI), 32(DI), 32(BX), Y5, Y9)
	Q8_0_PAIR_BLOCK(68(SI), 64(DI), 64(BX), Y6, Y10)
	Q8_0_PAIR_BLOCK(102(SI), 96(DI), 96(BX), Y7, Y11)
	VPHADDD      Y5, Y4, Y4
	VPHADDD      Y7, Y6, Y6
	VPHADDD      Y6, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPADDD       X5, X4, X4
	VPHADDD      Y9, Y8, Y8
	VPHADDD      Y11, Y10, Y10
	VPHADDD      Y10, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPADDD       X9, X8, X8

	// The four block scales, then (d·dx)·sumi for each row.
	MOVWLZX   -2(SI), AX
	VMOVD     AX, X14
	VPINSRW   $1, 32(SI), X14, X14
	VPINSRW   $2, 66(SI), X14, X14
	VPINSRW   $3, 100(SI), X14, X14
	VCVTPH2PS X14, X14
	VCVTDQ2PS X4, X4
	VMULPS    (R9), X14, X0
	VMULPS    X4, X0, X0
	ADD_FOUR_TO(X12)
	VCVTDQ2PS X8, X8
	VMULPS    (R10), X14, X0
	VMULPS    X8, X0, X0
	ADD_FOUR_TO(X13)

	ADDQ $136, SI
	ADDQ $128, DI
	ADDQ $128, BX
	ADDQ $16, R9
	ADDQ $16, R10
	SUBQ $4, CX
	JMP  dq8_0pairfour

dq8_0pairtail:
	TESTQ CX, CX
	JZ    dq8_0pairdone
	Q8_0_PAIR_BLOCK(0(SI), 0(DI), 0(BX), Y4, Y8)
	HSUM(Y4, X4, X5)
	HSUM(Y8, X8, X9)
	MOVWLZX   -2(SI), AX
	VMOVD     AX, X14
	VCVTPH2PS X14, X14
	VCVTDQ2PS X4, X4
	VMULSS    (R9), X14, X0
	VMULSS    X4, X0, X0
	VADDSS    X0, X12, X12
	VCVTDQ2PS X8, X8
	VMULSS    (R10), X14, X0
	VMULSS    X8, X0, X0
	VADDSS    X0, X13, X13
	ADDQ      $34, SI
	ADDQ      $32, DI
	ADDQ      $32, BX
	ADDQ      $4, R9
	ADDQ      $4, R10
	DECQ      CX
	JMP       dq8_0pairtail

dq8_0pairdone:
	VMOVSS X12, 0(DX)
	VMOVSS X13, 4(DX)
	VZEROUPPER
	RET

// The row kernels below multiply consecutive weight rows, rowBytes apart,
// by one activation row and store the products at dst, dst+4, …. Each row
// repeats the float32 steps of the single-row routine of its type, so the
// results are those of dotQ4_K, dotQ5_K, dotQ6_K and dotQ8_0. They unpack
// the Q4_K and Q5_K scales themselves, which saves a pass in Go per row.

// K_SCALES unpacks the 6-bit scales and minimums of the K-quant
// super-block at blk (12 bytes at 4(blk)), kScaleMin's layout for all
// eight sub-blocks at once. It stores the scale of sub-block j, as a
// word, at 2j(SP), which gives the four scale pairs that Q4_K_GROUP
// broadcasts, and leaves byte j of R13 the minimum of sub-block j. It
// uses AX, BX and DX.
#define K_SCALES(blk) \
	MOVL  4(blk), AX \
	MOVL  8(blk), BX \
	MOVL  12(blk), DX \
	MOVL  AX, R13 \
	SHRL  $6, R13 \
	ANDL  $0x03030303, R13 \
	SHLL  $4, R13 \
	ANDL  $0x3f3f3f3f, AX \
	SHLQ  $32, R13 \
	ORQ   R13, AX \
	MOVL  DX, R13 \
	ANDL  $0x0f0f0f0f, R13 \
	SHLQ  $32, R13 \
	ORQ   R13, AX \
	VMOVQ AX, X6 \
	VPMOVZXBW X6, X6 \
	VMOVDQU X6, 0(SP) \
	MOVL  BX, R13 \
	SHRL  $6, R13 \
	ANDL  $0x03030303, R13 \
	SHLL  $4, R13 \
	SHRL  $4, DX \
	ANDL  $0x0f0f0f0f, DX \
	ORL   DX, R13 \
	SHLQ  $32, R13 \
	ANDL  $0x3f3f3f3f, BX \
	ORQ   BX, R13

// K_MIN_SUB subtracts (dmin·dx)·Σ bsums·min from the running sum X11, with
// the 16 block sums at bsums, the eight sub-block minimums in the bytes of
// R13, [d, dmin] in X7 and dx at xd. Pairs of block sums are added first,
// which is exact, and multiplied by their sub-block's minimum.
#define K_MIN_SUB(bsums, xd) \
	VMOVDQU      bsums, Y2 \
	VPMADDWD     wordOnes<>(SB), Y2, Y2 \
	VMOVQ        R13, X3 \
	VPMOVZXBD    X3, Y3 \
	VPMULLD      Y3, Y2, Y2 \
	VEXTRACTI128 $1, Y2, X3 \
	VPADDD       X3, X2, X2 \
	VPSHUFD      $0x4e, X2, X3 \
	VPADDD       X3, X2, X2 \
	VPSHUFD      $0xb1, X2, X3 \
	VPADDD       X3, X2, X2 \
	VCVTDQ2PS    X2, X2 \
	VPSHUFD      $0x55, X7, X3 \
	VMULSS       xd, X3, X3 \
	VMULSS       X2, X3, X3 \
	VSUBSS       X3, X11, X11

// func dotRowsQ4_K(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, bsums *int16, dst *float32)
TEXT ·dotRowsQ4_K(SB), NOSPLIT, $16-64
	MOVQ    w+0(FP), R8
	MOVQ    rows+16(FP), R9
	MOVQ    dst+56(FP), R10
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	TESTQ   R9, R9
	JZ      rq4_Kdone

rq4_Krow:
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R11
	MOVQ   bsums+48(FP), R12
	MOVQ   blocks+24(FP), CX
	VXORPS Y10, Y10, Y10
	VXORPS X11, X11, X11
	TESTQ  CX, CX
	JZ     rq4_Kstore

rq4_Kblock:
	K_SCALES(SI)
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	Q4_K_GROUP(16(SI), 0(DI), 32(DI), 0(SP))
	Q4_K_GROUP(48(SI), 64(DI), 96(DI), 4(SP))
	Q4_K_GROUP(80(SI), 128(DI), 160(DI), 8(SP))
	Q4_K_GROUP(112(SI), 192(DI), 224(DI), 12(SP))
	VPERM2I128 $0x20, Y9, Y8, Y0
	VPERM2I128 $0x31, Y9, Y8, Y1
	VPADDD     Y1, Y0, Y0
	VMOVD      0(SI), X7
	VCVTPH2PS  X7, X7
	VMULSS     0(R11), X7, X1
	LANES_SCALE(Y10)
	K_MIN_SUB((R12), 0(R11))
	ADDQ       $144, SI
	ADDQ       $256, DI
	ADDQ       $4, R11
	ADDQ       $32, R12
	DECQ       CX
	JNZ        rq4_Kblock

rq4_Kstore:
	ADD_LANES(Y10, X10)
	VMOVSS X11, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   R9
	JNZ    rq4_Krow

rq4_Kdone:
	VZEROUPPER
	RET

// func dotRowsQ5_K(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, bsums *int16, dst *float32)
TEXT ·dotRowsQ5_K(SB), NOSPLIT, $16-64
	MOVQ    w+0(FP), R8
	MOVQ    rows+16(FP), R9
	MOVQ    dst+56(FP), R10
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VMOVDQU q5KFifthBit<>(SB), Y13
	TESTQ   R9, R9
	JZ      rq5_Kdone

rq5_Krow:
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R11
	MOVQ   bsums+48(FP), R12
	MOVQ   blocks+24(FP), CX
	VXORPS Y10, Y10, Y10
	VXORPS X11, X11, X11
	TESTQ  CX, CX
	JZ     rq5_Kstore

rq5_Kblock:
	K_SCALES(SI)
	VPXOR   Y8, Y8, Y8
	VPXOR   Y9, Y9, Y9
	VMOVDQU 16(SI), Y7
	VMOVDQU q5KFirstBit<>(SB), Y12
	Q5_K_GROUP(48(SI), 0(DI), 32(DI), 0(SP))
	Q5_K_GROUP(80(SI), 64(DI), 96(DI), 4(SP))
	Q5_K_GROUP(112(SI), 128(DI), 160(DI), 8(SP))
	Q5_K_GROUP(144(SI), 192(DI), 224(DI), 12(SP))
	VPERM2I128 $0x20, Y9, Y8, Y0
	VPERM2I128 $0x31, Y9, Y8, Y1
	VPADDD     Y1, Y0, Y0
	VMOVD      0(SI), X7
	VCVTPH2PS  X7, X7
	VMULSS     0(R11), X7, X1
	LANES_SCALE(Y10)
	K_MIN_SUB((R12), 0(R11))
	ADDQ       $176, SI
	ADDQ       $256, DI
	ADDQ       $4, R11
	ADDQ       $32, R12
	DECQ       CX
	JNZ        rq5_Kblock

rq5_Kstore:
	ADD_LANES(Y10, X10)
	VMOVSS X11, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   R9
	JNZ    rq5_Krow

rq5_Kdone:
	VZEROUPPER
	RET

// Q6_K_OFFSET_PRODUCT is Q6_K_PRODUCT with the words 32·x of the
// activation quants read from xoff, computed once per activation row.
#define Q6_K_OFFSET_PRODUCT(u, x, xoff) \
	VPSHUFB    Y14, u, u \
	VPMADDUBSW x, u, u \
	VPSUBW     xoff, u, u

// Q6_K_HALF_ROWS is Q6_K_HALF with Q6_K_OFFSET_PRODUCT, offsets at xoff,
// and Y12 holding q6KHighBits.
#define Q6_K_HALF_ROWS(ql, qh, x, xoff, ctrl) \
	VMOVDQU qh, Y0 \
	VMOVDQU ql, Y1 \
	VMOVDQU 32+ql, Y2 \
	VPSLLW  $4, Y0, Y3 \
	VPAND   Y12, Y3, Y3 \
	VPAND   Y15, Y1, Y4 \
	VPOR    Y3, Y4, Y4 \
	VPSLLW  $2, Y0, Y3 \
	VPAND   Y12, Y3, Y3 \
	VPAND   Y15, Y2, Y5 \
	VPOR    Y3, Y5, Y5 \
	VPAND   Y12, Y0, Y3 \
	VPSRLW  $4, Y1, Y6 \
	VPAND   Y15, Y6, Y6 \
	VPOR    Y3, Y6, Y6 \
	VPSRLW  $2, Y0, Y3 \
	VPAND   Y12, Y3, Y3 \
	VPSRLW  $4, Y2, Y7 \
	VPAND   Y15, Y7, Y7 \
	VPOR    Y3, Y7, Y7 \
	Q6_K_OFFSET_PRODUCT(Y4, x, xoff) \
	Q6_K_OFFSET_PRODUCT(Y5, 32+x, 32+xoff) \
	Q6_K_OFFSET_PRODUCT(Y6, 64+x, 64+xoff) \
	Q6_K_OFFSET_PRODUCT(Y7, 96+x, 96+xoff) \
	VPSHUFB ctrl, Y10, Y1 \
	VPSRAW  $8, Y1, Y1 \
	LANES_ADD(Y4, Y5, Y1) \
	VPSHUFB 32+ctrl, Y10, Y1 \
	VPSRAW  $8, Y1, Y1 \
	LANES_ADD(Y6, Y7, Y1)

// func dotRowsQ6_K(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, offsets *int16, dst *float32)
TEXT ·dotRowsQ6_K(SB), NOSPLIT, $0-64
	MOVQ    w+0(FP), R8
	MOVQ    rows+16(FP), BX
	MOVQ    dst+56(FP), R10
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VMOVDQU q6KHighBits<>(SB), Y12
	LEAQ    q6KScaleShuffle<>(SB), R9
	TESTQ   BX, BX
	JZ      rq6_Kdone

rq6_Krow:
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R11
	MOVQ   blocks+24(FP), CX
	MOVQ   offsets+48(FP), R12
	VXORPS Y13, Y13, Y13
	TESTQ  CX, CX
	JZ     rq6_Kstore

rq6_Kblock:
	VPXOR          Y8, Y8, Y8
	VPXOR          Y9, Y9, Y9
	VBROADCASTI128 192(SI), Y10
	Q6_K_HALF_ROWS(0(SI), 128(SI), 0(DI), 0(R12), 0(R9))
	Q6_K_HALF_ROWS(64(SI), 160(SI), 128(DI), 128(R12), 64(R9))
	VPERM2I128     $0x20, Y9, Y8, Y0
	VPERM2I128     $0x31, Y9, Y8, Y1
	VPADDD         Y1, Y0, Y0
	MOVWLZX        208(SI), AX
	VMOVD          AX, X1
	VCVTPH2PS      X1, X1
	VMULSS         0(R11), X1, X1
	LANES_SCALE(Y13)
	ADDQ           $210, SI
	ADDQ           $256, DI
	ADDQ           $256, R12
	ADDQ           $4, R11
	DECQ           CX
	JNZ            rq6_Kblock

rq6_Kstore:
	VXORPS X11, X11, X11
	ADD_LANES(Y13, X13)
	VMOVSS X11, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   BX
	JNZ    rq6_Krow

rq6_Kdone:
	VZEROUPPER
	RET

// Q8_0_SIGNED_BLOCK sets acc to eight int32 partial sums of one 32-value
// block: the weight quants at w times the activation quants in register x.
// VPMADDUBSW takes |w| as unsigned bytes and x·sign(w) as signed ones,
// which is exact for every weight byte, -128 included, as long as no
// activation quant is -128: negating -128 would overflow. Y11 holds 1 in
// every word.
#define Q8_0_SIGNED_BLOCK(w, x, acc) \
	VMOVDQU    w, Y0 \
	VPABSB     Y0, Y1 \
	VPSIGNB    Y0, x, Y2 \
	VPMADDUBSW Y2, Y1, Y2 \
	VPMADDWD   Y11, Y2, acc

// Q8_0_ROW_FOUR adds four blocks of the Q8_0 row at blk (past the first
// scale) times the activation blocks in Y12 … Y15, with scales at xd, to
// the running sum sum, as dotQ8_0 does.
#define Q8_0_ROW_FOUR(blk, xd, sum) \
	Q8_0_SIGNED_BLOCK(0(blk), Y12, Y4) \
	Q8_0_SIGNED_BLOCK(34(blk), Y13, Y5) \
	Q8_0_SIGNED_BLOCK(68(blk), Y14, Y6) \
	Q8_0_SIGNED_BLOCK(102(blk), Y15, Y7) \
	VPHADDD      Y5, Y4, Y4 \
	VPHADDD      Y7, Y6, Y6 \
	VPHADDD      Y6, Y4, Y4 \
	VEXTRACTI128 $1, Y4, X5 \
	VPADDD       X5, X4, X4 \
	VCVTDQ2PS    X4, X4 \
	MOVWLZX      -2(blk), AX \
	VMOVD        AX, X0 \
	VPINSRW      $1, 32(blk), X0, X0 \
	VPINSRW      $2, 66(blk), X0, X0 \
	VPINSRW      $3, 100(blk), X0, X0 \
	VCVTPH2PS    X0, X0 \
	VMULPS       xd, X0, X0 \
	VMULPS       X4, X0, X0 \
	ADD_FOUR_TO(sum)

// Q8_0_ROW_ONE adds one block of the Q8_0 row at blk (past its scale)
// times the activation block in Y12, with its scale at xd, to sum.
#define Q8_0_ROW_ONE(blk, xd, sum) \
	Q8_0_SIGNED_BLOCK(0(blk), Y12, Y4) \
	HSUM(Y4, X4, X5) \
	VCVTDQ2PS X4, X4 \
	MOVWLZX   -2(blk), AX \
	VMOVD     AX, X0 \
	VCVTPH2PS X0, X0 \
	VMULSS    xd, X0, X0 \
	VMULSS    X4, X0, X0 \
	VADDSS    X0, sum, sum

// func dotRowsQ8_0(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, dst *float32)
//
// The activation quants must not be -128 (see Q8_0_SIGNED_BLOCK). The
// rows are taken one after the other, front to back, which the hardware
// prefetchers follow. Taking two rows at a time, to overlap their chains
// of float32 additions, was faster on rows in the cache but slower on
// rows read from memory, as in decoding (measured on an AMD EPYC).
TEXT ·dotRowsQ8_0(SB), NOSPLIT, $0-56
	MOVQ    w+0(FP), R8
	MOVQ    rowBytes+8(FP), DX
	MOVQ    rows+16(FP), BX
	MOVQ    dst+48(FP), R10
	VMOVDQU wordOnes<>(SB), Y11

rq8_0row:
	TESTQ  BX, BX
	JZ     rq8_0done
	LEAQ   2(R8), SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R9
	MOVQ   blocks+24(FP), CX
	VXORPS X9, X9, X9

rq8_0rowfour:
	CMPQ    CX, $4
	JL      rq8_0rowtail
	VMOVDQU 0(DI), Y12
	VMOVDQU 32(DI), Y13
	VMOVDQU 64(DI), Y14
	VMOVDQU 96(DI), Y15
	Q8_0_ROW_FOUR(SI, (R9), X9)
	ADDQ    $136, SI
	ADDQ    $128, DI
	ADDQ    $16, R9
	SUBQ    $4, CX
	JMP     rq8_0rowfour

rq8_0rowtail:
	TESTQ   CX, CX
	JZ      rq8_0rowstore
	VMOVDQU 0(DI), Y12
	Q8_0_ROW_ONE(SI, (R9), X9)
	ADDQ    $34, SI
	ADDQ    $32, DI
	ADDQ    $4, R9
	DECQ    CX
	JMP     rq8_0rowtail

rq8_0rowstore:
	VMOVSS X9, 0(R10)
	ADDQ   $4, R10
	ADDQ   DX, R8
	DECQ   BX
	JMP    rq8_0row

rq8_0done:
	VZEROUPPER
	RET

// The _VNNI kernels below are dotRowsQ4_K, dotRowsQ5_K and dotRowsQ6_K
// with AVX512_VNNI's VPDPWSSD in place of VPMADDWD and VPADDD for the
// scaled lane sums, which is the same exact integer arithmetic in fewer
// instructions. They need AVX512_VNNI and AVX512VL, for the 256-bit form.

// LANES_ADD_VNNI is LANES_ADD with VPDPWSSD.
#define LANES_ADD_VNNI(a, b, sc) \
	VPUNPCKLWD b, a, Y2 \
	VPUNPCKHWD b, a, Y3 \
	VPDPWSSD   sc, Y2, Y8 \
	VPDPWSSD   sc, Y3, Y9

// K_NIBBLES_DOT_VNNI is K_NIBBLES_DOT with LANES_ADD_VNNI.
#define K_NIBBLES_DOT_VNNI(xlo, xhi, scale) \
	VPSHUFB      Y14, Y0, Y0 \
	VPSHUFB      Y14, Y1, Y1 \
	VPMADDUBSW   xlo, Y0, Y4 \
	VPMADDUBSW   xhi, Y1, Y5 \
	VPBROADCASTD scale, Y6 \
	LANES_ADD_VNNI(Y4, Y5, Y6)

// Q4_K_GROUP_VNNI is Q4_K_GROUP with LANES_ADD_VNNI.
#define Q4_K_GROUP_VNNI(qs, xlo, xhi, scale) \
	K_NIBBLES(qs) \
	K_NIBBLES_DOT_VNNI(xlo, xhi, scale)

// Q5_K_GROUP_VNNI is Q5_K_GROUP with LANES_ADD_VNNI.
#define Q5_K_GROUP_VNNI(qs, xlo, xhi, scale) \
	K_NIBBLES(qs) \
	Q5_K_HIGH_BIT(Y0) \
	Q5_K_HIGH_BIT(Y1) \
	K_NIBBLES_DOT_VNNI(xlo, xhi, scale)

// Q6_K_HALF_VNNI is Q6_K_HALF with LANES_ADD_VNNI.
#define Q6_K_HALF_VNNI(ql, qh, x, ctrl) \
	VMOVDQU qh, Y0 \
	VMOVDQU ql, Y1 \
	VMOVDQU 32+ql, Y2 \
	VPSLLW  $4, Y0, Y3 \
	VPAND   q6KHighBits<>(SB), Y3, Y3 \
	VPAND   Y15, Y1, Y4 \
	VPOR    Y3, Y4, Y4 \
	VPSLLW  $2, Y0, Y3 \
	VPAND   q6KHighBits<>(SB), Y3, Y3 \
	VPAND   Y15, Y2, Y5 \
	VPOR    Y3, Y5, Y5 \
	VPAND   q6KHighBits<>(SB), Y0, Y3 \
	VPSRLW  $4, Y1, Y6 \
	VPAND   Y15, Y6, Y6 \
	VPOR    Y3, Y6, Y6 \
	VPSRLW  $2, Y0, Y3 \
	VPAND   q6KHighBits<>(SB), Y3, Y3 \
	VPSRLW  $4, Y2, Y7 \
	VPAND   Y15, Y7, Y7 \
	VPOR    Y3, Y7, Y7 \
	Q6_K_PRODUCT(Y4, x) \
	Q6_K_PRODUCT(Y5, 32+x) \
	Q6_K_PRODUCT(Y6, 64+x) \
	Q6_K_PRODUCT(Y7, 96+x) \
	VPSHUFB ctrl, Y10, Y1 \
	VPSRAW  $8, Y1, Y1 \
	LANES_ADD_VNNI(Y4, Y5, Y1) \
	VPSHUFB 32+ctrl, Y10, Y1 \
	VPSRAW  $8, Y1, Y1 \
	LANES_ADD_VNNI(Y6, Y7, Y1)

// Q6_K_HALF_ROWS_VNNI is Q6_K_HALF_ROWS with LANES_ADD_VNNI, and with
// VPTERNLOGD, which needs AVX512VL, to merge each value's low and high
// bits: $0xF8 sets Y4 to Y4 | (ql & 0x0F).
#define Q6_K_HALF_ROWS_VNNI(ql, qh, x, xoff, ctrl) \
	VMOVDQU    qh, Y0 \
	VMOVDQU    ql, Y1 \
	VMOVDQU    32+ql, Y2 \
	VPSLLW     $4, Y0, Y4 \
	VPAND      Y12, Y4, Y4 \
	VPTERNLOGD $0xF8, Y15, Y1, Y4 \
	VPSLLW     $2, Y0, Y5 \
	VPAND      Y12, Y5, Y5 \
	VPTERNLOGD $0xF8, Y15, Y2, Y5 \
	VPAND      Y12, Y0, Y6 \
	VPSRLW     $4, Y1, Y1 \
	VPTERNLOGD $0xF8, Y15, Y1, Y6 \
	VPSRLW     $2, Y0, Y7 \
	VPAND      Y12, Y7, Y7 \
	VPSRLW     $4, Y2, Y2 \
	VPTERNLOGD $0xF8, Y15, Y2, Y7 \
	Q6_K_OFFSET_PRODUCT(Y4, x, xoff) \
	Q6_K_OFFSET_PRODUCT(Y5, 32+x, 32+xoff) \
	Q6_K_OFFSET_PRODUCT(Y6, 64+x, 64+xoff) \
	Q6_K_OFFSET_PRODUCT(Y7, 96+x, 96+xoff) \
	VPSHUFB ctrl, Y10, Y1 \
	VPSRAW  $8, Y1, Y1 \
	LANES_ADD_VNNI(Y4, Y5, Y1) \
	VPSHUFB 32+ctrl, Y10, Y1 \
	VPSRAW  $8, Y1, Y1 \
	LANES_ADD_VNNI(Y6, Y7, Y1)

// func dotRowsQ4_KVNNI(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, bsums *int16, dst *float32)
TEXT ·dotRowsQ4_KVNNI(SB), NOSPLIT, $16-64
	MOVQ    w+0(FP), R8
	MOVQ    rows+16(FP), R9
	MOVQ    dst+56(FP), R10
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	TESTQ   R9, R9
	JZ      rq4_Kvnnidone

rq4_Kvnnirow:
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R11
	MOVQ   bsums+48(FP), R12
	MOVQ   blocks+24(FP), CX
	VXORPS Y10, Y10, Y10
	VXORPS X11, X11, X11
	TESTQ  CX, CX
	JZ     rq4_Kvnnistore

rq4_Kvnniblock:
	K_SCALES(SI)
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	Q4_K_GROUP_VNNI(16(SI), 0(DI), 32(DI), 0(SP))
	Q4_K_GROUP_VNNI(48(SI), 64(DI), 96(DI), 4(SP))
	Q4_K_GROUP_VNNI(80(SI), 128(DI), 160(DI), 8(SP))
	Q4_K_GROUP_VNNI(112(SI), 192(DI), 224(DI), 12(SP))
	VPERM2I128 $0x20, Y9, Y8, Y0
	VPERM2I128 $0x31, Y9, Y8, Y1
	VPADDD     Y1, Y0, Y0
	VMOVD      0(SI), X7
	VCVTPH2PS  X7, X7
	VMULSS     0(R11), X7, X1
	LANES_SCALE(Y10)
	K_MIN_SUB((R12), 0(R11))
	ADDQ       $144, SI
	ADDQ       $256, DI
	ADDQ       $4, R11
	ADDQ       $32, R12
	DECQ       CX
	JNZ        rq4_Kvnniblock

rq4_Kvnnistore:
	ADD_LANES(Y10, X10)
	VMOVSS X11, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   R9
	JNZ    rq4_Kvnnirow

rq4_Kvnnidone:
	VZEROUPPER
	RET

// func dotRowsQ5_KVNNI(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, bsums *int16, dst *float32)
TEXT ·dotRowsQ5_KVNNI(SB), NOSPLIT, $16-64
	MOVQ    w+0(FP), R8
	MOVQ    rows+16(FP), R9
	MOVQ    dst+56(FP), R10
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VMOVDQU q5KFifthBit<>(SB), Y13
	TESTQ   R9, R9
	JZ      rq5_Kvnnidone

rq5_Kvnnirow:
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R11
	MOVQ   bsums+48(FP), R12
	MOVQ   blocks+24(FP), CX
	VXORPS Y10, Y10, Y10
	VXORPS X11, X11, X11
	TESTQ  CX, CX
	JZ     rq5_Kvnnistore

rq5_Kvnniblock:
	K_SCALES(SI)
	VPXOR   Y8, Y8, Y8
	VPXOR   Y9, Y9, Y9
	VMOVDQU 16(SI), Y7
	VMOVDQU q5KFirstBit<>(SB), Y12
	Q5_K_GROUP_VNNI(48(SI), 0(DI), 32(DI), 0(SP))
	Q5_K_GROUP_VNNI(80(SI), 64(DI), 96(DI), 4(SP))
	Q5_K_GROUP_VNNI(112(SI), 128(DI), 160(DI), 8(SP))
	Q5_K_GROUP_VNNI(144(SI), 192(DI), 224(DI), 12(SP))
	VPERM2I128 $0x20, Y9, Y8, Y0
	VPERM2I128 $0x31, Y9, Y8, Y1
	VPADDD     Y1, Y0, Y0
	VMOVD      0(SI), X7
	VCVTPH2PS  X7, X7
	VMULSS     0(R11), X7, X1
	LANES_SCALE(Y10)
	K_MIN_SUB((R12), 0(R11))
	ADDQ       $176, SI
	ADDQ       $256, DI
	ADDQ       $4, R11
	ADDQ       $32, R12
	DECQ       CX
	JNZ        rq5_Kvnniblock

rq5_Kvnnistore:
	ADD_LANES(Y10, X10)
	VMOVSS X11, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   R9
	JNZ    rq5_Kvnnirow

rq5_Kvnnidone:
	VZEROUPPER
	RET

// func dotRowsQ6_KVNNI(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, offsets *int16, dst *float32)
TEXT ·dotRowsQ6_KVNNI(SB), NOSPLIT, $0-64
	MOVQ    w+0(FP), R8
	MOVQ    rows+16(FP), BX
	MOVQ    dst+56(FP), R10
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VMOVDQU q6KHighBits<>(SB), Y12
	LEAQ    q6KScaleShuffle<>(SB), R9
	TESTQ   BX, BX
	JZ      rq6_Kvnnidone

rq6_Kvnnirow:
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R11
	MOVQ   blocks+24(FP), CX
	MOVQ   offsets+48(FP), R12
	VXORPS Y13, Y13, Y13
	TESTQ  CX, CX
	JZ     rq6_Kvnnistore

rq6_Kvnniblock:
	VPXOR          Y8, Y8, Y8
	VPXOR          Y9, Y9, Y9
	VBROADCASTI128 192(SI), Y10
	Q6_K_HALF_ROWS_VNNI(0(SI), 128(SI), 0(DI), 0(R12), 0(R9))
	Q6_K_HALF_ROWS_VNNI(64(SI), 160(SI), 128(DI), 128(R12), 64(R9))
	VPERM2I128     $0x20, Y9, Y8, Y0
	VPERM2I128     $0x31, Y9, Y8, Y1
	VPADDD         Y1, Y0, Y0
	MOVWLZX        208(SI), AX
	VMOVD          AX, X1
	VCVTPH2PS      X1, X1
	VMULSS         0(R11), X1, X1
	LANES_SCALE(Y13)
	ADDQ           $210, SI
	ADDQ           $256, DI
	ADDQ           $256, R12
	ADDQ           $4, R11
	DECQ           CX
	JNZ            rq6_Kvnniblock

rq6_Kvnnistore:
	VXORPS X11, X11, X11
	ADD_LANES(Y13, X13)
	VMOVSS X11, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   BX
	JNZ    rq6_Kvnnirow

rq6_Kvnnidone:
	VZEROUPPER
	RET

// The row kernels of the 32-value types Q5_0, Q4_1 and Q5_1 follow, with
// the float32 steps of dotBlocks (Q5_0) and dotOffsetBlocks (Q4_1, Q5_1).

// VPSHUFB control that copies byte j/8 of each 128-bit half to byte j,
// and the mask of bit j%8 in byte j: together they spread the 32 bits of
// a Q5_0 or Q5_1 qh word over 32 bytes.
DATA qhSpread<>+0(SB)/8, $0x0000000000000000
DATA qhSpread<>+8(SB)/8, $0x0101010101010101
DATA qhSpread<>+16(SB)/8, $0x0202020202020202
DATA qhSpread<>+24(SB)/8, $0x0303030303030303
GLOBL qhSpread<>(SB), RODATA|NOPTR, $32
DATA qhBit<>+0(SB)/8, $0x8040201008040201
DATA qhBit<>+8(SB)/8, $0x8040201008040201
DATA qhBit<>+16(SB)/8, $0x8040201008040201
DATA qhBit<>+24(SB)/8, $0x8040201008040201
GLOBL qhBit<>(SB), RODATA|NOPTR, $32

// 16 in every byte, the offset of Q5_0 values.
DATA q5_0Offset<>+0(SB)/8, $0x1010101010101010
DATA q5_0Offset<>+8(SB)/8, $0x1010101010101010
DATA q5_0Offset<>+16(SB)/8, $0x1010101010101010
DATA q5_0Offset<>+24(SB)/8, $0x1010101010101010
GLOBL q5_0Offset<>(SB), RODATA|NOPTR, $32

// NIBBLES_32 sets Y0 to the 32 values of a block's 16 qs bytes at qs:
// value j in the low nibble of byte j, value j+16 in its high nibble. Y15
// holds 0x0F bytes.
#define NIBBLES_32(qs) \
	VMOVDQU     qs, X0 \
	VPSRLW      $4, X0, X1 \
	VINSERTI128 $1, X1, Y0, Y0 \
	VPAND       Y15, Y0, Y0

// FIFTH_BIT sets bit 4 of byte j of Y0 where bit j of the qh word at qh
// is set. Y11 holds qhSpread, Y10 qhBit and Y12 0x10 bytes.
#define FIFTH_BIT(qh) \
	VPBROADCASTD qh, Y2 \
	VPSHUFB      Y11, Y2, Y2 \
	VPAND        Y10, Y2, Y2 \
	VPCMPEQB     Y10, Y2, Y2 \
	VPAND        Y12, Y2, Y2 \
	VPOR         Y2, Y0, Y0

// Q4_1_SUMS sets acc to eight int32 partial sums of Σ q·x over one Q4_1
// block: qs at qs, activation quants at x. Y13 holds 1 in every word.
#define Q4_1_SUMS(qs, x, acc) \
	NIBBLES_32(qs) \
	VPMADDUBSW x, Y0, Y0 \
	VPMADDWD   Y13, Y0, acc

// Q5_1_SUMS is Q4_1_SUMS for a Q5_1 block with its qh word at qh.
#define Q5_1_SUMS(qh, qs, x, acc) \
	NIBBLES_32(qs) \
	FIFTH_BIT(qh) \
	VPMADDUBSW x, Y0, Y0 \
	VPMADDWD   Y13, Y0, acc

// Q5_0_SUMS sets acc to eight int32 partial sums of Σ (q−16)·x over one
// Q5_0 block, as Σ q·x − Σ 16·x. Y9 holds 16 in every byte.
#define Q5_0_SUMS(qh, qs, x, acc) \
	NIBBLES_32(qs) \
	FIFTH_BIT(qh) \
	VPMADDUBSW x, Y0, Y0 \
	VPMADDUBSW x, Y9, Y1 \
	VPSUBW     Y1, Y0, Y0 \
	VPMADDWD   Y13, Y0, acc

// FOUR_SUMS sets X4 to the four block sums of the partial sums in Y4 … Y7,
// as float32.
#define FOUR_SUMS \
	VPHADDD      Y5, Y4, Y4 \
	VPHADDD      Y7, Y6, Y6 \
	VPHADDD      Y6, Y4, Y4 \
	VEXTRACTI128 $1, Y4, X5 \
	VPADDD       X5, X4, X4 \
	VCVTDQ2PS    X4, X4

// F16_FOUR sets the four floats of dst to the F16 values at off(SI),
// off+stride(SI), … for blocks of stride bytes.
#define F16_FOUR(off, stride, dst) \
	MOVWLZX   off(SI), AX \
	VMOVD     AX, dst \
	VPINSRW   $1, off+stride(SI), dst, dst \
	VPINSRW   $2, off+2*stride(SI), dst, dst \
	VPINSRW   $3, off+3*stride(SI), dst, dst \
	VCVTPH2PS dst, dst

// F16_ONE sets element 0 of dst to the F16 value at off(SI).
#define F16_ONE(off, dst) \
	MOVWLZX   off(SI), AX \
	VMOVD     AX, dst \
	VCVTPH2PS dst, dst

// ROWS_32_PROLOGUE loads the arguments and constants shared by the row
// kernels of the 32-value types.
#define ROWS_32_PROLOGUE \
	MOVQ    w+0(FP), R8 \
	MOVQ    rows+16(FP), BX \
	VMOVDQU lowNibble<>(SB), Y15 \
	VMOVDQU wordOnes<>(SB), Y13 \
	VMOVDQU q5KFifthBit<>(SB), Y12 \
	VMOVDQU qhSpread<>(SB), Y11 \
	VMOVDQU qhBit<>(SB), Y10 \
	VMOVDQU q5_0Offset<>(SB), Y9

// func dotRowsQ5_0(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, dst *float32)
TEXT ·dotRowsQ5_0(SB), NOSPLIT, $0-56
	ROWS_32_PROLOGUE
	MOVQ dst+48(FP), R10

rq5_0row:
	TESTQ  BX, BX
	JZ     rq5_0done
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R9
	MOVQ   blocks+24(FP), CX
	VXORPS X8, X8, X8

rq5_0four:
	CMPQ CX, $4
	JL   rq5_0tail
	Q5_0_SUMS(2(SI), 6(SI), 0(DI), Y4)
	Q5_0_SUMS(24(SI), 28(SI), 32(DI), Y5)
	Q5_0_SUMS(46(SI), 50(SI), 64(DI), Y6)
	Q5_0_SUMS(68(SI), 72(SI), 96(DI), Y7)
	FOUR_SUMS
	F16_FOUR(0, 22, X0)
	VMULPS    (R9), X0, X0
	VMULPS    X4, X0, X0
	ADD_FOUR_TO(X8)
	ADDQ      $88, SI
	ADDQ      $128, DI
	ADDQ      $16, R9
	SUBQ      $4, CX
	JMP       rq5_0four

rq5_0tail:
	TESTQ CX, CX
	JZ    rq5_0store
	Q5_0_SUMS(2(SI), 6(SI), 0(DI), Y4)
	HSUM(Y4, X4, X5)
	VCVTDQ2PS X4, X4
	F16_ONE(0, X0)
	VMULSS    (R9), X0, X0
	VMULSS    X4, X0, X0
	VADDSS    X0, X8, X8
	ADDQ      $22, SI
	ADDQ      $32, DI
	ADDQ      $4, R9
	DECQ      CX
	JMP       rq5_0tail

rq5_0store:
	VMOVSS X8, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   BX
	JMP    rq5_0row

rq5_0done:
	VZEROUPPER
	RET

// OFFSET_FOUR adds ((d·dx)·sumi + m·sx) of four blocks, with the sums in
// X4, to X8 in order, for blocks of stride bytes that start with d and m.
#define OFFSET_FOUR(stride) \
	F16_FOUR(0, stride, X0) \
	F16_FOUR(2, stride, X1) \
	VMULPS (R9), X0, X0 \
	VMULPS X4, X0, X0 \
	VMULPS (R11), X1, X1 \
	VADDPS X1, X0, X0 \
	ADD_FOUR_TO(X8)

// OFFSET_ONE is OFFSET_FOUR for one block.
#define OFFSET_ONE \
	HSUM(Y4, X4, X5) \
	VCVTDQ2PS X4, X4 \
	F16_ONE(0, X0) \
	F16_ONE(2, X1) \
	VMULSS (R9), X0, X0 \
	VMULSS X4, X0, X0 \
	VMULSS (R11), X1, X1 \
	VADDSS X1, X0, X0 \
	VADDSS X0, X8, X8

// func dotRowsQ4_1(w *byte, rowBytes, rows, blocks int, x *int8, xd, xs *float32, dst *float32)
TEXT ·dotRowsQ4_1(SB), NOSPLIT, $0-64
	ROWS_32_PROLOGUE
	MOVQ dst+56(FP), R10

rq4_1row:
	TESTQ  BX, BX
	JZ     rq4_1done
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R9
	MOVQ   xs+48(FP), R11
	MOVQ   blocks+24(FP), CX
	VXORPS X8, X8, X8

rq4_1four:
	CMPQ CX, $4
	JL   rq4_1tail
	Q4_1_SUMS(4(SI), 0(DI), Y4)
	Q4_1_SUMS(24(SI), 32(DI), Y5)
	Q4_1_SUMS(44(SI), 64(DI), Y6)
	Q4_1_SUMS(64(SI), 96(DI), Y7)
	FOUR_SUMS
	OFFSET_FOUR(20)
	ADDQ $80, SI
	ADDQ $128, DI
	ADDQ $16, R9
	ADDQ $16, R11
	SUBQ $4, CX
	JMP  rq4_1four

rq4_1tail:
	TESTQ CX, CX
	JZ    rq4_1store
	Q4_1_SUMS(4(SI), 0(DI), Y4)
	OFFSET_ONE
	ADDQ  $20, SI
	ADDQ  $32, DI
	ADDQ  $4, R9
	ADDQ  $4, R11
	DECQ  CX
	JMP   rq4_1tail

rq4_1store:
	VMOVSS X8, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   BX
	JMP    rq4_1row

rq4_1done:
	VZEROUPPER
	RET

// func dotRowsQ5_1(w *byte, rowBytes, rows, blocks int, x *int8, xd, xs *float32, dst *float32)
TEXT ·dotRowsQ5_1(SB), NOSPLIT, $0-64
	ROWS_32_PROLOGUE
	MOVQ dst+56(FP), R10

rq5_1row:
	TESTQ  BX, BX
	JZ     rq5_1done
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R9
	MOVQ   xs+48(FP), R11
	MOVQ   blocks+24(FP), CX
	VXORPS X8, X8, X8

rq5_1four:
	CMPQ CX, $4
	JL   rq5_1tail
	Q5_1_SUMS(4(SI), 8(SI), 0(DI), Y4)
	Q5_1_SUMS(28(SI), 32(SI), 32(DI), Y5)
	Q5_1_SUMS(52(SI), 56(SI), 64(DI), Y6)
	Q5_1_SUMS(76(SI), 80(SI), 96(DI), Y7)
	FOUR_SUMS
	OFFSET_FOUR(24)
	ADDQ $96, SI
	ADDQ $128, DI
	ADDQ $16, R9
	ADDQ $16, R11
	SUBQ $4, CX
	JMP  rq5_1four

rq5_1tail:
	TESTQ CX, CX
	JZ    rq5_1store
	Q5_1_SUMS(4(SI), 8(SI), 0(DI), Y4)
	OFFSET_ONE
	ADDQ  $24, SI
	ADDQ  $32, DI
	ADDQ  $4, R9
	ADDQ  $4, R11
	DECQ  CX
	JMP   rq5_1tail

rq5_1store:
	VMOVSS X8, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   BX
	JMP    rq5_1row

rq5_1done:
	VZEROUPPER
	RET

// func dotRowsQ4_0(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, dst *float32)
TEXT ·dotRowsQ4_0(SB), NOSPLIT, $0-56
	MOVQ    w+0(FP), R8
	MOVQ    rows+16(FP), BX
	MOVQ    dst+48(FP), R10
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU q4_0Offset<>(SB), Y12
	VMOVDQU wordOnes<>(SB), Y13

rq4_0row:
	TESTQ  BX, BX
	JZ     rq4_0done
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R9
	MOVQ   blocks+24(FP), CX
	VXORPS X8, X8, X8

rq4_0four:
	CMPQ CX, $4
	JL   rq4_0tail
	Q4_0_BLOCK(2(SI), 0(DI), Y4)
	Q4_0_BLOCK(20(SI), 32(DI), Y5)
	Q4_0_BLOCK(38(SI), 64(DI), Y6)
	Q4_0_BLOCK(56(SI), 96(DI), Y7)
	FOUR_SUMS

	// (sumi·d)·dx for the four blocks, then added one by one.
	F16_FOUR(0, 18, X0)
	VMULPS X0, X4, X4
	VMULPS (R9), X4, X0
	ADD_FOUR_TO(X8)
	ADDQ   $72, SI
	ADDQ   $128, DI
	ADDQ   $16, R9
	SUBQ   $4, CX
	JMP    rq4_0four

rq4_0tail:
	TESTQ CX, CX
	JZ    rq4_0store
	Q4_0_BLOCK(2(SI), 0(DI), Y4)
	HSUM(Y4, X4, X5)
	VCVTDQ2PS X4, X4
	F16_ONE(0, X0)
	VMULSS    X0, X4, X4
	VMULSS    (R9), X4, X0
	VADDSS    X0, X8, X8
	ADDQ      $18, SI
	ADDQ      $32, DI
	ADDQ      $4, R9
	DECQ      CX
	JMP       rq4_0tail

rq4_0store:
	VMOVSS X8, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   BX
	JMP    rq4_0row

rq4_0done:
	VZEROUPPER
	RET

// VPSHUFB controls that spread the 16 scale bytes of a Q2_K super-block,
// present in both 128-bit halves, into words: control k (32 bytes at
// offset 32k) puts scale 2k in every word of the low half and scale 2k+1
// in every word of the high half, the 16-value sub-blocks of one 32-byte
// group of values.
DATA q2KScaleShuffle<>+0(SB)/8, $0x8000800080008000
DATA q2KScaleShuffle<>+8(SB)/8, $0x8000800080008000
DATA q2KScaleShuffle<>+16(SB)/8, $0x8001800180018001
DATA q2KScaleShuffle<>+24(SB)/8, $0x8001800180018001
DATA q2KScaleShuffle<>+32(SB)/8, $0x8002800280028002
DATA q2KScaleShuffle<>+40(SB)/8, $0x8002800280028002
DATA q2KScaleShuffle<>+48(SB)/8, $0x8003800380038003
DATA q2KScaleShuffle<>+56(SB)/8, $0x8003800380038003
DATA q2KScaleShuffle<>+64(SB)/8, $0x8004800480048004
DATA q2KScaleShuffle<>+72(SB)/8, $0x8004800480048004
DATA q2KScaleShuffle<>+80(SB)/8, $0x8005800580058005
DATA q2KScaleShuffle<>+88(SB)/8, $0x8005800580058005
DATA q2KScaleShuffle<>+96(SB)/8, $0x8006800680068006
DATA q2KScaleShuffle<>+104(SB)/8, $0x8006800680068006
DATA q2KScaleShuffle<>+112(SB)/8, $0x8007800780078007
DATA q2KScaleShuffle<>+120(SB)/8, $0x8007800780078007
DATA q2KScaleShuffle<>+128(SB)/8, $0x8008800880088008
DATA q2KScaleShuffle<>+136(SB)/8, $0x8008800880088008
DATA q2KScaleShuffle<>+144(SB)/8, $0x8009800980098009
DATA q2KScaleShuffle<>+152(SB)/8, $0x8009800980098009
DATA q2KScaleShuffle<>+160(SB)/8, $0x800a800a800a800a
DATA q2KScaleShuffle<>+168(SB)/8, $0x800a800a800a800a
DATA q2KScaleShuffle<>+176(SB)/8, $0x800b800b800b800b
DATA q2KScaleShuffle<>+184(SB)/8, $0x800b800b800b800b
DATA q2KScaleShuffle<>+192(SB)/8, $0x800c800c800c800c
DATA q2KScaleShuffle<>+200(SB)/8, $0x800c800c800c800c
DATA q2KScaleShuffle<>+208(SB)/8, $0x800d800d800d800d
DATA q2KScaleShuffle<>+216(SB)/8, $0x800d800d800d800d
DATA q2KScaleShuffle<>+224(SB)/8, $0x800e800e800e800e
DATA q2KScaleShuffle<>+232(SB)/8, $0x800e800e800e800e
DATA q2KScaleShuffle<>+240(SB)/8, $0x800f800f800f800f
DATA q2KScaleShuffle<>+248(SB)/8, $0x800f800f800f800f
GLOBL q2KScaleShuffle<>(SB), RODATA|NOPTR, $256

// 0x03 in every byte, to take one 2-bit Q2_K value.
DATA twoBits<>+0(SB)/8, $0x0303030303030303
DATA twoBits<>+8(SB)/8, $0x0303030303030303
DATA twoBits<>+16(SB)/8, $0x0303030303030303
DATA twoBits<>+24(SB)/8, $0x0303030303030303
GLOBL twoBits<>(SB), RODATA|NOPTR, $32

// Q2_K_GROUP adds to the int32 sums in Y12 Σ sc·q·x over the 32 values
// of bit pair p of the qs half in Y2: values 32p … 32p+31 of the half,
// sub-blocks 2k and 2k+1, activation quants (in laneInterleave order) at
// x. Y13 holds the 16 scale bytes, masked to their low nibbles, in both
// halves, and Y14 laneShuffle, Y15 twoBits.
#define Q2_K_GROUP(shift, x, k) \
	VPSRLW     $shift, Y2, Y0 \
	VPAND      Y15, Y0, Y0 \
	VPSHUFB    Y14, Y0, Y0 \
	VPMADDUBSW x, Y0, Y0 \
	VPSHUFB    32*k(R9), Y13, Y1 \
	VPMADDWD   Y1, Y0, Y0 \
	VPADDD     Y0, Y12, Y12

// func dotRowsQ2_K(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, bsums *int16, dst *float32)
TEXT ·dotRowsQ2_K(SB), NOSPLIT, $0-64
	MOVQ    w+0(FP), R8
	MOVQ    rows+16(FP), BX
	MOVQ    dst+56(FP), R10
	VMOVDQU twoBits<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	LEAQ    q2KScaleShuffle<>(SB), R9

rq2_Krow:
	TESTQ  BX, BX
	JZ     rq2_Kdone
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R11
	MOVQ   bsums+48(FP), R12
	MOVQ   blocks+24(FP), CX
	VXORPS X8, X8, X8

rq2_Kblock:
	TESTQ CX, CX
	JZ    rq2_Kstore

	// Y13 = scales & 0x0F in both halves; Y3 = the 16 minimums as words.
	VBROADCASTI128 0(SI), Y3
	VPSRLW         $4, Y3, Y13
	VPAND          lowNibble<>(SB), Y13, Y4
	VPMOVZXBW      X4, Y4
	VPAND          lowNibble<>(SB), Y3, Y13
	VPXOR          Y12, Y12, Y12

	VMOVDQU 16(SI), Y2
	Q2_K_GROUP(0, 0(DI), 0)
	Q2_K_GROUP(2, 32(DI), 1)
	Q2_K_GROUP(4, 64(DI), 2)
	Q2_K_GROUP(6, 96(DI), 3)
	VMOVDQU 48(SI), Y2
	Q2_K_GROUP(0, 128(DI), 4)
	Q2_K_GROUP(2, 160(DI), 5)
	Q2_K_GROUP(4, 192(DI), 6)
	Q2_K_GROUP(6, 224(DI), 7)

	// isum in X12 and Σ bsums·min in X4, as float32.
	HSUM(Y12, X12, X0)
	VPMADDWD (R12), Y4, Y4
	HSUM(Y4, X4, X0)
	VCVTDQ2PS X12, X12
	VCVTDQ2PS X4, X4

	// sum += (dx·d)·isum − (dx·dmin)·Σ bsums·min, with X7 = [d, dmin].
	VMOVD     80(SI), X7
	VCVTPH2PS X7, X7
	VMOVSS    0(R11), X5
	VMULSS    X7, X5, X0
	VMULSS    X12, X0, X0
	VPSHUFD   $0x55, X7, X1
	VMULSS    X1, X5, X1
	VMULSS    X4, X1, X1
	VSUBSS    X1, X0, X0
	VADDSS    X0, X8, X8

	ADDQ $84, SI
	ADDQ $256, DI
	ADDQ $4, R11
	ADDQ $32, R12
	DECQ CX
	JMP  rq2_Kblock

rq2_Kstore:
	VMOVSS X8, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   BX
	JMP    rq2_Krow

rq2_Kdone:
	VZEROUPPER
	RET

// 4 in every byte: the mask of a Q3_K value's high bit, placed at bit 2,
// and the offset of Q3_K values.
DATA fourBytes<>+0(SB)/8, $0x0404040404040404
DATA fourBytes<>+8(SB)/8, $0x0404040404040404
DATA fourBytes<>+16(SB)/8, $0x0404040404040404
DATA fourBytes<>+24(SB)/8, $0x0404040404040404
GLOBL fourBytes<>(SB), RODATA|NOPTR, $32

// Q3_K_VALUE sets dst to the 32 values u = q + 4·h of bit pair p of the
// qs half in Y1, with q = (qs >> qshift) & 3 and h the hmask bit of the
// pair moved to bit 2 by hop $hshift. The value ggml uses is u − 4.
#define Q3_K_VALUE(qshift, hop, hshift, dst) \
	VPSRLW $qshift, Y1, dst \
	VPAND  twoBits<>(SB), dst, dst \
	hop    $hshift, 0(SI), Y3 \
	VPAND  fourBytes<>(SB), Y3, Y3 \
	VPOR   Y3, dst, dst

// Q3_K_LANES adds the lane sums of one 128-value half from the values in
// Y4 … Y7, as Q6_K_HALF does, with Y12 holding 4 in every byte for the
// offset and Y10 the signed scales.
#define Q3_K_LANES(x, ctrl) \
	Q6_K_PRODUCT(Y4, x) \
	Q6_K_PRODUCT(Y5, 32+x) \
	Q6_K_PRODUCT(Y6, 64+x) \
	Q6_K_PRODUCT(Y7, 96+x) \
	VPSHUFB ctrl, Y10, Y1 \
	VPSRAW  $8, Y1, Y1 \
	LANES_ADD(Y4, Y5, Y1) \
	VPSHUFB 32+ctrl, Y10, Y1 \
	VPSRAW  $8, Y1, Y1 \
	LANES_ADD(Y6, Y7, Y1)

// Q3_K_SCALES sets both 128-bit halves of Y10 to the 16 scales of the
// Q3_K super-block at SI, q3KScale − 32 as signed bytes. It uses AX, DX,
// R12 and R13.
#define Q3_K_SCALES \
	MOVQ        96(SI), AX \
	MOVQ        $0x0f0f0f0f0f0f0f0f, R13 \
	MOVQ        AX, DX \
	SHRQ        $4, DX \
	ANDQ        R13, AX \
	ANDQ        R13, DX \
	MOVL        104(SI), R12 \
	MOVL        R12, R13 \
	ANDL        $0x03030303, R13 \
	SHLL        $4, R13 \
	ORQ         R13, AX \
	MOVL        R12, R13 \
	SHRL        $2, R13 \
	ANDL        $0x03030303, R13 \
	SHLQ        $36, R13 \
	ORQ         R13, AX \
	MOVL        R12, R13 \
	SHRL        $4, R13 \
	ANDL        $0x03030303, R13 \
	SHLL        $4, R13 \
	ORQ         R13, DX \
	MOVL        R12, R13 \
	SHRL        $6, R13 \
	ANDL        $0x03030303, R13 \
	SHLQ        $36, R13 \
	ORQ         R13, DX \
	VMOVQ       AX, X10 \
	VPINSRQ     $1, DX, X10, X10 \
	VPSUBB      q6KOffset<>(SB), X10, X10 \
	VINSERTI128 $1, X10, Y10, Y10

// func dotRowsQ3_K(w *byte, rowBytes, rows, blocks int, x *int8, xd *float32, dst *float32)
TEXT ·dotRowsQ3_K(SB), NOSPLIT, $0-56
	MOVQ    w+0(FP), R8
	MOVQ    rows+16(FP), BX
	MOVQ    dst+48(FP), R10
	VMOVDQU laneShuffle<>(SB), Y14
	VMOVDQU fourBytes<>(SB), Y12
	LEAQ    q6KScaleShuffle<>(SB), R9

rq3_Krow:
	TESTQ  BX, BX
	JZ     rq3_Kdone
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+40(FP), R11
	MOVQ   blocks+24(FP), CX
	VXORPS Y13, Y13, Y13

rq3_Kblock:
	TESTQ CX, CX
	JZ    rq3_Kstore
	Q3_K_SCALES
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9

	// Half 0: hmask bits 0 … 3.
	VMOVDQU 32(SI), Y1
	Q3_K_VALUE(0, VPSLLW, 2, Y4)
	Q3_K_VALUE(2, VPSLLW, 1, Y5)
	Q3_K_VALUE(4, VPSRLW, 0, Y6)
	Q3_K_VALUE(6, VPSRLW, 1, Y7)
	Q3_K_LANES(0(DI), 0(R9))

	// Half 1: hmask bits 4 … 7.
	VMOVDQU 64(SI), Y1
	Q3_K_VALUE(0, VPSRLW, 2, Y4)
	Q3_K_VALUE(2, VPSRLW, 3, Y5)
	Q3_K_VALUE(4, VPSRLW, 4, Y6)
	Q3_K_VALUE(6, VPSRLW, 5, Y7)
	Q3_K_LANES(128(DI), 64(R9))

	VPERM2I128 $0x20, Y9, Y8, Y0
	VPERM2I128 $0x31, Y9, Y8, Y1
	VPADDD     Y1, Y0, Y0
	MOVWLZX    108(SI), AX
	VMOVD      AX, X1
	VCVTPH2PS  X1, X1
	VMULSS     0(R11), X1, X1
	LANES_SCALE(Y13)
	ADDQ       $110, SI
	ADDQ       $256, DI
	ADDQ       $4, R11
	DECQ       CX
	JMP        rq3_Kblock

rq3_Kstore:
	VXORPS X11, X11, X11
	ADD_LANES(Y13, X13)
	VMOVSS X11, (R10)
	ADDQ   $4, R10
	ADDQ   rowBytes+8(FP), R8
	DECQ   BX
	JMP    rq3_Krow

rq3_Kdone:
	VZEROUPPER
	RET

// Q8_0_QUAD_ROW sets acc to the partial sums of one activation row at x
// times the weight block whose |w| is in Y1 and w in Y0, as in
// Q8_0_SIGNED_BLOCK. Y15 holds 1 in every word.
#define Q8_0_QUAD_ROW(x, acc) \
	VMOVDQU    x, Y2 \
	VPSIGNB    Y0, Y2, Y2 \
	VPMADDUBSW Y2, Y1, Y2 \
	VPMADDWD   Y15, Y2, acc

// func dotQ8_0Quad(w *byte, blocks int, x *int8, xStride int, dxT *float32, sums *[4]float32)
//
// Four activation rows share each float32 instruction: block b's products
// (d·dx)·sumi of the four rows are one vector, added to the four running
// sums in order, which are the steps of dotQ8_0 for each row.
TEXT ·dotQ8_0Quad(SB), NOSPLIT, $0-48
	MOVQ    w+0(FP), SI
	MOVQ    blocks+8(FP), CX
	MOVQ    x+16(FP), DI
	MOVQ    xStride+24(FP), DX
	MOVQ    dxT+32(FP), R9
	MOVQ    sums+40(FP), R10
	LEAQ    (DI)(DX*2), R11
	VMOVDQU wordOnes<>(SB), Y15
	VXORPS  X14, X14, X14
	TESTQ   CX, CX
	JZ      dq8_0quaddone

dq8_0quadloop:
	VMOVDQU 2(SI), Y0
	VPABSB  Y0, Y1
	Q8_0_QUAD_ROW((DI), Y4)
	Q8_0_QUAD_ROW((DI)(DX*1), Y5)
	Q8_0_QUAD_ROW((R11), Y6)
	Q8_0_QUAD_ROW((R11)(DX*1), Y7)
	VPHADDD      Y5, Y4, Y4
	VPHADDD      Y7, Y6, Y6
	VPHADDD      Y6, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPADDD       X5, X4, X4
	VCVTDQ2PS    X4, X4
	MOVWLZX      (SI), AX
	VMOVD        AX, X0
	VCVTPH2PS    X0, X0
	VBROADCASTSS X0, X0
	VMULPS       (R9), X0, X0
	VMULPS       X4, X0, X0
	VADDPS       X0, X14, X14
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $32, R11
	ADDQ         $16, R9
	DECQ         CX
	JNZ          dq8_0quadloop

dq8_0quaddone:
	VMOVUPS X14, (R10)
	VZEROUPPER
	RET

// The four-row Q6_K kernel below unpacks each weight super-block once,
// into its stack frame, and multiplies it by four activation rows. Each
// row repeats the float32 steps of dotRowsQ6_K, so the results are those
// of dotQ6_K.

// Q6_K_UNPACK_HALF unpacks one 128-value half of the super-block at SI,
// ql at ql and qh at qh, into lane-shuffled values at u … u+96, and
// stores the sign-extended scale words of the scale controls ctrl0 and
// ctrl1 from the scale bytes in Y9 at sc and sc+32. Y15 holds lowNibble,
// Y14 laneShuffle and Y8 q6KHighBits.
#define Q6_K_UNPACK_HALF(ql, qh, ctrl0, ctrl1, u, sc) \
	VMOVDQU qh, Y0 \
	VMOVDQU ql, Y1 \
	VMOVDQU 32+ql, Y2 \
	VPSLLW  $4, Y0, Y3 \
	VPAND   Y8, Y3, Y3 \
	VPAND   Y15, Y1, Y4 \
	VPOR    Y3, Y4, Y4 \
	VPSLLW  $2, Y0, Y3 \
	VPAND   Y8, Y3, Y3 \
	VPAND   Y15, Y2, Y5 \
	VPOR    Y3, Y5, Y5 \
	VPAND   Y8, Y0, Y3 \
	VPSRLW  $4, Y1, Y6 \
	VPAND   Y15, Y6, Y6 \
	VPOR    Y3, Y6, Y6 \
	VPSRLW  $2, Y0, Y3 \
	VPAND   Y8, Y3, Y3 \
	VPSRLW  $4, Y2, Y7 \
	VPAND   Y15, Y7, Y7 \
	VPOR    Y3, Y7, Y7 \
	VPSHUFB Y14, Y4, Y4 \
	VPSHUFB Y14, Y5, Y5 \
	VPSHUFB Y14, Y6, Y6 \
	VPSHUFB Y14, Y7, Y7 \
	VMOVDQU Y4, u \
	VMOVDQU Y5, 32+u \
	VMOVDQU Y6, 64+u \
	VMOVDQU Y7, 96+u \
	VPSHUFB ctrl0, Y9, Y1 \
	VPSRAW  $8, Y1, Y1 \
	VMOVDQU Y1, sc \
	VPSHUFB ctrl1, Y9, Y1 \
	VPSRAW  $8, Y1, Y1 \
	VMOVDQU Y1, 32+sc

// Q6_K_QUAD_PRODUCT sets v to the words (u−32)·x of the unpacked values
// at u, the activation quants at x and their offsets 32·x at xoff.
#define Q6_K_QUAD_PRODUCT(u, x, xoff, v) \
	VMOVDQU    u, v \
	VPMADDUBSW x, v, v \
	VPSUBW     xoff, v, v

// Q6_K_QUAD_HALF adds the lane sums of one unpacked half, values at u and
// scale words at sc, with the activation quants at x and offsets at xoff,
// to Y8 and Y9.
#define Q6_K_QUAD_HALF(u, sc, x, xoff) \
	Q6_K_QUAD_PRODUCT(u, x, xoff, Y4) \
	Q6_K_QUAD_PRODUCT(32+u, 32+x, 32+xoff, Y5) \
	Q6_K_QUAD_PRODUCT(64+u, 64+x, 64+xoff, Y6) \
	Q6_K_QUAD_PRODUCT(96+u, 96+x, 96+xoff, Y7) \
	LANES_ADD(Y4, Y5, sc) \
	LANES_ADD(Y6, Y7, 32+sc)

// Q6_K_QUAD_ROW adds (d·dx)·lane for the super-block unpacked at u0 and
// u1 (its two halves), with scale words at sc0 and sc1, to the float lane
// sums acc of the activation row whose quants are at AX, offsets at DX
// and scale at R13, then moves AX, DX and R13 to the next row. X15 holds
// the weight scale d.
#define Q6_K_QUAD_ROW(acc, u0, sc0, u1, sc1) \
	VPXOR        Y8, Y8, Y8 \
	VPXOR        Y9, Y9, Y9 \
	Q6_K_QUAD_HALF(u0, sc0, 0(AX), 0(DX)) \
	Q6_K_QUAD_HALF(u1, sc1, 128(AX), 128(DX)) \
	VPERM2I128   $0x20, Y9, Y8, Y0 \
	VPERM2I128   $0x31, Y9, Y8, Y1 \
	VPADDD       Y1, Y0, Y0 \
	VMULSS       0(R13), X15, X1 \
	LANES_SCALE(acc) \
	ADDQ         BX, AX \
	ADDQ         BX, DX \
	ADDQ         R14, R13

// ADD_LANES_STORE adds the eight float lane sums of acc in order, from
// zero, and stores the sum at dst.
#define ADD_LANES_STORE(acc, acclow, dst) \
	VXORPS       X2, X2, X2 \
	VMOVAPS      acclow, X0 \
	ADD_FOUR_TO(X2) \
	VEXTRACTF128 $1, acc, X0 \
	ADD_FOUR_TO(X2) \
	VMOVSS       X2, dst

// func dotRowsQ6_KQuad(w *byte, rowBytes, rows, blocks int, x *int8, xStride int, xd *float32, offsets *int16, dst *float32, dstStride int)
TEXT ·dotRowsQ6_KQuad(SB), NOSPLIT, $384-80
	MOVQ  w+0(FP), R8
	MOVQ  rows+16(FP), R9
	MOVQ  dst+64(FP), R10
	MOVQ  xStride+40(FP), BX
	MOVQ  blocks+24(FP), R14
	SHLQ  $2, R14
	TESTQ R9, R9
	JZ    rq6_Kquaddone

rq6_Kquadrow:
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	MOVQ   xd+48(FP), R11
	MOVQ   offsets+56(FP), R12
	MOVQ   blocks+24(FP), CX
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	TESTQ  CX, CX
	JZ     rq6_Kquadstore

rq6_Kquadblock:
	VMOVDQU        lowNibble<>(SB), Y15
	VMOVDQU        laneShuffle<>(SB), Y14
	VMOVDQU        q6KHighBits<>(SB), Y8
	VBROADCASTI128 192(SI), Y9
	Q6_K_UNPACK_HALF(0(SI), 128(SI), q6KScaleShuffle<>+0(SB), q6KScaleShuffle<>+32(SB), 0(SP), 256(SP))
	Q6_K_UNPACK_HALF(64(SI), 160(SI), q6KScaleShuffle<>+64(SB), q6KScaleShuffle<>+96(SB), 128(SP), 320(SP))
	MOVWLZX        208(SI), AX
	VMOVD          AX, X15
	VCVTPH2PS      X15, X15
	MOVQ           DI, AX
	MOVQ           R12, DX
	MOVQ           R11, R13
	Q6_K_QUAD_ROW(Y10, 0(SP), 256(SP), 128(SP), 320(SP))
	Q6_K_QUAD_ROW(Y11, 0(SP), 256(SP), 128(SP), 320(SP))
	Q6_K_QUAD_ROW(Y12, 0(SP), 256(SP), 128(SP), 320(SP))
	Q6_K_QUAD_ROW(Y13, 0(SP), 256(SP), 128(SP), 320(SP))
	ADDQ           $210, SI
	ADDQ           $256, DI
	ADDQ           $256, R12
	ADDQ           $4, R11
	DECQ           CX
	JNZ            rq6_Kquadblock

rq6_Kquadstore:
	MOVQ R10, AX
	MOVQ dstStride+72(FP), DX
	ADD_LANES_STORE(Y10, X10, (AX))
	ADDQ DX, AX
	ADD_LANES_STORE(Y11, X11, (AX))
	ADDQ DX, AX
	ADD_LANES_STORE(Y12, X12, (AX))
	ADDQ DX, AX
	ADD_LANES_STORE(Y13, X13, (AX))
	ADDQ $4, R10
	ADDQ rowBytes+8(FP), R8
	DECQ R9
	JNZ  rq6_Kquadrow

rq6_Kquaddone:
	VZEROUPPER
	RET

// The four-row Q4_K kernel below is dotQ4_KPair for four activation rows,
// with the weight values of each group unpacked once for all four and the
// lane sums added with VPDPWSSD. It keeps the integer lane sums of the
// rows in Y16 … Y23, so it needs AVX512VL and AVX512BW besides
// AVX512_VNNI. Each row repeats the float32 steps of dotQ4_K.

// Q4_K_QUAD_ROW adds the lane sums of the unpacked values in Y0 and Y1,
// times the scale words in Y6, with the activation quants at xlo and xhi,
// to acclo (lanes 0–3 of each 128-bit half) and acchi (lanes 4–7).
#define Q4_K_QUAD_ROW(xlo, xhi, acclo, acchi) \
	VPMADDUBSW xlo, Y0, Y4 \
	VPMADDUBSW xhi, Y1, Y5 \
	VPUNPCKLWD Y5, Y4, Y2 \
	VPUNPCKHWD Y5, Y4, Y3 \
	VPDPWSSD   Y6, Y2, acclo \
	VPDPWSSD   Y6, Y3, acchi

// Q4_K_QUAD_GROUP takes group g of the super-block at SI: qs bytes at
// qs(SI), activation quants at xlo and xhi of each row, scale pair at
// scale(R8). Rows 0 … 3 start at DI, DI+BX, AX and AX+BX.
#define Q4_K_QUAD_GROUP(qs, xlo, xhi, scale) \
	K_NIBBLES(qs(SI)) \
	VPSHUFB      Y14, Y0, Y0 \
	VPSHUFB      Y14, Y1, Y1 \
	VPBROADCASTD scale(R8), Y6 \
	Q4_K_QUAD_ROW(xlo(DI), xhi(DI), Y16, Y17) \
	Q4_K_QUAD_ROW(xlo(DI)(BX*1), xhi(DI)(BX*1), Y18, Y19) \
	Q4_K_QUAD_ROW(xlo(AX), xhi(AX), Y20, Y21) \
	Q4_K_QUAD_ROW(xlo(AX)(BX*1), xhi(AX)(BX*1), Y22, Y23)

// Q4_K_QUAD_LANES adds (d·dx)·lane to the float lane sums acc of one row,
// with its integer lanes in acclo and acchi (X forms acclox and acchix),
// [d, dmin] in X7 and dx at xd.
#define Q4_K_QUAD_LANES(acclo, acclox, acchi, acchix, xd, acc) \
	VEXTRACTI32X4 $1, acclo, X2 \
	VPADDD        acclox, X2, X2 \
	VEXTRACTI32X4 $1, acchi, X3 \
	VPADDD        acchix, X3, X3 \
	VINSERTI128   $1, X3, Y2, Y0 \
	VMULSS        xd, X7, X1 \
	LANES_SCALE(acc)

// Q4_K_QUAD_STORE adds the eight float lane sums of acc in order to
// element shuf of the running sums X12, and stores the result at dst.
#define Q4_K_QUAD_STORE(acc, acclow, shuf, dst) \
	VPSHUFD      shuf, X12, X2 \
	VMOVAPS      acclow, X0 \
	ADD_FOUR_TO(X2) \
	VEXTRACTF128 $1, acc, X0 \
	ADD_FOUR_TO(X2) \
	VMOVSS       X2, dst

// func dotQ4_KQuadVNNI(w *byte, blocks int, scales *uint32, mins *int16, x *int8, xStride int, xd *float32, bsums *int16, quads int, dst *float32, dstStride int)
//
// Each group of four activation rows runs from dq4_Kquadgroup, which
// loads the pointers from the arguments. The end of the group moves x,
// xd, bsums and dst on to the next group in the argument slots.
TEXT ·dotQ4_KQuadVNNI(SB), NOSPLIT, $0-88
	CMPQ    quads+64(FP), $0
	JLE     dq4_Kquadend
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14

dq4_Kquadgroup:
	MOVQ    w+0(FP), SI
	MOVQ    blocks+8(FP), CX
	MOVQ    scales+16(FP), R8
	MOVQ    mins+24(FP), R13
	MOVQ    x+32(FP), DI
	MOVQ    xStride+40(FP), BX
	MOVQ    xd+48(FP), R9
	MOVQ    bsums+56(FP), R11
	MOVQ    CX, R12
	SHLQ    $2, R12
	MOVQ    CX, R14
	SHLQ    $5, R14
	LEAQ    (DI)(BX*2), AX
	LEAQ    (R9)(R12*2), R10
	LEAQ    (R11)(R14*2), DX
	VPXOR   Y8, Y8, Y8
	VPXOR   Y9, Y9, Y9
	VPXOR   Y10, Y10, Y10
	VPXOR   Y11, Y11, Y11
	VPXOR   Y12, Y12, Y12
	TESTQ   CX, CX
	JZ      dq4_Kquadstore

dq4_Kquadloop:
	VPXORD Y16, Y16, Y16
	VPXORD Y17, Y17, Y17
	VPXORD Y18, Y18, Y18
	VPXORD Y19, Y19, Y19
	VPXORD Y20, Y20, Y20
	VPXORD Y21, Y21, Y21
	VPXORD Y22, Y22, Y22
	VPXORD Y23, Y23, Y23
	Q4_K_QUAD_GROUP(16, 0, 32, 0)
	Q4_K_QUAD_GROUP(48, 64, 96, 4)
	Q4_K_QUAD_GROUP(80, 128, 160, 8)
	Q4_K_QUAD_GROUP(112, 192, 224, 12)

	// Float lane sums += (d·dx)·lane for each row, with X7 = [d, dmin].
	VMOVD     0(SI), X7
	VCVTPH2PS X7, X7
	Q4_K_QUAD_LANES(Y16, X16, Y17, X17, (R9), Y8)
	Q4_K_QUAD_LANES(Y18, X18, Y19, X19, (R9)(R12*1), Y9)
	Q4_K_QUAD_LANES(Y20, X20, Y21, X21, (R10), Y10)
	Q4_K_QUAD_LANES(Y22, X22, Y23, X23, (R10)(R12*1), Y11)

	// Σ bsums·min of rows 0 … 3 in elements 0 … 3 of X2.
	VMOVDQU      (R11), Y2
	VPMADDWD     (R13), Y2, Y2
	VMOVDQU      (R11)(R14*1), Y3
	VPMADDWD     (R13), Y3, Y3
	VMOVDQU      (DX), Y4
	VPMADDWD     (R13), Y4, Y4
	VMOVDQU      (DX)(R14*1), Y5
	VPMADDWD     (R13), Y5, Y5
	VPHADDD      Y3, Y2, Y2
	VPHADDD      Y5, Y4, Y4
	VPHADDD      Y4, Y2, Y2
	VEXTRACTI128 $1, Y2, X3
	VPADDD       X3, X2, X2
	VCVTDQ2PS    X2, X2

	// sums −= (dmin·dx)·Σ bsums·min, for row r in element r of X12.
	VMOVSS    (R9), X5
	VMOVSS    (R9)(R12*1), X3
	VUNPCKLPS X3, X5, X5
	VMOVSS    (R10), X4
	VMOVSS    (R10)(R12*1), X3
	VUNPCKLPS X3, X4, X4
	VMOVLHPS  X4, X5, X5
	VPSHUFD   $0x55, X7, X4
	VMULPS    X5, X4, X4
	VMULPS    X2, X4, X4
	VSUBPS    X4, X12, X12

	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $256, AX
	ADDQ $16, R8
	ADDQ $32, R13
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $32, R11
	ADDQ $32, DX
	DECQ CX
	JNZ  dq4_Kquadloop

dq4_Kquadstore:
	MOVQ dst+72(FP), SI
	MOVQ dstStride+80(FP), DI
	Q4_K_QUAD_STORE(Y8, X8, $0x00, (SI))
	ADDQ DI, SI
	Q4_K_QUAD_STORE(Y9, X9, $0x55, (SI))
	ADDQ DI, SI
	Q4_K_QUAD_STORE(Y10, X10, $0xaa, (SI))
	ADDQ DI, SI
	Q4_K_QUAD_STORE(Y11, X11, $0xff, (SI))
	ADDQ DI, SI
	MOVQ SI, dst+72(FP)

	// The next group: x += 4·xStride, xd += 4·blocks floats and
	// bsums += 4·16·blocks words.
	MOVQ xStride+40(FP), AX
	SHLQ $2, AX
	ADDQ AX, x+32(FP)
	MOVQ blocks+8(FP), AX
	SHLQ $4, AX
	ADDQ AX, xd+48(FP)
	SHLQ $3, AX
	ADDQ AX, bsums+56(FP)
	DECQ quads+64(FP)
	JNZ  dq4_Kquadgroup
	VZEROUPPER

dq4_Kquadend:
	RET

// dotRowsQ6_KQuadVNNI below is dotRowsQ6_KQuad that keeps each unpacked
// half of a super-block in registers for the four activation rows, with
// the rows' integer lane sums in Y16 … Y23 and VPDPWSSD for the scaled
// lane sums. It needs AVX512_VNNI, AVX512VL and AVX512BW.

// Q6_K_VNNI_UNPACK unpacks one 128-value half of the super-block, ql at
// ql and qh at qh, into lane-shuffled values in Y4 … Y7, and sets Y24 and
// Y25 to the scale words of the scale controls ctrl0 and ctrl1, from the
// scale bytes in Y9. Y15 holds lowNibble, Y14 laneShuffle and Y8
// q6KHighBits.
#define Q6_K_VNNI_UNPACK(ql, qh, ctrl0, ctrl1) \
	VMOVDQU qh, Y0 \
	VMOVDQU ql, Y1 \
	VMOVDQU 32+ql, Y2 \
	VPSLLW  $4, Y0, Y3 \
	VPAND   Y8, Y3, Y3 \
	VPAND   Y15, Y1, Y4 \
	VPOR    Y3, Y4, Y4 \
	VPSLLW  $2, Y0, Y3 \
	VPAND   Y8, Y3, Y3 \
	VPAND   Y15, Y2, Y5 \
	VPOR    Y3, Y5, Y5 \
	VPAND   Y8, Y0, Y3 \
	VPSRLW  $4, Y1, Y6 \
	VPAND   Y15, Y6, Y6 \
	VPOR    Y3, Y6, Y6 \
	VPSRLW  $2, Y0, Y3 \
	VPAND   Y8, Y3, Y3 \
	VPSRLW  $4, Y2, Y7 \
	VPAND   Y15, Y7, Y7 \
	VPOR    Y3, Y7, Y7 \
	VPSHUFB Y14, Y4, Y4 \
	VPSHUFB Y14, Y5, Y5 \
	VPSHUFB Y14, Y6, Y6 \
	VPSHUFB Y14, Y7, Y7 \
	VPSHUFB ctrl0, Y9, Y24 \
	VPSRAW  $8, Y24, Y24 \
	VPSHUFB ctrl1, Y9, Y25 \
	VPSRAW  $8, Y25, Y25

// Q6_K_VNNI_PAIR adds the lane sums of the unpacked values a and b, with
// the activation quants at xa and xb and their offsets at oa and ob,
// times the scale words sc, to acclo and acchi.
#define Q6_K_VNNI_PAIR(a, b, xa, xb, oa, ob, sc, acclo, acchi) \
	VPMADDUBSW xa, a, Y26 \
	VPSUBW     oa, Y26, Y26 \
	VPMADDUBSW xb, b, Y27 \
	VPSUBW     ob, Y27, Y27 \
	VPUNPCKLWD Y27, Y26, Y28 \
	VPUNPCKHWD Y27, Y26, Y29 \
	VPDPWSSD   sc, Y28, acclo \
	VPDPWSSD   sc, Y29, acchi

// Q6_K_VNNI_ROW adds the lane sums of the unpacked half in Y4 … Y7, with
// the activation quants at x and offsets at xoff (x+o and xoff+o for
// o = 0, 32, 64, 96), to acclo and acchi.
#define Q6_K_VNNI_ROW(x0, x32, x64, x96, o0, o32, o64, o96, acclo, acchi) \
	Q6_K_VNNI_PAIR(Y4, Y5, x0, x32, o0, o32, Y24, acclo, acchi) \
	Q6_K_VNNI_PAIR(Y6, Y7, x64, x96, o64, o96, Y25, acclo, acchi)

// Q6_K_VNNI_HALF adds the lane sums of one unpacked half, at byte offset
// h of the activation quants and offsets, for rows 0 … 3: quants at DI,
// DI+BX, AX and AX+BX, offsets at R12, R12+BX, DX and DX+BX.
#define Q6_K_VNNI_HALF(h0, h32, h64, h96) \
	Q6_K_VNNI_ROW(h0(DI), h32(DI), h64(DI), h96(DI), h0(R12), h32(R12), h64(R12), h96(R12), Y16, Y17) \
	Q6_K_VNNI_ROW(h0(DI)(BX*1), h32(DI)(BX*1), h64(DI)(BX*1), h96(DI)(BX*1), h0(R12)(BX*1), h32(R12)(BX*1), h64(R12)(BX*1), h96(R12)(BX*1), Y18, Y19) \
	Q6_K_VNNI_ROW(h0(AX), h32(AX), h64(AX), h96(AX), h0(DX), h32(DX), h64(DX), h96(DX), Y20, Y21) \
	Q6_K_VNNI_ROW(h0(AX)(BX*1), h32(AX)(BX*1), h64(AX)(BX*1), h96(AX)(BX*1), h0(DX)(BX*1), h32(DX)(BX*1), h64(DX)(BX*1), h96(DX)(BX*1), Y22, Y23)

// func dotRowsQ6_KQuadVNNI(w *byte, rowBytes, rows, blocks int, x *int8, xStride int, xd *float32, offsets *int16, dst *float32, dstStride int)
TEXT ·dotRowsQ6_KQuadVNNI(SB), NOSPLIT, $0-80
	MOVQ    w+0(FP), R8
	MOVQ    rows+16(FP), R9
	MOVQ    dst+64(FP), R10
	MOVQ    xStride+40(FP), BX
	MOVQ    blocks+24(FP), R14
	SHLQ    $2, R14
	VMOVDQU lowNibble<>(SB), Y15
	VMOVDQU laneShuffle<>(SB), Y14
	VMOVDQU q6KHighBits<>(SB), Y8
	TESTQ   R9, R9
	JZ      rq6_Kvnnidone

rq6_Kvnnirow:
	MOVQ   R8, SI
	MOVQ   x+32(FP), DI
	LEAQ   (DI)(BX*2), AX
	MOVQ   offsets+56(FP), R12
	LEAQ   (R12)(BX*2), DX
	MOVQ   xd+48(FP), R11
	LEAQ   (R11)(R14*2), R13
	MOVQ   blocks+24(FP), CX
	VPXOR  Y10, Y10, Y10
	VPXOR  Y11, Y11, Y11
	VPXOR  Y12, Y12, Y12
	VPXOR  Y13, Y13, Y13
	TESTQ  CX, CX
	JZ     rq6_Kvnnistore

rq6_Kvnniblock:
	VPXORD         Y16, Y16, Y16
	VPXORD         Y17, Y17, Y17
	VPXORD         Y18, Y18, Y18
	VPXORD         Y19, Y19, Y19
	VPXORD         Y20, Y20, Y20
	VPXORD         Y21, Y21, Y21
	VPXORD         Y22, Y22, Y22
	VPXORD         Y23, Y23, Y23
	VBROADCASTI128 192(SI), Y9
	Q6_K_VNNI_UNPACK(0(SI), 128(SI), q6KScaleShuffle<>+0(SB), q6KScaleShuffle<>+32(SB))
	Q6_K_VNNI_HALF(0, 32, 64, 96)
	Q6_K_VNNI_UNPACK(64(SI), 160(SI), q6KScaleShuffle<>+64(SB), q6KScaleShuffle<>+96(SB))
	Q6_K_VNNI_HALF(128, 160, 192, 224)

	// Float lane sums += (d·dx)·lane for each row, with d in X7.
	VPXOR     X7, X7, X7
	VPINSRW   $0, 208(SI), X7, X7
	VCVTPH2PS X7, X7
	Q4_K_QUAD_LANES(Y16, X16, Y17, X17, (R11), Y10)
	Q4_K_QUAD_LANES(Y18, X18, Y19, X19, (R11)(R14*1), Y11)
	Q4_K_QUAD_LANES(Y20, X20, Y21, X21, (R13), Y12)
	Q4_K_QUAD_LANES(Y22, X22, Y23, X23, (R13)(R14*1), Y13)

	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $256, AX
	ADDQ $256, R12
	ADDQ $256, DX
	ADDQ $4, R11
	ADDQ $4, R13
	DECQ CX
	JNZ  rq6_Kvnniblock

rq6_Kvnnistore:
	MOVQ R10, AX
	MOVQ dstStride+72(FP), DX
	ADD_LANES_STORE(Y10, X10, (AX))
	ADDQ DX, AX
	ADD_LANES_STORE(Y11, X11, (AX))
	ADDQ DX, AX
	ADD_LANES_STORE(Y12, X12, (AX))
	ADDQ DX, AX
	ADD_LANES_STORE(Y13, X13, (AX))
	ADDQ $4, R10
	ADDQ rowBytes+8(FP), R8
	DECQ R9
	JNZ  rq6_Kvnnirow

rq6_Kvnnidone:
	VZEROUPPER
	RET

// Q8_0_QUAD_PAIR_ROW adds the integer sums of one block of the activation
// row at x with weight block A (|w| in Y1, w in Y0) to accA and with
// weight block B (|w| in Y3, w in Y2) to accB, with VPDPBUSD. As in
// Q8_0_SIGNED_BLOCK, this is exact unless an activation quant is -128.
#define Q8_0_QUAD_PAIR_ROW(x, accA, accB) \
	VMOVDQU  x, Y4 \
	VPXOR    accA, accA, accA \
	VPXOR    accB, accB, accB \
	VPSIGNB  Y0, Y4, Y5 \
	VPSIGNB  Y2, Y4, Y6 \
	VPDPBUSD Y5, Y1, accA \
	VPDPBUSD Y6, Y3, accB

// func dotQ8_0QuadPairVNNI(w *byte, rowBytes, blocks int, x *int8, xStride int, dxT *float32, quads int, dst *float32, dstStride int)
//
// dotQ8_0Quad for two weight rows at once, A at w and B at w+rowBytes,
// and quads groups of four activation rows, group g at x+4g·xStride:
// dst[(4g+r)·dstStride/4] is row A's product with activation row 4g+r
// and the float32 after it row B's. Both rows' float32 steps share each
// 8-wide instruction, which computes every product and sum as
// dotQ8_0Quad does. It needs AVX512_VNNI and AVX512VL.
TEXT ·dotQ8_0QuadPairVNNI(SB), NOSPLIT, $0-72
	MOVQ   w+0(FP), SI
	MOVQ   rowBytes+8(FP), R8
	MOVQ   x+24(FP), DI
	MOVQ   xStride+32(FP), DX
	MOVQ   dxT+40(FP), R9
	MOVQ   quads+48(FP), R12
	MOVQ   dst+56(FP), R10
	MOVQ   dstStride+64(FP), R13
	MOVQ   DI, R14
	TESTQ  R12, R12
	JZ     dq8_0quadpairdone

dq8_0quadpairquad:
	MOVQ   w+0(FP), SI
	MOVQ   R14, DI
	MOVQ   blocks+16(FP), CX
	LEAQ   (DI)(DX*2), R11
	VXORPS Y15, Y15, Y15
	TESTQ  CX, CX
	JZ     dq8_0quadpairstore

dq8_0quadpairloop:
	VMOVDQU 2(SI), Y0
	VPABSB  Y0, Y1
	VMOVDQU 2(SI)(R8*1), Y2
	VPABSB  Y2, Y3
	Q8_0_QUAD_PAIR_ROW((DI), Y7, Y11)
	Q8_0_QUAD_PAIR_ROW((DI)(DX*1), Y8, Y12)
	Q8_0_QUAD_PAIR_ROW((R11), Y9, Y13)
	Q8_0_QUAD_PAIR_ROW((R11)(DX*1), Y10, Y14)

	// Block sums of A's rows 0 … 3, then B's, in Y5.
	VPHADDD    Y8, Y7, Y7
	VPHADDD    Y10, Y9, Y9
	VPHADDD    Y9, Y7, Y7
	VPHADDD    Y12, Y11, Y11
	VPHADDD    Y14, Y13, Y13
	VPHADDD    Y13, Y11, Y11
	VPERM2I128 $0x20, Y11, Y7, Y5
	VPERM2I128 $0x31, Y11, Y7, Y6
	VPADDD     Y6, Y5, Y5
	VCVTDQ2PS  Y5, Y5

	// sums += (d·dx)·sumi, with d = [dA ×4, dB ×4].
	MOVWLZX        (SI), AX
	VMOVD          AX, X0
	VCVTPH2PS      X0, X0
	VBROADCASTSS   X0, X0
	MOVWLZX        (SI)(R8*1), AX
	VMOVD          AX, X1
	VCVTPH2PS      X1, X1
	VBROADCASTSS   X1, X1
	VINSERTF128    $1, X1, Y0, Y0
	VBROADCASTF128 (R9), Y1
	VMULPS         Y1, Y0, Y0
	VMULPS         Y5, Y0, Y0
	VADDPS         Y0, Y15, Y15
	ADDQ           $34, SI
	ADDQ           $32, DI
	ADDQ           $32, R11
	ADDQ           $16, R9
	DECQ           CX
	JNZ            dq8_0quadpairloop

dq8_0quadpairstore:
	// Y15 holds [A0 … A3, B0 … B3]; row r gets the pair (Ar, Br).
	VEXTRACTF128 $1, Y15, X1
	VUNPCKLPS    X1, X15, X2
	VUNPCKHPS    X1, X15, X3
	VMOVLPS      X2, (R10)
	ADDQ         R13, R10
	VMOVHPS      X2, (R10)
	ADDQ         R13, R10
	VMOVLPS      X3, (R10)
	ADDQ         R13, R10
	VMOVHPS      X3, (R10)
	ADDQ         R13, R10

	LEAQ (R14)(DX*4), R14
	DECQ R12
	JNZ  dq8_0quadpairquad

dq8_0quadpairdone:
	VZEROUPPER
	RET
