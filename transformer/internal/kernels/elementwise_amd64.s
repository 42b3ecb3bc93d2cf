//go:build amd64 && !purego

#include "textflag.h"

// Constants of expApprox in activation.go, each repeated in four float64
// lanes.
#define CONST4(name, bits) \
	DATA name<>+0(SB)/8, bits \
	DATA name<>+8(SB)/8, bits \
	DATA name<>+16(SB)/8, bits \
	DATA name<>+24(SB)/8, bits \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST4(expLog2E, $0x3FF71547652B82FE)
CONST4(expLn2Hi, $0x3FE62E42FEE00000)
CONST4(expLn2Lo, $0x3DEA39EF35793C76)
CONST4(expMin, $0xC086200000000000)
CONST4(expMax, $0x4086280000000000)
CONST4(expMagic, $0x4338000000000000) // 1.5·2⁵²
CONST4(expOne, $0x3FF0000000000000)
CONST4(expInf, $0x7FF0000000000000)
CONST4(expC9, $0x3EC71DE3A556C734) // 1/9!
CONST4(expC8, $0x3EFA01A01A01A01A)
CONST4(expC7, $0x3F2A01A01A01A01A)
CONST4(expC6, $0x3F56C16C16C16C17)
CONST4(expC5, $0x3F81111111111111)
CONST4(expC4, $0x3FA5555555555555)
CONST4(expC3, $0x3FC5555555555555)
CONST4(expC2, $0x3FE0000000000000)
CONST4(geluCubic, $0x3FA6E4E26D4801F7)   // 0.044715
CONST4(geluMinus2C, $0xBFF9884533D43651) // −2·√(2/π)

// LOAD_EXP_CONSTS loads the constants that EXP_Y0 keeps in registers.
#define LOAD_EXP_CONSTS \
	VMOVUPD expInf<>(SB), Y8 \
	VMOVUPD expOne<>(SB), Y9 \
	VMOVUPD expMagic<>(SB), Y10 \
	VMOVUPD expMax<>(SB), Y11 \
	VMOVUPD expMin<>(SB), Y12 \
	VMOVUPD expLn2Lo<>(SB), Y13 \
	VMOVUPD expLn2Hi<>(SB), Y14 \
	VMOVUPD expLog2E<>(SB), Y15

// EXP_Y0 replaces the four float64 lanes y of Y0 with exp(y), as
// expApprox computes it. It clobbers Y1 to Y5.
//
// The clamps take the NaN operand when one is NaN, so a NaN y stays NaN
// in Y1 and the final addition of Y1 − Y1 (0 otherwise) makes the result
// NaN. 2^k is added to the exponent bits of the polynomial: k + 1.5·2⁵²
// holds k in its low mantissa bits, which the shift moves to the exponent.
#define EXP_Y0 \
	VMAXPD Y0, Y12, Y1 \
	VMINPD Y1, Y11, Y1 \
	VMULPD Y15, Y1, Y2 \
	VROUNDPD $0, Y2, Y2 \
	VMOVAPD Y1, Y3 \
	VFNMADD231PD Y14, Y2, Y3 \
	VFNMADD231PD Y13, Y2, Y3 \
	VMOVUPD expC9<>(SB), Y4 \
	VFMADD213PD expC8<>(SB), Y3, Y4 \
	VFMADD213PD expC7<>(SB), Y3, Y4 \
	VFMADD213PD expC6<>(SB), Y3, Y4 \
	VFMADD213PD expC5<>(SB), Y3, Y4 \
	VFMADD213PD expC4<>(SB), Y3, Y4 \
	VFMADD213PD expC3<>(SB), Y3, Y4 \
	VFMADD213PD expC2<>(SB), Y3, Y4 \
	VFMADD213PD Y9, Y3, Y4 \
	VFMADD213PD Y9, Y3, Y4 \
	VADDPD Y10, Y2, Y2 \
	VPSLLQ $52, Y2, Y2 \
	VPADDQ Y2, Y4, Y4 \
	VCMPPD $0x11, Y12, Y0, Y5 \
	VANDNPD Y4, Y5, Y4 \
	VCMPPD $0x1e, Y11, Y0, Y5 \
	VBLENDVPD Y5, Y8, Y4, Y4 \
	VSUBPD Y1, Y1, Y5 \
	VADDPD Y5, Y4, Y0

// func geluAVX2(out, x *float32, n int)
TEXT ·geluAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	LOAD_EXP_CONSTS
	SHRQ $2, CX
	JZ   geluDone

geluLoop:
	VCVTPS2PD (SI), Y6
	VMULPD    Y6, Y6, Y7
	VMOVAPD   Y9, Y0
	VFMADD231PD geluCubic<>(SB), Y7, Y0
	VMULPD    geluMinus2C<>(SB), Y6, Y7
	VMULPD    Y7, Y0, Y0
	EXP_Y0
	VADDPD    Y9, Y0, Y0
	VDIVPD    Y0, Y6, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS   X0, (DI)
	ADDQ      $16, SI
	ADDQ      $16, DI
	DECQ      CX
	JNZ       geluLoop

geluDone:
	VZEROUPPER
	RET

// func siluAVX2(out, x *float32, n int)
TEXT ·siluAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	LOAD_EXP_CONSTS
	VXORPD Y7, Y7, Y7
	SHRQ $2, CX
	JZ   siluDone

siluLoop:
	VCVTPS2PD (SI), Y6
	VSUBPD    Y6, Y7, Y0
	EXP_Y0
	VADDPD    Y9, Y0, Y0
	VDIVPD    Y0, Y6, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS   X0, (DI)
	ADDQ      $16, SI
	ADDQ      $16, DI
	DECQ      CX
	JNZ       siluLoop

siluDone:
	VZEROUPPER
	RET

// func expShiftSumAVX2(x *float32, n int, shift float32) float64
TEXT ·expShiftSumAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS shift+16(FP), X7
	LOAD_EXP_CONSTS
	VXORPD Y6, Y6, Y6
	SHRQ $2, CX
	JZ   sumDone

sumLoop:
	VMOVUPS   (SI), X0
	VSUBPS    X7, X0, X0
	VCVTPS2PD X0, Y0
	EXP_Y0
	VADDPD    Y0, Y6, Y6
	VCVTPD2PSY Y0, X0
	VMOVUPS   X0, (SI)
	ADDQ      $16, SI
	DECQ      CX
	JNZ       sumLoop

sumDone:
	VEXTRACTF128 $1, Y6, X1
	VADDPD    X1, X6, X6
	VUNPCKHPD X6, X6, X1
	VADDSD    X1, X6, X6
	VMOVSD    X6, ret+24(FP)
	VZEROUPPER
	RET

// func sdotAVX2(a, b *float32, n int) float32
TEXT ·sdotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dot32:
	CMPQ CX, $32
	JL   dot8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  dot32

dot8:
	CMPQ CX, $8
	JL   dotReduce
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  dot8

dotReduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS  X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS  X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS  X1, X0, X0

dot1:
	TESTQ CX, CX
	JZ    dotDone
	VMOVSS      (SI), X4
	VFMADD231SS (DI), X4, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  dot1

dotDone:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func saxpyAVX2(alpha float32, x, y *float32, n int)
TEXT ·saxpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y8
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX

axpy32:
	CMPQ CX, $32
	JL   axpy8
	VMOVUPS     (DI), Y0
	VMOVUPS     32(DI), Y1
	VMOVUPS     64(DI), Y2
	VMOVUPS     96(DI), Y3
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS 32(SI), Y8, Y1
	VFMADD231PS 64(SI), Y8, Y2
	VFMADD231PS 96(SI), Y8, Y3
	VMOVUPS     Y0, (DI)
	VMOVUPS     Y1, 32(DI)
	VMOVUPS     Y2, 64(DI)
	VMOVUPS     Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  axpy32

axpy8:
	CMPQ CX, $8
	JL   axpy1
	VMOVUPS     (DI), Y0
	VFMADD231PS (SI), Y8, Y0
	VMOVUPS     Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  axpy8

axpy1:
	TESTQ CX, CX
	JZ    axpyDone
	VMOVSS      (DI), X0
	VFMADD231SS (SI), X8, X0
	VMOVSS      X0, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  axpy1

axpyDone:
	VZEROUPPER
	RET

// func floatToHalfBits(n8 int, src *float32, dst *uint16)
//
// VCVTPS2PH with immediate 0 rounds to nearest with ties to even, whatever
// the rounding mode in MXCSR.
TEXT ·floatToHalfBits(SB), NOSPLIT, $0-24
	MOVQ n8+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI

half_loop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, X1
	VMOVDQU   X1, (DI)
	ADDQ      $32, SI
	ADDQ      $16, DI
	DECQ      CX
	JNZ       half_loop

	VZEROUPPER
	RET
