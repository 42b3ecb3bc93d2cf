//go:build amd64 && !purego

#include "textflag.h"

// 1.5·2²³ as a float32, which ggml's nearest_int adds to round.
DATA q8KRound<>+0(SB)/4, $0x4b400000
GLOBL q8KRound<>(SB), RODATA|NOPTR, $4

// The mantissa mask and the offset 2²² of nearest_int.
DATA q8KMantissa<>+0(SB)/4, $0x007fffff
GLOBL q8KMantissa<>(SB), RODATA|NOPTR, $4
DATA q8KOffset<>+0(SB)/4, $0x00400000
GLOBL q8KOffset<>(SB), RODATA|NOPTR, $4

// The largest Q8_K quant.
DATA q8KMax<>+0(SB)/4, $127
GLOBL q8KMax<>(SB), RODATA|NOPTR, $4

// func quantizeBlockQ8_KAVX512(qs *int8, sums *int16, x *float32, iscale float32)
//
// Each group of 16 values: q = min(127, bits(iscale·x + 1.5·2²³) & mask
// − 2²²) in int32, truncated to bytes by VPMOVDB as Go's int8 conversion
// truncates, and the sum of the 16 sign-extended bytes.
TEXT ·quantizeBlockQ8_KAVX512(SB), NOSPLIT, $0-28
	MOVQ         qs+0(FP), DI
	MOVQ         sums+8(FP), DX
	MOVQ         x+16(FP), SI
	VBROADCASTSS iscale+24(FP), Z4
	VBROADCASTSS q8KRound<>(SB), Z5
	VPBROADCASTD q8KMantissa<>(SB), Z6
	VPBROADCASTD q8KOffset<>(SB), Z7
	VPBROADCASTD q8KMax<>(SB), Z8
	MOVQ         $16, CX

q8Kloop:
	VMULPS        (SI), Z4, Z0
	VADDPS        Z5, Z0, Z0
	VPANDD        Z6, Z0, Z0
	VPSUBD        Z7, Z0, Z0
	VPMINSD       Z8, Z0, Z0
	VPMOVDB       Z0, X1
	VMOVDQU       X1, (DI)
	VPMOVSXBD     X1, Z2
	VEXTRACTI64X4 $1, Z2, Y3
	VPADDD        Y3, Y2, Y2
	VEXTRACTI128  $1, Y2, X3
	VPADDD        X3, X2, X2
	VPSHUFD       $0x4e, X2, X3
	VPADDD        X3, X2, X2
	VPSHUFD       $0xb1, X2, X3
	VPADDD        X3, X2, X2
	VMOVD         X2, AX
	MOVW          AX, (DX)
	ADDQ          $64, SI
	ADDQ          $16, DI
	ADDQ          $2, DX
	DECQ          CX
	JNZ           q8Kloop

	VZEROUPPER
	RET

// All bits but the sign of a float32.
DATA q8KAbs<>+0(SB)/4, $0x7fffffff
GLOBL q8KAbs<>(SB), RODATA|NOPTR, $4

// func maxMagnitudeQ8_KAVX512(x *float32) float32
//
// VMAXPS returns its second source when either is NaN, so with the
// running maximum as the second source a NaN value is passed over, as
// the Go loop's a > amax passes it over. The result is the first value
// whose magnitude equals the maximum.
TEXT ·maxMagnitudeQ8_KAVX512(SB), NOSPLIT, $0-12
	MOVQ         x+0(FP), SI
	VPBROADCASTD q8KAbs<>(SB), Z7
	VPXORD       Z0, Z0, Z0
	MOVQ         SI, DI
	MOVQ         $16, CX

q8Kmaxloop:
	VPANDD (DI), Z7, Z1
	VMAXPS Z0, Z1, Z0
	ADDQ   $64, DI
	DECQ   CX
	JNZ    q8Kmaxloop

	// The maximum in every element of Z0; no element is NaN.
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VPSHUFD       $0x4e, X0, X1
	VMAXPS        X1, X0, X0
	VPSHUFD       $0xb1, X0, X1
	VMAXPS        X1, X0, X0
	VXORPS        X2, X2, X2
	VUCOMISS      X2, X0
	JEQ           q8Kmaxzero
	VBROADCASTSS  X0, Z0
	MOVQ          $16, CX

q8Kfindloop:
	VPANDD  (SI), Z7, Z1
	VCMPPS  $0, Z0, Z1, K1
	KMOVW   K1, AX
	TESTL   AX, AX
	JNZ     q8Kfound
	ADDQ    $64, SI
	DECQ    CX
	JNZ     q8Kfindloop

q8Kmaxzero:
	VZEROUPPER
	MOVL $0, ret+8(FP)
	RET

q8Kfound:
	BSFL   AX, AX
	MOVL   (SI)(AX*4), AX
	MOVL   AX, ret+8(FP)
	VZEROUPPER
	RET

// 127, 1 and 0.5 as float32 for quantizeRowQ8_0AVX512.
DATA q80Max<>+0(SB)/4, $0x42fe0000
GLOBL q80Max<>(SB), RODATA|NOPTR, $4
DATA q80One<>+0(SB)/4, $0x3f800000
GLOBL q80One<>(SB), RODATA|NOPTR, $4
DATA q80Half<>+0(SB)/4, $0x3f000000
GLOBL q80Half<>(SB), RODATA|NOPTR, $4

// ROUND_AWAY sets Z to the float32 values of Z rounded to the nearest
// integer, halves away from zero, for |Z| < 2²³: t = trunc(|Z|), plus 1
// where |Z| − t ≥ 0.5 (both steps exact), with Z's sign put back. A NaN
// stays NaN. Z7 holds the mask of all bits but the sign, Z10 0.5 and
// Z11 1.
#define ROUND_AWAY(Z, A, T, F, K) \
	VPANDD      Z7, Z, A      \
	VRNDSCALEPS $3, A, T      \
	VSUBPS      T, A, F       \
	VCMPPS      $0x1d, Z10, F, K \
	VADDPS      Z11, T, K, T  \
	VPXORD      A, Z, A       \
	VPORD       A, T, Z

// func quantizeRowQ8_0AVX512(qs *int8, d *float32, x *float32, blocks int) int
//
// Rounds blocks 32-value blocks as quantizeRowQ8_0 does and returns the
// number of blocks done. It stops before the first block whose largest
// magnitude is not finite, which quantizeRowQ8_0 handles. The largest
// magnitude is the largest of the values' bits with the sign cleared,
// as integers, the order of the finite magnitudes. d = amax/127 and
// 1/d are the same float32 divisions, the F16 rounding of d is
// VCVTPS2PH's with ties to even, and the quants are the products
// v·(1/d) rounded as roundf rounds, converted with truncation to int32
// and truncated to bytes, as Go's conversion of the rounded float64 to
// int8 truncates.
TEXT ·quantizeRowQ8_0AVX512(SB), NOSPLIT, $0-40
	MOVQ         qs+0(FP), DI
	MOVQ         d+8(FP), DX
	MOVQ         x+16(FP), SI
	MOVQ         blocks+24(FP), CX
	XORQ         BX, BX
	VPBROADCASTD q8KAbs<>(SB), Z7
	VMOVSS       q80Max<>(SB), X8
	VMOVSS       q80One<>(SB), X9
	VBROADCASTSS q80Half<>(SB), Z10
	VBROADCASTSS q80One<>(SB), Z11
	TESTQ        CX, CX
	JEQ          q80done

q80loop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VPANDD  Z7, Z0, Z2
	VPANDD  Z7, Z1, Z3
	VPMAXUD Z3, Z2, Z2

	VEXTRACTI64X4 $1, Z2, Y3
	VPMAXUD       Y3, Y2, Y2
	VEXTRACTI128  $1, Y2, X3
	VPMAXUD       X3, X2, X2
	VPSHUFD       $0x4e, X2, X3
	VPMAXUD       X3, X2, X2
	VPSHUFD       $0xb1, X2, X3
	VPMAXUD       X3, X2, X2
	VMOVD         X2, AX
	CMPL          AX, $0x7f800000
	JAE           q80done

	// d = amax/127, stored after its F16 rounding; X6 = 1/d, or 0.
	VDIVSS    X8, X2, X4
	VCVTPS2PH $0, X4, X5
	VCVTPH2PS X5, X5
	VMOVSS    X5, (DX)
	VXORPS    X6, X6, X6
	VUCOMISS  X6, X4
	JEQ       q80scaled
	VDIVSS    X4, X9, X6

q80scaled:
	VBROADCASTSS X6, Z6
	VMULPS       Z6, Z0, Z0
	VMULPS       Z6, Z1, Z1
	ROUND_AWAY(Z0, Z2, Z3, Z4, K1)
	ROUND_AWAY(Z1, Z12, Z13, Z14, K2)
	VCVTTPS2DQ   Z0, Z0
	VCVTTPS2DQ   Z1, Z1
	VPMOVDB      Z0, X0
	VPMOVDB      Z1, X1
	VMOVDQU      X0, (DI)
	VMOVDQU      X1, 16(DI)

	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, DX
	INCQ BX
	CMPQ BX, CX
	JLT  q80loop

q80done:
	MOVQ BX, ret+32(FP)
	VZEROUPPER
	RET
