//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// useQuantizeAVX512 selects maxMagnitudeQ8_KAVX512 and
// quantizeBlockQ8_KAVX512 for rounding activations to Q8_K. Tests turn it
// off to compare them with the Go loops.
var useQuantizeAVX512 = cpu.X86.HasAVX512F

func init() {
	maxMagnitudeQ8_K = func(xb *[qkK]float32) float32 {
		if useQuantizeAVX512 {
			return maxMagnitudeQ8_KAVX512(&xb[0])
		}
		return maxMagnitudeQ8_KGo(xb)
	}
	quantizeBlockQ8_K = func(qb *[qkK]int8, sums *[qkK / 16]int16, xb *[qkK]float32, iscale float32) {
		if useQuantizeAVX512 {
			quantizeBlockQ8_KAVX512(&qb[0], &sums[0], &xb[0], iscale)
			return
		}
		quantizeBlockQ8_KGo(qb, sums, xb, iscale)
	}
}

// quantizeBlockQ8_KAVX512 is quantizeBlockQ8_KGo for the 256 values at x,
// 256 quants at qs and 16 sums at sums, with AVX512F: the same float32
// multiply and add, and the same integer steps, 16 values at a time.
//
//go:noescape
func quantizeBlockQ8_KAVX512(qs *int8, sums *int16, x *float32, iscale float32)

// maxMagnitudeQ8_KAVX512 is maxMagnitudeQ8_KGo for the 256 values at x,
// with AVX512F.
//
//go:noescape
func maxMagnitudeQ8_KAVX512(x *float32) float32
