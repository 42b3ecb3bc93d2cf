//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// useQuantizeAVX512 selects maxMagnitudeQ8_KAVX512 and
// quantizeBlockQ8_KAVX512 for rounding activations to Q8_K, and
// quantizeRowQ8_0AVX512 for rounding them to Q8_0. Tests turn it off to
// compare them with the Go loops.
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
	quantizeRowQ8_0 = func(qs []int8, d []float32, x []float32) {
		if !useQuantizeAVX512 {
			quantizeRowQ8_0Go(qs, d, x)
			return
		}
		blocks := len(x) / qk8
		if blocks == 0 {
			return
		}
		_ = qs[blocks*qk8-1]
		_ = d[blocks-1]
		for b := 0; b < blocks; b++ {
			// The assembly stops at a block with NaN or infinities,
			// which the Go loop rounds.
			b += quantizeRowQ8_0AVX512(&qs[b*qk8], &d[b], &x[b*qk8], blocks-b)
			if b < blocks {
				quantizeRowQ8_0Go(qs[b*qk8:(b+1)*qk8], d[b:b+1], x[b*qk8:(b+1)*qk8])
			}
		}
	}
}

// quantizeRowQ8_0AVX512 is quantizeRowQ8_0Go for blocks 32-value blocks
// at x, 32·blocks quants at qs and blocks scales at d, with AVX512F, up
// to the first block whose largest magnitude is NaN or infinite. It
// returns the number of blocks it rounded.
//
//go:noescape
func quantizeRowQ8_0AVX512(qs *int8, d *float32, x *float32, blocks int) int

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
