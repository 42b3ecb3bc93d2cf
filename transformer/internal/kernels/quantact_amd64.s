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
