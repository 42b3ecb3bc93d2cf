//go:build amd64 && !purego

package kernels

import "testing"

// BenchmarkSgemmKernel6x16 times the micro-kernel alone on slivers that
// stay in the L1 cache, which bounds what the packed product can reach.
func BenchmarkSgemmKernel6x16(b *testing.B) {
	if !useSgemmAsm {
		b.Skip("no AVX2 and FMA")
	}
	a := make([]float32, sgemmKC*sgemmMR)
	w := make([]float32, sgemmKC*sgemmNR)
	c := make([]float32, sgemmMR*sgemmNR)
	for b.Loop() {
		sgemmKernel6x16(sgemmKC, &a[0], &w[0], &c[0], sgemmNR, 1)
	}
	flops := 2 * float64(sgemmKC*sgemmMR*sgemmNR) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
