//go:build amd64 && !purego

#include "textflag.h"

// Dot products with F16 and BF16 weights, which are widened exactly to
// float32 as they are read. VCVTPH2PS (F16C) widens eight F16 values to
// floats. A BF16 value is the upper half of a float32, so VPMOVZXWD and a
// left shift by 16 widen it.

// Widening of eight weights at addr into reg, F16 or BF16.
#define CVT_F16(addr, reg) \
	VCVTPH2PS addr, reg

#define CVT_BF16(addr, reg) \
	VPMOVZXWD addr, reg \
	VPSLLD    $16, reg, reg

// HDOT_REDUCE adds the eight lanes of each of the sums Y0–Y3 pairwise
// and stores the four rows' totals at DX, as HDOT2_REDUCE does for row 0
// of x.
#define HDOT_REDUCE \
	VHADDPS      Y1, Y0, Y0 \
	VHADDPS      Y3, Y2, Y2 \
	VHADDPS      Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVUPS      X0, (DX)   \
	VZEROUPPER

// HDOT_SETUP takes w in DI and its row stride in words in R8, points R9,
// R10 and R11 at rows 1 to 3, and clears the sums and AX, the byte offset
// into every weight row.
#define HDOT_SETUP \
	SHLQ   $1, R8           \
	LEAQ   (DI)(R8*1), R9   \
	LEAQ   (R9)(R8*1), R10  \
	LEAQ   (R10)(R8*1), R11 \
	VXORPS Y0, Y0, Y0       \
	VXORPS Y1, Y1, Y1       \
	VXORPS Y2, Y2, Y2       \
	VXORPS Y3, Y3, Y3       \
	VXORPS Y4, Y4, Y4       \
	VXORPS Y5, Y5, Y5       \
	VXORPS Y6, Y6, Y6       \
	VXORPS Y7, Y7, Y7       \
	XORQ   AX, AX

// HDOT_STEP multiplies the eight floats of x in xr by eight weights of
// each row at byte offset off and adds them to sums s0 to s3.
#define HDOT_STEP(cvt, xr, off, s0, s1, s2, s3) \
	cvt(off(DI)(AX*1), Y10)  \
	cvt(off(R9)(AX*1), Y11)  \
	cvt(off(R10)(AX*1), Y12) \
	cvt(off(R11)(AX*1), Y13) \
	VFMADD231PS Y10, xr, s0  \
	VFMADD231PS Y11, xr, s1  \
	VFMADD231PS Y12, xr, s2  \
	VFMADD231PS Y13, xr, s3

// func hdot4F16(k8 int, x *float32, w *uint16, ldw int, dst *float32)
//
// Sets dst[r] to the sum over c < 8·k8 of x[c]·w[r·ldw + c] for r = 0 … 3,
// with the F16 weights widened on the fly. Lane l of Y0–Y3 sums columns
// c ≡ l (mod 8) in order, in one chain of FMAs, as hdot4x2F16 does for
// each row of x, so that a row's result does not depend on whether it was
// paired with another.
TEXT ·hdot4F16(SB), NOSPLIT, $0-40
	MOVQ k8+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), R8
	MOVQ dst+32(FP), DX
	HDOT_SETUP
	MOVQ CX, BX
	SHRQ $1, BX
	JZ   hf16_tail

hf16_loop:
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	HDOT_STEP(CVT_F16, Y8, 0, Y0, Y1, Y2, Y3)
	HDOT_STEP(CVT_F16, Y9, 16, Y0, Y1, Y2, Y3)
	ADDQ    $64, SI
	ADDQ    $32, AX
	DECQ    BX
	JNZ     hf16_loop

hf16_tail:
	TESTQ $1, CX
	JZ    hf16_reduce
	VMOVUPS (SI), Y8
	HDOT_STEP(CVT_F16, Y8, 0, Y0, Y1, Y2, Y3)

hf16_reduce:
	HDOT_REDUCE
	RET

// func hdot4BF16(k8 int, x *float32, w *uint16, ldw int, dst *float32)
//
// hdot4F16 for BF16 weights.
TEXT ·hdot4BF16(SB), NOSPLIT, $0-40
	MOVQ k8+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), R8
	MOVQ dst+32(FP), DX
	HDOT_SETUP
	MOVQ CX, BX
	SHRQ $1, BX
	JZ   hbf16_tail

hbf16_loop:
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	HDOT_STEP(CVT_BF16, Y8, 0, Y0, Y1, Y2, Y3)
	HDOT_STEP(CVT_BF16, Y9, 16, Y0, Y1, Y2, Y3)
	ADDQ    $64, SI
	ADDQ    $32, AX
	DECQ    BX
	JNZ     hbf16_loop

hbf16_tail:
	TESTQ $1, CX
	JZ    hbf16_reduce
	VMOVUPS (SI), Y8
	HDOT_STEP(CVT_BF16, Y8, 0, Y0, Y1, Y2, Y3)

hbf16_reduce:
	HDOT_REDUCE
	RET

// func roundToF16(n8 int, src, dst *float32)
//
// Rounds 8·n8 floats to F16 values, to nearest with ties to even
// (VCVTPS2PH with rounding control 0), and widens them back.
TEXT ·roundToF16(SB), NOSPLIT, $0-24
	MOVQ  n8+0(FP), CX
	MOVQ  src+8(FP), SI
	MOVQ  dst+16(FP), DI
	TESTQ CX, CX
	JZ    round_done

round_loop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, X1
	VCVTPH2PS X1, Y1
	VMOVUPS   Y1, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       round_loop

round_done:
	VZEROUPPER
	RET

// HDOT2_STEP multiplies eight weights of each of the four rows, widened
// by cvt, by the eight floats of both rows of x in Y8 and Y9, and adds
// them to the sums Y0–Y3 (row 0 of x) and Y4–Y7 (row 1).
#define HDOT2_STEP(cvt) \
	VMOVUPS     (SI), Y8           \
	VMOVUPS     (SI)(R13*1), Y9    \
	cvt((DI)(AX*1), Y10)           \
	cvt((R9)(AX*1), Y11)           \
	cvt((R10)(AX*1), Y12)          \
	cvt((R11)(AX*1), Y13)          \
	VFMADD231PS Y10, Y8, Y0        \
	VFMADD231PS Y11, Y8, Y1        \
	VFMADD231PS Y12, Y8, Y2        \
	VFMADD231PS Y13, Y8, Y3        \
	VFMADD231PS Y10, Y9, Y4        \
	VFMADD231PS Y11, Y9, Y5        \
	VFMADD231PS Y12, Y9, Y6        \
	VFMADD231PS Y13, Y9, Y7

// HDOT2_REDUCE stores the four sums of row 0 of x at DX and those of row
// 1 at DX+16.
#define HDOT2_REDUCE \
	VHADDPS      Y1, Y0, Y0 \
	VHADDPS      Y3, Y2, Y2 \
	VHADDPS      Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVUPS      X0, (DX)   \
	VHADDPS      Y5, Y4, Y4 \
	VHADDPS      Y7, Y6, Y6 \
	VHADDPS      Y6, Y4, Y4 \
	VEXTRACTF128 $1, Y4, X5 \
	VADDPS       X5, X4, X4 \
	VMOVUPS      X4, 16(DX) \
	VZEROUPPER

// func hdot4x2F16(k8 int, x *float32, ldx int, w *uint16, ldw int, dst *float32)
//
// Sets dst[4i + r] to the sum over c < 8·k8 of x[i·ldx + c]·w[r·ldw + c]
// for the rows i = 0, 1 of x and r = 0 … 3 of F16 weights, widening each
// weight once for both rows. R13 is the byte distance of the rows of x.
TEXT ·hdot4x2F16(SB), NOSPLIT, $0-48
	MOVQ k8+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R13
	MOVQ w+24(FP), DI
	MOVQ ldw+32(FP), R8
	MOVQ dst+40(FP), DX
	SHLQ $2, R13
	HDOT_SETUP
	TESTQ CX, CX
	JZ    h2f16_reduce

h2f16_loop:
	HDOT2_STEP(CVT_F16)
	ADDQ $32, SI
	ADDQ $16, AX
	DECQ CX
	JNZ  h2f16_loop

h2f16_reduce:
	HDOT2_REDUCE
	RET

// func hdot4x2BF16(k8 int, x *float32, ldx int, w *uint16, ldw int, dst *float32)
//
// hdot4x2F16 for BF16 weights.
TEXT ·hdot4x2BF16(SB), NOSPLIT, $0-48
	MOVQ k8+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R13
	MOVQ w+24(FP), DI
	MOVQ ldw+32(FP), R8
	MOVQ dst+40(FP), DX
	SHLQ $2, R13
	HDOT_SETUP
	TESTQ CX, CX
	JZ    h2bf16_reduce

h2bf16_loop:
	HDOT2_STEP(CVT_BF16)
	ADDQ $32, SI
	ADDQ $16, AX
	DECQ CX
	JNZ  h2bf16_loop

h2bf16_reduce:
	HDOT2_REDUCE
	RET
