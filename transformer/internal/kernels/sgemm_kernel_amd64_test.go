//go:build amd64 && !purego

package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// sgemmTilingCase is a tiling of the packed product under test, with the
// kernel choice that makes it available.
type sgemmTilingCase struct {
	name   string
	tiling *sgemmTiling
	path   sgemmPath
}

var sgemmTilingCases = []sgemmTilingCase{
	{"avx2", &sgemmTilingAVX2, sgemmPaths[1]},
	{"avx512", &sgemmTilingAVX512, sgemmPaths[2]},
}

// TestSgemmPackedTilings runs the packed product with each tiling on every
// row count up to 20, whatever tiling sgemmTilingFor would pick, in both
// of b's layouts. Row counts below 8 reach the AVX-512 edge kernel, which
// MatMulT itself never gives them.
func TestSgemmPackedTilings(t *testing.T) {
	for _, tc := range sgemmTilingCases {
		t.Run(tc.name, func(t *testing.T) {
			if reason := tc.path.missing(); reason != "" {
				t.Skip(reason)
			}
			rng := rand.New(rand.NewPCG(21, 22))
			for m := 1; m <= 20; m++ {
				for _, cols := range []int{1, 15, 16, 17, 40, 70} {
					for _, depth := range []int{1, 3, 7, 8, 9, 33, 260} {
						checkPackedProduct(t, rng, tc.tiling, true, m, depth, cols)
						checkPackedProduct(t, rng, tc.tiling, false, m, depth, cols)
					}
				}
			}
		})
	}
}

// checkPackedProduct runs sgemmPackedWith on random data with tiling t
// and compares it with the float64 product. With transB, b is
// [cols, depth] as in MatMulT, otherwise [depth, cols].
func checkPackedProduct(t *testing.T, rng *rand.Rand, tiling *sgemmTiling, transB bool, m, depth, cols int) {
	t.Helper()
	a, _ := offsetSlice(rng, m*depth)
	b, _ := offsetSlice(rng, depth*cols)
	bRows := b
	if !transB {
		// The reference takes b as [cols, depth].
		bRows = make([]float32, len(b))
		for c := range depth {
			for j := range cols {
				bRows[j*depth+c] = b[c*cols+j]
			}
		}
	}
	want, magnitude := matMulTReference(a, bRows, m, depth, cols)

	dst, whole := guardedDst(m * cols)
	ldb := depth
	if !transB {
		ldb = cols
	}
	sgemmPackedWith(tiling, dst, cols, a, depth, sgemmOperand{f32: b, ld: ldb, trans: transB}, m, depth, cols)
	label := fmt.Sprintf("transB=%v m=%d depth=%d cols=%d", transB, m, depth, cols)
	checkProduct(t, label, dst, whole, want, magnitude, cols, depth)
}

func TestSgemmTilingForRows(t *testing.T) {
	if !sgemmAVX512Available {
		t.Skip("no AVX-512F kernels on this machine (needs AVX-512F)")
	}
	for _, tc := range []struct {
		m    int
		want *sgemmTiling
	}{
		// 16 rows of AVX-512 tiles against 12 of AVX2 tiles.
		{9, &sgemmTilingAVX2},
		{13, &sgemmTilingAVX512},
		{16, &sgemmTilingAVX512},
		// 16 + 8 rows against 18.
		{17, &sgemmTilingAVX2},
		{20, &sgemmTilingAVX512},
		{24, &sgemmTilingAVX512},
		// 96 + 8 rows against 102.
		{100, &sgemmTilingAVX2},
		{128, &sgemmTilingAVX512},
	} {
		if got := sgemmTilingFor(tc.m); got != tc.want {
			t.Errorf("m=%d: got the tiling with %d-row tiles, want %d", tc.m, got.mr, tc.want.mr)
		}
	}
	withSgemmPath(sgemmPaths[1], func() {
		if got := sgemmTilingFor(128); got != &sgemmTilingAVX2 {
			t.Errorf("m=128 with AVX-512 off: got the tiling with %d-row tiles, want 6", got.mr)
		}
	})
}

// BenchmarkSgemmKernels times each micro-kernel alone on slivers that stay
// in the L1 cache, which bounds what the packed product can reach.
func BenchmarkSgemmKernels(b *testing.B) {
	for _, tc := range sgemmTilingCases {
		b.Run(tc.name, func(b *testing.B) {
			if reason := tc.path.missing(); reason != "" {
				b.Skip(reason)
			}
			mr, kc := tc.tiling.mr, tc.tiling.kc
			a := make([]float32, kc*mr)
			w := make([]float32, kc*sgemmNR)
			c := make([]float32, mr*sgemmNR)
			for b.Loop() {
				tc.tiling.kernel(kc, &a[0], &w[0], &c[0], sgemmNR, 1)
			}
			flops := 2 * float64(kc*mr*sgemmNR) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
