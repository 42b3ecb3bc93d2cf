//go:build amd64 && !purego

#include "textflag.h"

// One step of the 6×16 micro-kernel over depth index u of the packed
// slivers at SI (6 floats per index) and DI (16 floats per index): two
// loads of b, six broadcasts of a, twelve FMAs into Y0–Y11.
#define KERNEL_STEP(u) \
	VMOVUPS      (u*64)(DI), Y12    \
	VMOVUPS      (u*64+32)(DI), Y13 \
	VBROADCASTSS (u*24)(SI), Y14    \
	VFMADD231PS  Y12, Y14, Y0       \
	VFMADD231PS  Y13, Y14, Y1       \
	VBROADCASTSS (u*24+4)(SI), Y15  \
	VFMADD231PS  Y12, Y15, Y2       \
	VFMADD231PS  Y13, Y15, Y3       \
	VBROADCASTSS (u*24+8)(SI), Y14  \
	VFMADD231PS  Y12, Y14, Y4       \
	VFMADD231PS  Y13, Y14, Y5       \
	VBROADCASTSS (u*24+12)(SI), Y15 \
	VFMADD231PS  Y12, Y15, Y6       \
	VFMADD231PS  Y13, Y15, Y7       \
	VBROADCASTSS (u*24+16)(SI), Y14 \
	VFMADD231PS  Y12, Y14, Y8       \
	VFMADD231PS  Y13, Y14, Y9       \
	VBROADCASTSS (u*24+20)(SI), Y15 \
	VFMADD231PS  Y12, Y15, Y10      \
	VFMADD231PS  Y13, Y15, Y11

// STORE_ROW writes a row of the tile, whose 16 sums are in lo and hi, to
// DX and moves DX to the next row. ADD_STORE_ROW first adds the values
// already there.
#define STORE_ROW(lo, hi) \
	VMOVUPS lo, (DX)   \
	VMOVUPS hi, 32(DX) \
	ADDQ    R8, DX

#define ADD_STORE_ROW(lo, hi) \
	VADDPS  (DX), lo, lo     \
	VADDPS  32(DX), hi, hi   \
	VMOVUPS lo, (DX)         \
	VMOVUPS hi, 32(DX)       \
	ADDQ    R8, DX

// func sgemmKernel6x16(kc int, a, b, c *float32, ldc int, add int)
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, BX
	SHRQ $2, BX
	JZ   kernel_tail

kernel_loop4:
	KERNEL_STEP(0)
	KERNEL_STEP(1)
	KERNEL_STEP(2)
	KERNEL_STEP(3)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  kernel_loop4

kernel_tail:
	ANDQ $3, CX
	JZ   kernel_store

kernel_loop1:
	KERNEL_STEP(0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  kernel_loop1

kernel_store:
	MOVQ  add+40(FP), AX
	TESTQ AX, AX
	JNZ   kernel_add

	STORE_ROW(Y0, Y1)
	STORE_ROW(Y2, Y3)
	STORE_ROW(Y4, Y5)
	STORE_ROW(Y6, Y7)
	STORE_ROW(Y8, Y9)
	STORE_ROW(Y10, Y11)
	VZEROUPPER
	RET

kernel_add:
	ADD_STORE_ROW(Y0, Y1)
	ADD_STORE_ROW(Y2, Y3)
	ADD_STORE_ROW(Y4, Y5)
	ADD_STORE_ROW(Y6, Y7)
	ADD_STORE_ROW(Y8, Y9)
	ADD_STORE_ROW(Y10, Y11)
	VZEROUPPER
	RET

// Lanes 0 to 7 of sdotMask are all ones and lanes 8 to 15 zeros, so the
// eight lanes from sdotMask+4·(8−r) select the first r floats.
DATA sdotMask<>+0(SB)/8, $0xffffffffffffffff
DATA sdotMask<>+8(SB)/8, $0xffffffffffffffff
DATA sdotMask<>+16(SB)/8, $0xffffffffffffffff
DATA sdotMask<>+24(SB)/8, $0xffffffffffffffff
DATA sdotMask<>+32(SB)/8, $0
DATA sdotMask<>+40(SB)/8, $0
DATA sdotMask<>+48(SB)/8, $0
DATA sdotMask<>+56(SB)/8, $0
GLOBL sdotMask<>(SB), RODATA|NOPTR, $64

// func sdot4(k int, x, w *float32, ldw int, dst *float32)
//
// Rows 0 to 3 of w start at DI, R9, R10 and R11, and AX is the byte
// offset into every row. Y0–Y3 and Y4–Y7 are two independent sets of the four
// rows' sums, so eight FMAs are in flight.
TEXT ·sdot4(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), R8
	MOVQ dst+32(FP), DX
	SHLQ $2, R8
	LEAQ (DI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ   AX, AX

	MOVQ CX, BX
	SHRQ $4, BX
	JZ   dot_tail8

dot_loop16:
	VMOVUPS     (SI)(AX*1), Y8
	VMOVUPS     32(SI)(AX*1), Y9
	VFMADD231PS (DI)(AX*1), Y8, Y0
	VFMADD231PS (R9)(AX*1), Y8, Y1
	VFMADD231PS (R10)(AX*1), Y8, Y2
	VFMADD231PS (R11)(AX*1), Y8, Y3
	VFMADD231PS 32(DI)(AX*1), Y9, Y4
	VFMADD231PS 32(R9)(AX*1), Y9, Y5
	VFMADD231PS 32(R10)(AX*1), Y9, Y6
	VFMADD231PS 32(R11)(AX*1), Y9, Y7
	ADDQ        $64, AX
	DECQ        BX
	JNZ         dot_loop16

dot_tail8:
	TESTQ $8, CX
	JZ    dot_tail
	VMOVUPS     (SI)(AX*1), Y8
	VFMADD231PS (DI)(AX*1), Y8, Y0
	VFMADD231PS (R9)(AX*1), Y8, Y1
	VFMADD231PS (R10)(AX*1), Y8, Y2
	VFMADD231PS (R11)(AX*1), Y8, Y3
	ADDQ        $32, AX

dot_tail:
	// The last k mod 8 floats come through masked loads, which read
	// nothing from the masked lanes and so cannot fault past the slices.
	ANDQ $7, CX
	JZ   dot_reduce
	LEAQ sdotMask<>+32(SB), BX
	SHLQ $2, CX
	SUBQ CX, BX
	VMOVUPS    (BX), Y10
	VMASKMOVPS (SI)(AX*1), Y10, Y8
	VMASKMOVPS (DI)(AX*1), Y10, Y9
	VFMADD231PS Y9, Y8, Y4
	VMASKMOVPS (R9)(AX*1), Y10, Y9
	VFMADD231PS Y9, Y8, Y5
	VMASKMOVPS (R10)(AX*1), Y10, Y9
	VFMADD231PS Y9, Y8, Y6
	VMASKMOVPS (R11)(AX*1), Y10, Y9
	VFMADD231PS Y9, Y8, Y7

dot_reduce:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3

	// Pairwise sums: Y0 = [r0 r0 r1 r1 | r0 r0 r1 r1] partial sums, then
	// [r0 r1 r2 r3 | r0 r1 r2 r3], then the two 128-bit halves added.
	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, (DX)
	VZEROUPPER
	RET

// A 4×4 transpose inside each 128-bit lane. r0–r3 hold rows 0–3 in their
// low lanes and rows 4–7 in their high lanes, and the results c0–c3 are
// columns 0–3 of those eight rows. Y12–Y15 are scratch.
#define TRANSPOSE_LANES(r0, r1, r2, r3, c0, c1, c2, c3) \
	VUNPCKLPS r1, r0, Y12        \
	VUNPCKHPS r1, r0, Y13        \
	VUNPCKLPS r3, r2, Y14        \
	VUNPCKHPS r3, r2, Y15        \
	VSHUFPS   $0x44, Y14, Y12, c0 \
	VSHUFPS   $0xEE, Y14, Y12, c1 \
	VSHUFPS   $0x44, Y15, Y13, c2 \
	VSHUFPS   $0xEE, Y15, Y13, c3

// Eight rows (four at lo, four at hi, each ldb = R8 bytes apart, R9 =
// 3·ldb) and eight columns, transposed into eight rows of the packed
// sliver at DI + off (64 bytes apart).
#define PACK_8x8(lo, hi, off) \
	VMOVUPS     (lo), X0                       \
	VINSERTF128 $1, (hi), Y0, Y0               \
	VMOVUPS     (lo)(R8*1), X1                 \
	VINSERTF128 $1, (hi)(R8*1), Y1, Y1         \
	VMOVUPS     (lo)(R8*2), X2                 \
	VINSERTF128 $1, (hi)(R8*2), Y2, Y2         \
	VMOVUPS     (lo)(R9*1), X3                 \
	VINSERTF128 $1, (hi)(R9*1), Y3, Y3         \
	VMOVUPS     16(lo), X4                     \
	VINSERTF128 $1, 16(hi), Y4, Y4             \
	VMOVUPS     16(lo)(R8*1), X5               \
	VINSERTF128 $1, 16(hi)(R8*1), Y5, Y5       \
	VMOVUPS     16(lo)(R8*2), X6               \
	VINSERTF128 $1, 16(hi)(R8*2), Y6, Y6       \
	VMOVUPS     16(lo)(R9*1), X7               \
	VINSERTF128 $1, 16(hi)(R9*1), Y7, Y7       \
	TRANSPOSE_LANES(Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11) \
	VMOVUPS     Y8, (off+0*64)(DI)             \
	VMOVUPS     Y9, (off+1*64)(DI)             \
	VMOVUPS     Y10, (off+2*64)(DI)            \
	VMOVUPS     Y11, (off+3*64)(DI)            \
	TRANSPOSE_LANES(Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11) \
	VMOVUPS     Y8, (off+4*64)(DI)             \
	VMOVUPS     Y9, (off+5*64)(DI)             \
	VMOVUPS     Y10, (off+6*64)(DI)            \
	VMOVUPS     Y11, (off+7*64)(DI)

// func packBT16(kc8 int, b *float32, ldb int, dst *float32)
//
// Packs 16 rows of b, ldb floats apart, over 8·kc8 columns into dst as
// [8·kc8, 16]: dst[c·16 + r] = b[r·ldb + c]. SI, BX, R10 and R11 point at
// rows 0, 4, 8 and 12, advancing eight columns per step.
TEXT ·packBT16(SB), NOSPLIT, $0-32
	MOVQ kc8+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ ldb+16(FP), R8
	MOVQ dst+24(FP), DI
	TESTQ CX, CX
	JZ    pack_done
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), BX
	LEAQ (BX)(R8*4), R10
	LEAQ (R10)(R8*4), R11

pack_loop:
	PACK_8x8(SI, BX, 0)
	PACK_8x8(R10, R11, 32)
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $512, DI
	DECQ CX
	JNZ  pack_loop

pack_done:
	VZEROUPPER
	RET

// func saxpy4(k8 int, alpha, w *float32, ldw int, y *float32)
//
// Rows 0 to 3 of w start at DI, R9, R10 and R11, their factors are
// broadcast in Y0–Y3, and SI is the byte offset into y and every row.
TEXT ·saxpy4(SB), NOSPLIT, $0-40
	MOVQ  k8+0(FP), CX
	MOVQ  alpha+8(FP), AX
	MOVQ  w+16(FP), DI
	MOVQ  ldw+24(FP), R8
	MOVQ  y+32(FP), DX
	TESTQ CX, CX
	JZ    axpy_done
	SHLQ  $2, R8
	LEAQ  (DI)(R8*1), R9
	LEAQ  (R9)(R8*1), R10
	LEAQ  (R10)(R8*1), R11

	VBROADCASTSS (AX), Y0
	VBROADCASTSS 4(AX), Y1
	VBROADCASTSS 8(AX), Y2
	VBROADCASTSS 12(AX), Y3
	XORQ         SI, SI

axpy_loop:
	VMOVUPS     (DX)(SI*1), Y4
	VFMADD231PS (DI)(SI*1), Y0, Y4
	VFMADD231PS (R9)(SI*1), Y1, Y4
	VFMADD231PS (R10)(SI*1), Y2, Y4
	VFMADD231PS (R11)(SI*1), Y3, Y4
	VMOVUPS     Y4, (DX)(SI*1)
	ADDQ        $32, SI
	DECQ        CX
	JNZ         axpy_loop

axpy_done:
	VZEROUPPER
	RET

// func packB16(kc, slivers int, b *float32, ldb int, dst *float32)
//
// Copies kc rows of 16·slivers floats of b, ldb floats apart, into
// slivers of [kc, 16] floats at dst: dst[s·kc·16 + c·16 + r] =
// b[c·ldb + s·16 + r]. It reads each row's floats in order, so that every
// row is one sequential stream however far apart rows are.
TEXT ·packB16(SB), NOSPLIT, $0-40
	MOVQ  kc+0(FP), CX
	MOVQ  slivers+8(FP), R12
	MOVQ  b+16(FP), SI
	MOVQ  ldb+24(FP), R8
	MOVQ  dst+32(FP), DI
	TESTQ CX, CX
	JZ    packb_done
	TESTQ R12, R12
	JZ    packb_done
	SHLQ  $2, R8
	MOVQ  CX, R9
	SHLQ  $6, R9

packb_row:
	MOVQ SI, AX
	MOVQ DI, DX
	MOVQ R12, BX

packb_sliver:
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ    $64, AX
	ADDQ    R9, DX
	DECQ    BX
	JNZ     packb_sliver

	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  packb_row

packb_done:
	VZEROUPPER
	RET

// HALF_PAIR_F16 widens four F16 weights at lo and four at hi into the low
// and high 128-bit lanes of y, through x (the low half of y).
// HALF_PAIR_BF16 does the same for BF16 weights.
#define HALF_PAIR_F16(lo, hi, x, y) \
	VMOVQ     lo, x        \
	VPINSRQ   $1, hi, x, x \
	VCVTPH2PS x, y

#define HALF_PAIR_BF16(lo, hi, x, y) \
	VMOVQ     lo, x        \
	VPINSRQ   $1, hi, x, x \
	VPMOVZXWD x, y         \
	VPSLLD    $16, y, y

// PACK_8x8_F16 is PACK_8x8 for rows of F16 weights, ldb = R8 bytes apart
// (R9 = 3·ldb), which it widens as it loads them. PACK_8x8_BF16 does the
// same for BF16 weights.
#define PACK_8x8_F16(lo, hi, off) \
	HALF_PAIR_F16((lo), (hi), X0, Y0)                 \
	HALF_PAIR_F16((lo)(R8*1), (hi)(R8*1), X1, Y1)     \
	HALF_PAIR_F16((lo)(R8*2), (hi)(R8*2), X2, Y2)     \
	HALF_PAIR_F16((lo)(R9*1), (hi)(R9*1), X3, Y3)     \
	HALF_PAIR_F16(8(lo), 8(hi), X4, Y4)               \
	HALF_PAIR_F16(8(lo)(R8*1), 8(hi)(R8*1), X5, Y5)   \
	HALF_PAIR_F16(8(lo)(R8*2), 8(hi)(R8*2), X6, Y6)   \
	HALF_PAIR_F16(8(lo)(R9*1), 8(hi)(R9*1), X7, Y7)   \
	TRANSPOSE_LANES(Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11) \
	VMOVUPS     Y8, (off+0*64)(DI)                    \
	VMOVUPS     Y9, (off+1*64)(DI)                    \
	VMOVUPS     Y10, (off+2*64)(DI)                   \
	VMOVUPS     Y11, (off+3*64)(DI)                   \
	TRANSPOSE_LANES(Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11) \
	VMOVUPS     Y8, (off+4*64)(DI)                    \
	VMOVUPS     Y9, (off+5*64)(DI)                    \
	VMOVUPS     Y10, (off+6*64)(DI)                   \
	VMOVUPS     Y11, (off+7*64)(DI)

#define PACK_8x8_BF16(lo, hi, off) \
	HALF_PAIR_BF16((lo), (hi), X0, Y0)                \
	HALF_PAIR_BF16((lo)(R8*1), (hi)(R8*1), X1, Y1)    \
	HALF_PAIR_BF16((lo)(R8*2), (hi)(R8*2), X2, Y2)    \
	HALF_PAIR_BF16((lo)(R9*1), (hi)(R9*1), X3, Y3)    \
	HALF_PAIR_BF16(8(lo), 8(hi), X4, Y4)              \
	HALF_PAIR_BF16(8(lo)(R8*1), 8(hi)(R8*1), X5, Y5)  \
	HALF_PAIR_BF16(8(lo)(R8*2), 8(hi)(R8*2), X6, Y6)  \
	HALF_PAIR_BF16(8(lo)(R9*1), 8(hi)(R9*1), X7, Y7)  \
	TRANSPOSE_LANES(Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11) \
	VMOVUPS     Y8, (off+0*64)(DI)                    \
	VMOVUPS     Y9, (off+1*64)(DI)                    \
	VMOVUPS     Y10, (off+2*64)(DI)                   \
	VMOVUPS     Y11, (off+3*64)(DI)                   \
	TRANSPOSE_LANES(Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11) \
	VMOVUPS     Y8, (off+4*64)(DI)                    \
	VMOVUPS     Y9, (off+5*64)(DI)                    \
	VMOVUPS     Y10, (off+6*64)(DI)                   \
	VMOVUPS     Y11, (off+7*64)(DI)

// func packBT16F16(kc8 int, b *uint16, ldb int, dst *float32)
//
// packBT16 for rows of F16 weights, widened to floats: dst[c·16 + r] =
// b[r·ldb + c] for c < 8·kc8. Needs AVX2 and F16C.
TEXT ·packBT16F16(SB), NOSPLIT, $0-32
	MOVQ  kc8+0(FP), CX
	MOVQ  b+8(FP), SI
	MOVQ  ldb+16(FP), R8
	MOVQ  dst+24(FP), DI
	TESTQ CX, CX
	JZ    f16_done
	SHLQ  $1, R8
	LEAQ  (R8)(R8*2), R9
	LEAQ  (SI)(R8*4), BX
	LEAQ  (BX)(R8*4), R10
	LEAQ  (R10)(R8*4), R11

f16_loop:
	PACK_8x8_F16(SI, BX, 0)
	PACK_8x8_F16(R10, R11, 32)
	ADDQ $16, SI
	ADDQ $16, BX
	ADDQ $16, R10
	ADDQ $16, R11
	ADDQ $512, DI
	DECQ CX
	JNZ  f16_loop

f16_done:
	VZEROUPPER
	RET

// func packBT16BF16(kc8 int, b *uint16, ldb int, dst *float32)
//
// packBT16F16 for BF16 weights. Needs AVX2.
TEXT ·packBT16BF16(SB), NOSPLIT, $0-32
	MOVQ  kc8+0(FP), CX
	MOVQ  b+8(FP), SI
	MOVQ  ldb+16(FP), R8
	MOVQ  dst+24(FP), DI
	TESTQ CX, CX
	JZ    bf16_done
	SHLQ  $1, R8
	LEAQ  (R8)(R8*2), R9
	LEAQ  (SI)(R8*4), BX
	LEAQ  (BX)(R8*4), R10
	LEAQ  (R10)(R8*4), R11

bf16_loop:
	PACK_8x8_BF16(SI, BX, 0)
	PACK_8x8_BF16(R10, R11, 32)
	ADDQ $16, SI
	ADDQ $16, BX
	ADDQ $16, R10
	ADDQ $16, R11
	ADDQ $512, DI
	DECQ CX
	JNZ  bf16_loop

bf16_done:
	VZEROUPPER
	RET
