//go:build amd64 && !purego

#include "textflag.h"

// AVX-512F kernels of the packed F32 product, which sgemm_amd64.go runs in
// place of the AVX2 ones when the processor has AVX-512F. Both micro-kernels
// read packed slivers of a with 16 floats per depth index ([kc, 16]).

// One depth step u of the 16×16 micro-kernel: 16 floats of the packed b
// sliver at DI go into Z16, and row r of the tile in Zr gains Z16 times
// float r of the packed a sliver at SI, which the FMA broadcasts from
// memory. KERNEL8_STEP does the same for rows 0 to 7 only.
#define KERNEL16_STEP(u) \
	VMOVUPS          (u*64)(DI), Z16 \
	VFMADD231PS.BCST (u*64+0)(SI), Z16, Z0 \
	VFMADD231PS.BCST (u*64+4)(SI), Z16, Z1 \
	VFMADD231PS.BCST (u*64+8)(SI), Z16, Z2 \
	VFMADD231PS.BCST (u*64+12)(SI), Z16, Z3 \
	VFMADD231PS.BCST (u*64+16)(SI), Z16, Z4 \
	VFMADD231PS.BCST (u*64+20)(SI), Z16, Z5 \
	VFMADD231PS.BCST (u*64+24)(SI), Z16, Z6 \
	VFMADD231PS.BCST (u*64+28)(SI), Z16, Z7 \
	VFMADD231PS.BCST (u*64+32)(SI), Z16, Z8 \
	VFMADD231PS.BCST (u*64+36)(SI), Z16, Z9 \
	VFMADD231PS.BCST (u*64+40)(SI), Z16, Z10 \
	VFMADD231PS.BCST (u*64+44)(SI), Z16, Z11 \
	VFMADD231PS.BCST (u*64+48)(SI), Z16, Z12 \
	VFMADD231PS.BCST (u*64+52)(SI), Z16, Z13 \
	VFMADD231PS.BCST (u*64+56)(SI), Z16, Z14 \
	VFMADD231PS.BCST (u*64+60)(SI), Z16, Z15

#define KERNEL8_STEP(u) \
	VMOVUPS          (u*64)(DI), Z16 \
	VFMADD231PS.BCST (u*64+0)(SI), Z16, Z0 \
	VFMADD231PS.BCST (u*64+4)(SI), Z16, Z1 \
	VFMADD231PS.BCST (u*64+8)(SI), Z16, Z2 \
	VFMADD231PS.BCST (u*64+12)(SI), Z16, Z3 \
	VFMADD231PS.BCST (u*64+16)(SI), Z16, Z4 \
	VFMADD231PS.BCST (u*64+20)(SI), Z16, Z5 \
	VFMADD231PS.BCST (u*64+24)(SI), Z16, Z6 \
	VFMADD231PS.BCST (u*64+28)(SI), Z16, Z7

// ADD_STORE_ROW adds the row of the tile at DX to acc, writes it back and
// moves DX to the next row.
#define ADD_STORE_ROW(acc) \
	VADDPS  (DX), acc, acc \
	VMOVUPS acc, (DX)      \
	ADDQ    R8, DX

// func sgemmKernel16x16AVX512(kc int, a, b, c *float32, ldc int, add int)
TEXT ·sgemmKernel16x16AVX512(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15

	MOVQ CX, BX
	SHRQ $2, BX
	JZ   kernel_tail

kernel_loop4:
	KERNEL16_STEP(0)
	KERNEL16_STEP(1)
	KERNEL16_STEP(2)
	KERNEL16_STEP(3)
	ADDQ $256, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  kernel_loop4

kernel_tail:
	ANDQ $3, CX
	JZ   kernel_store

kernel_loop1:
	KERNEL16_STEP(0)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  kernel_loop1

kernel_store:
	MOVQ  add+40(FP), AX
	TESTQ AX, AX
	JNZ   kernel_add

	VMOVUPS Z0, (DX)
	ADDQ    R8, DX
	VMOVUPS Z1, (DX)
	ADDQ    R8, DX
	VMOVUPS Z2, (DX)
	ADDQ    R8, DX
	VMOVUPS Z3, (DX)
	ADDQ    R8, DX
	VMOVUPS Z4, (DX)
	ADDQ    R8, DX
	VMOVUPS Z5, (DX)
	ADDQ    R8, DX
	VMOVUPS Z6, (DX)
	ADDQ    R8, DX
	VMOVUPS Z7, (DX)
	ADDQ    R8, DX
	VMOVUPS Z8, (DX)
	ADDQ    R8, DX
	VMOVUPS Z9, (DX)
	ADDQ    R8, DX
	VMOVUPS Z10, (DX)
	ADDQ    R8, DX
	VMOVUPS Z11, (DX)
	ADDQ    R8, DX
	VMOVUPS Z12, (DX)
	ADDQ    R8, DX
	VMOVUPS Z13, (DX)
	ADDQ    R8, DX
	VMOVUPS Z14, (DX)
	ADDQ    R8, DX
	VMOVUPS Z15, (DX)
	ADDQ    R8, DX
	VZEROUPPER
	RET

kernel_add:
	ADD_STORE_ROW(Z0)
	ADD_STORE_ROW(Z1)
	ADD_STORE_ROW(Z2)
	ADD_STORE_ROW(Z3)
	ADD_STORE_ROW(Z4)
	ADD_STORE_ROW(Z5)
	ADD_STORE_ROW(Z6)
	ADD_STORE_ROW(Z7)
	ADD_STORE_ROW(Z8)
	ADD_STORE_ROW(Z9)
	ADD_STORE_ROW(Z10)
	ADD_STORE_ROW(Z11)
	ADD_STORE_ROW(Z12)
	ADD_STORE_ROW(Z13)
	ADD_STORE_ROW(Z14)
	ADD_STORE_ROW(Z15)
	VZEROUPPER
	RET

// func sgemmKernel8x16AVX512(kc int, a, b, c *float32, ldc int, add int)
TEXT ·sgemmKernel8x16AVX512(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

	MOVQ CX, BX
	SHRQ $2, BX
	JZ   kernel_tail

kernel_loop4:
	KERNEL8_STEP(0)
	KERNEL8_STEP(1)
	KERNEL8_STEP(2)
	KERNEL8_STEP(3)
	ADDQ $256, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  kernel_loop4

kernel_tail:
	ANDQ $3, CX
	JZ   kernel_store

kernel_loop1:
	KERNEL8_STEP(0)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  kernel_loop1

kernel_store:
	MOVQ  add+40(FP), AX
	TESTQ AX, AX
	JNZ   kernel_add

	VMOVUPS Z0, (DX)
	ADDQ    R8, DX
	VMOVUPS Z1, (DX)
	ADDQ    R8, DX
	VMOVUPS Z2, (DX)
	ADDQ    R8, DX
	VMOVUPS Z3, (DX)
	ADDQ    R8, DX
	VMOVUPS Z4, (DX)
	ADDQ    R8, DX
	VMOVUPS Z5, (DX)
	ADDQ    R8, DX
	VMOVUPS Z6, (DX)
	ADDQ    R8, DX
	VMOVUPS Z7, (DX)
	ADDQ    R8, DX
	VZEROUPPER
	RET

kernel_add:
	ADD_STORE_ROW(Z0)
	ADD_STORE_ROW(Z1)
	ADD_STORE_ROW(Z2)
	ADD_STORE_ROW(Z3)
	ADD_STORE_ROW(Z4)
	ADD_STORE_ROW(Z5)
	ADD_STORE_ROW(Z6)
	ADD_STORE_ROW(Z7)
	VZEROUPPER
	RET

// func sdot4AVX512(k int, x, w *float32, ldw int, dst *float32)
//
// sdot4 with AVX-512F. Rows 0 to 3 of w start at DI, R9, R10 and R11, and
// AX is the byte offset into every row. Z0–Z3 and Z4–Z7 are two
// independent sets of the four rows' sums, so eight FMAs are in flight.
TEXT ·sdot4AVX512(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), R8
	MOVQ dst+32(FP), DX
	SHLQ $2, R8
	LEAQ (DI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	XORQ   AX, AX

	MOVQ CX, BX
	SHRQ $5, BX
	JZ   dot_tail16

dot_loop32:
	VMOVUPS     (SI)(AX*1), Z8
	VMOVUPS     64(SI)(AX*1), Z9
	VFMADD231PS (DI)(AX*1), Z8, Z0
	VFMADD231PS (R9)(AX*1), Z8, Z1
	VFMADD231PS (R10)(AX*1), Z8, Z2
	VFMADD231PS (R11)(AX*1), Z8, Z3
	VFMADD231PS 64(DI)(AX*1), Z9, Z4
	VFMADD231PS 64(R9)(AX*1), Z9, Z5
	VFMADD231PS 64(R10)(AX*1), Z9, Z6
	VFMADD231PS 64(R11)(AX*1), Z9, Z7
	ADDQ        $128, AX
	DECQ        BX
	JNZ         dot_loop32

dot_tail16:
	TESTQ $16, CX
	JZ    dot_tail
	VMOVUPS     (SI)(AX*1), Z8
	VFMADD231PS (DI)(AX*1), Z8, Z0
	VFMADD231PS (R9)(AX*1), Z8, Z1
	VFMADD231PS (R10)(AX*1), Z8, Z2
	VFMADD231PS (R11)(AX*1), Z8, Z3
	ADDQ        $64, AX

dot_tail:
	// The last k mod 16 floats come through loads masked by K1, which
	// read nothing from the masked lanes and so cannot fault past the
	// slices. The masked lanes of Z8 are zero.
	ANDQ $15, CX
	JZ   dot_reduce
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	KMOVW BX, K1
	VMOVUPS.Z   (SI)(AX*1), K1, Z8
	VMOVUPS.Z   (DI)(AX*1), K1, Z9
	VFMADD231PS Z9, Z8, Z4
	VMOVUPS.Z   (R9)(AX*1), K1, Z9
	VFMADD231PS Z9, Z8, Z5
	VMOVUPS.Z   (R10)(AX*1), K1, Z9
	VFMADD231PS Z9, Z8, Z6
	VMOVUPS.Z   (R11)(AX*1), K1, Z9
	VFMADD231PS Z9, Z8, Z7

dot_reduce:
	VADDPS Z4, Z0, Z0
	VADDPS Z5, Z1, Z1
	VADDPS Z6, Z2, Z2
	VADDPS Z7, Z3, Z3

	// Add the upper 256 bits of each sum to its lower ones, then reduce
	// the four YMM sums as sdot4 does: pairwise sums give [r0 r1 r2 r3 |
	// r0 r1 r2 r3], and the two 128-bit halves are added.
	VEXTRACTF64X4 $1, Z0, Y8
	VADDPS        Y8, Y0, Y0
	VEXTRACTF64X4 $1, Z1, Y8
	VADDPS        Y8, Y1, Y1
	VEXTRACTF64X4 $1, Z2, Y8
	VADDPS        Y8, Y2, Y2
	VEXTRACTF64X4 $1, Z3, Y8
	VADDPS        Y8, Y3, Y3
	VHADDPS       Y1, Y0, Y0
	VHADDPS       Y3, Y2, Y2
	VHADDPS       Y2, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VMOVUPS       X0, (DX)
	VZEROUPPER
	RET

// func saxpy4AVX512(k8 int, alpha, w *float32, ldw int, y *float32)
//
// saxpy4 with AVX-512F, 16 floats a step and one step of 8 when k8 is
// odd. Rows 0 to 3 of w start at DI, R9, R10 and R11, their factors are
// broadcast in Z0–Z3, and SI is the byte offset into y and every row.
TEXT ·saxpy4AVX512(SB), NOSPLIT, $0-40
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

	VBROADCASTSS (AX), Z0
	VBROADCASTSS 4(AX), Z1
	VBROADCASTSS 8(AX), Z2
	VBROADCASTSS 12(AX), Z3
	XORQ         SI, SI
	MOVQ         CX, BX
	SHRQ         $1, BX
	JZ           axpy_tail8

axpy_loop16:
	VMOVUPS     (DX)(SI*1), Z4
	VFMADD231PS (DI)(SI*1), Z0, Z4
	VFMADD231PS (R9)(SI*1), Z1, Z4
	VFMADD231PS (R10)(SI*1), Z2, Z4
	VFMADD231PS (R11)(SI*1), Z3, Z4
	VMOVUPS     Z4, (DX)(SI*1)
	ADDQ        $64, SI
	DECQ        BX
	JNZ         axpy_loop16

axpy_tail8:
	TESTQ $1, CX
	JZ    axpy_done
	VMOVUPS     (DX)(SI*1), Y4
	VFMADD231PS (DI)(SI*1), Y0, Y4
	VFMADD231PS (R9)(SI*1), Y1, Y4
	VFMADD231PS (R10)(SI*1), Y2, Y4
	VFMADD231PS (R11)(SI*1), Y3, Y4
	VMOVUPS     Y4, (DX)(SI*1)

axpy_done:
	VZEROUPPER
	RET

// TRANSPOSE_16x16 transposes the 16×16 floats in Z0–Z15 (row r in Zr) and
// stores column c to off + c·64 bytes from DI. Z16–Z31 are scratch.
// Stage 1 interleaves pairs of rows, stage 2 gathers four rows' floats in
// each 128-bit lane, and stages 3 and 4 move the 128-bit lanes of four
// groups of four rows into place with VSHUFF32X4.
#define UNPACK_PAIR(a, b, lo, hi) \
	VUNPCKLPS b, a, lo \
	VUNPCKHPS b, a, hi

#define GATHER_QUAD(t0, t1, t2, t3, u0, u1, u2, u3) \
	VSHUFPS $0x44, t2, t0, u0 \
	VSHUFPS $0xEE, t2, t0, u1 \
	VSHUFPS $0x44, t3, t1, u2 \
	VSHUFPS $0xEE, t3, t1, u3

// LANES_STORE writes columns j, 4+j, 8+j and 12+j, whose four-row pieces
// are the lanes of g0–g3 (rows 0–3, 4–7, 8–11 and 12–15).
#define LANES_STORE(g0, g1, g2, g3, j) \
	VSHUFF32X4 $0x44, g1, g0, Z16  \
	VSHUFF32X4 $0xEE, g1, g0, Z17  \
	VSHUFF32X4 $0x44, g3, g2, Z18  \
	VSHUFF32X4 $0xEE, g3, g2, Z19  \
	VSHUFF32X4 $0x88, Z18, Z16, Z20 \
	VSHUFF32X4 $0xDD, Z18, Z16, Z21 \
	VSHUFF32X4 $0x88, Z19, Z17, Z22 \
	VSHUFF32X4 $0xDD, Z19, Z17, Z23 \
	VMOVUPS    Z20, (j*64)(DI)      \
	VMOVUPS    Z21, ((4+j)*64)(DI)  \
	VMOVUPS    Z22, ((8+j)*64)(DI)  \
	VMOVUPS    Z23, ((12+j)*64)(DI)

// func packBT16AVX512(kc16 int, b *float32, ldb int, dst *float32)
//
// packBT16 sixteen columns a step: it packs 16 rows of b, ldb floats
// apart, over 16·kc16 columns into dst as [16·kc16, 16]. Reading 64 bytes
// of each row a step takes whole cache lines. SI, BX, R10 and R11 point
// at rows 0, 4, 8 and 12, R8 = ldb and R9 = 3·ldb in bytes.
TEXT ·packBT16AVX512(SB), NOSPLIT, $0-32
	MOVQ  kc16+0(FP), CX
	MOVQ  b+8(FP), SI
	MOVQ  ldb+16(FP), R8
	MOVQ  dst+24(FP), DI
	TESTQ CX, CX
	JZ    pack_done
	SHLQ  $2, R8
	LEAQ  (R8)(R8*2), R9
	LEAQ  (SI)(R8*4), BX
	LEAQ  (BX)(R8*4), R10
	LEAQ  (R10)(R8*4), R11

pack_loop:
	VMOVUPS (SI), Z0
	VMOVUPS (SI)(R8*1), Z1
	VMOVUPS (SI)(R8*2), Z2
	VMOVUPS (SI)(R9*1), Z3
	VMOVUPS (BX), Z4
	VMOVUPS (BX)(R8*1), Z5
	VMOVUPS (BX)(R8*2), Z6
	VMOVUPS (BX)(R9*1), Z7
	VMOVUPS (R10), Z8
	VMOVUPS (R10)(R8*1), Z9
	VMOVUPS (R10)(R8*2), Z10
	VMOVUPS (R10)(R9*1), Z11
	VMOVUPS (R11), Z12
	VMOVUPS (R11)(R8*1), Z13
	VMOVUPS (R11)(R8*2), Z14
	VMOVUPS (R11)(R9*1), Z15

	UNPACK_PAIR(Z0, Z1, Z16, Z17)
	UNPACK_PAIR(Z2, Z3, Z18, Z19)
	UNPACK_PAIR(Z4, Z5, Z20, Z21)
	UNPACK_PAIR(Z6, Z7, Z22, Z23)
	UNPACK_PAIR(Z8, Z9, Z24, Z25)
	UNPACK_PAIR(Z10, Z11, Z26, Z27)
	UNPACK_PAIR(Z12, Z13, Z28, Z29)
	UNPACK_PAIR(Z14, Z15, Z30, Z31)

	// After stage 2, lane l of Z(4g+j) holds rows 4g to 4g+3 of column
	// 4l+j.
	GATHER_QUAD(Z16, Z17, Z18, Z19, Z0, Z1, Z2, Z3)
	GATHER_QUAD(Z20, Z21, Z22, Z23, Z4, Z5, Z6, Z7)
	GATHER_QUAD(Z24, Z25, Z26, Z27, Z8, Z9, Z10, Z11)
	GATHER_QUAD(Z28, Z29, Z30, Z31, Z12, Z13, Z14, Z15)

	LANES_STORE(Z0, Z4, Z8, Z12, 0)
	LANES_STORE(Z1, Z5, Z9, Z13, 1)
	LANES_STORE(Z2, Z6, Z10, Z14, 2)
	LANES_STORE(Z3, Z7, Z11, Z15, 3)

	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $1024, DI
	DECQ CX
	JNZ  pack_loop

pack_done:
	VZEROUPPER
	RET

// TRANSPOSE_STORE_16x16 is the transposition of packBT16AVX512 for the
// 16 rows in Z0–Z15: it stores column c to c·64 bytes from DI.
#define TRANSPOSE_STORE_16x16 \
	UNPACK_PAIR(Z0, Z1, Z16, Z17)                     \
	UNPACK_PAIR(Z2, Z3, Z18, Z19)                     \
	UNPACK_PAIR(Z4, Z5, Z20, Z21)                     \
	UNPACK_PAIR(Z6, Z7, Z22, Z23)                     \
	UNPACK_PAIR(Z8, Z9, Z24, Z25)                     \
	UNPACK_PAIR(Z10, Z11, Z26, Z27)                   \
	UNPACK_PAIR(Z12, Z13, Z28, Z29)                   \
	UNPACK_PAIR(Z14, Z15, Z30, Z31)                   \
	GATHER_QUAD(Z16, Z17, Z18, Z19, Z0, Z1, Z2, Z3)   \
	GATHER_QUAD(Z20, Z21, Z22, Z23, Z4, Z5, Z6, Z7)   \
	GATHER_QUAD(Z24, Z25, Z26, Z27, Z8, Z9, Z10, Z11) \
	GATHER_QUAD(Z28, Z29, Z30, Z31, Z12, Z13, Z14, Z15) \
	LANES_STORE(Z0, Z4, Z8, Z12, 0)                   \
	LANES_STORE(Z1, Z5, Z9, Z13, 1)                   \
	LANES_STORE(Z2, Z6, Z10, Z14, 2)                  \
	LANES_STORE(Z3, Z7, Z11, Z15, 3)

// WIDEN_BF16 widens the 16 BF16 weights at src into z.
#define WIDEN_BF16(src, z) \
	VPMOVZXWD src, z \
	VPSLLD    $16, z, z

// func packBT16F16AVX512(kc16 int, b *uint16, ldb int, dst *float32)
//
// packBT16AVX512 for rows of F16 weights, widened to floats as they are
// loaded: dst[c·16 + r] = b[r·ldb + c] for c < 16·kc16. R8 = ldb and R9 =
// 3·ldb in bytes.
TEXT ·packBT16F16AVX512(SB), NOSPLIT, $0-32
	MOVQ  kc16+0(FP), CX
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
	VCVTPH2PS (SI), Z0
	VCVTPH2PS (SI)(R8*1), Z1
	VCVTPH2PS (SI)(R8*2), Z2
	VCVTPH2PS (SI)(R9*1), Z3
	VCVTPH2PS (BX), Z4
	VCVTPH2PS (BX)(R8*1), Z5
	VCVTPH2PS (BX)(R8*2), Z6
	VCVTPH2PS (BX)(R9*1), Z7
	VCVTPH2PS (R10), Z8
	VCVTPH2PS (R10)(R8*1), Z9
	VCVTPH2PS (R10)(R8*2), Z10
	VCVTPH2PS (R10)(R9*1), Z11
	VCVTPH2PS (R11), Z12
	VCVTPH2PS (R11)(R8*1), Z13
	VCVTPH2PS (R11)(R8*2), Z14
	VCVTPH2PS (R11)(R9*1), Z15
	TRANSPOSE_STORE_16x16

	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $1024, DI
	DECQ CX
	JNZ  f16_loop

f16_done:
	VZEROUPPER
	RET

// func packBT16BF16AVX512(kc16 int, b *uint16, ldb int, dst *float32)
//
// packBT16F16AVX512 for BF16 weights. Needs AVX512BW as well as AVX512F.
TEXT ·packBT16BF16AVX512(SB), NOSPLIT, $0-32
	MOVQ  kc16+0(FP), CX
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
	WIDEN_BF16((SI), Z0)
	WIDEN_BF16((SI)(R8*1), Z1)
	WIDEN_BF16((SI)(R8*2), Z2)
	WIDEN_BF16((SI)(R9*1), Z3)
	WIDEN_BF16((BX), Z4)
	WIDEN_BF16((BX)(R8*1), Z5)
	WIDEN_BF16((BX)(R8*2), Z6)
	WIDEN_BF16((BX)(R9*1), Z7)
	WIDEN_BF16((R10), Z8)
	WIDEN_BF16((R10)(R8*1), Z9)
	WIDEN_BF16((R10)(R8*2), Z10)
	WIDEN_BF16((R10)(R9*1), Z11)
	WIDEN_BF16((R11), Z12)
	WIDEN_BF16((R11)(R8*1), Z13)
	WIDEN_BF16((R11)(R8*2), Z14)
	WIDEN_BF16((R11)(R9*1), Z15)
	TRANSPOSE_STORE_16x16

	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $1024, DI
	DECQ CX
	JNZ  bf16_loop

bf16_done:
	VZEROUPPER
	RET
