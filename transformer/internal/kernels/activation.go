package kernels

import "math"

// Constants of expApprox and of the activations built on it. The
// reduction is Cody and Waite's: y = k·ln 2 + r with |r| ≤ ln 2 / 2. ln 2
// is split as Go's math.Exp splits it (after FreeBSD's e_exp.c), so that
// k·expLn2Hi is exact for |k| < 2²¹. exp(r) is its Taylor polynomial of
// degree 9, whose truncation error on that interval is below 7e-12
// relative, far below float32's rounding of the results.
const (
	expLog2E = 1.4426950408889634
	expLn2Hi = 6.93147180369123816490e-01
	expLn2Lo = 1.90821492927058770002e-10
	// exp(expMin) ≈ 3e-308 is the smallest value computed before it
	// underflows to 0, and exp(expMax) ≈ 8e307 the largest before it
	// overflows to +Inf. Both are far outside float32's range.
	expMin = -708.0
	expMax = 709.0

	geluSqrt2OverPi = 0.7978845608028654 // √(2/π)
	geluCubic       = 0.044715
)

// expApprox returns exp(y) to within about 1e-11 relative: 0 below expMin,
// +Inf above expMax, NaN for NaN. The AVX2 kernels compute the same
// reduction and polynomial four lanes at a time, with fused multiply-adds.
func expApprox(y float64) float64 {
	switch {
	case y != y:
		return y
	case y < expMin:
		return 0
	case y > expMax:
		return math.Inf(1)
	}
	// Adding and subtracting 1.5·2⁵² rounds to the nearest integer, ties
	// to even, as math.RoundToEven does, but without its call on amd64.
	const roundingShift = 0x1.8p52
	k := (y*expLog2E + roundingShift) - roundingShift
	r := y - k*expLn2Hi
	r -= k * expLn2Lo
	// Estrin's scheme: the same polynomial as the AVX2 kernels' Horner
	// rule, in a shorter chain of dependent operations.
	r2 := r * r
	r4 := r2 * r2
	p01 := 1 + r
	p23 := 0.5 + r*(1.0/6)
	p45 := 1.0/24 + r*(1.0/120)
	p67 := 1.0/720 + r*(1.0/5040)
	p89 := 1.0/40320 + r*(1.0/362880)
	p := (p01 + r2*p23) + r4*((p45+r2*p67)+r4*p89)
	// p lies in [0.7, 1.42], so adding k to its exponent gives a normal
	// number for every k that expMin and expMax allow.
	return math.Float64frombits(math.Float64bits(p) + uint64(int64(k))<<52)
}

// geluGo is GELU for one range of out and x. It evaluates the tanh form
// as x·σ(2u) = x / (1 + exp(−2u)), with u = √(2/π)·(x + 0.044715·x³),
// which avoids the cancellation in 1 + tanh(u) for negative x.
func geluGo(out, x []float32) {
	out = out[:len(x)]
	for i, v := range x {
		f := float64(v)
		y := f * (-2 * geluSqrt2OverPi) * (1 + geluCubic*f*f)
		out[i] = float32(f / (1 + expApprox(y)))
	}
}

// siluGo is SiLU for one range of out and x.
func siluGo(out, x []float32) {
	out = out[:len(x)]
	for i, v := range x {
		f := float64(v)
		out[i] = float32(f / (1 + expApprox(-f)))
	}
}

// expShiftSumGo sets x[i] = exp(x[i] − shift) and returns the sum of the
// exponentials in float64. It takes the difference in float32, so it
// returns exp of the float32 difference. Rounding the difference, by up
// to 2⁻²⁴ of it, is a relative error of exp: at most about 1e-6 for a
// probability of e⁻²⁰.
func expShiftSumGo(x []float32, shift float32) float64 {
	var sum float64
	for i, v := range x {
		e := expApprox(float64(v - shift))
		x[i] = float32(e)
		sum += e
	}
	return sum
}
