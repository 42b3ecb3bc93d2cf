//go:build amd64 && !purego

package kernels

// dotRowsAsm is DotRows with sdot4 (or sdot4AVX512), four rows a call and
// the rows after the last four one at a time through ldw = 0. It returns
// false without the assembly kernels. The caller has checked the bounds
// and that x is not empty.
func dotRowsAsm(dst, x, w []float32, ld int) bool {
	if !useSgemmAsm {
		return false
	}
	n, k := len(dst), len(x)
	avx512 := useSgemmAVX512
	var out [4]float32
	s := 0
	for ; s+4 <= n; s += 4 {
		if avx512 {
			sdot4AVX512(k, &x[0], &w[s*ld], ld, &out[0])
		} else {
			sdot4(k, &x[0], &w[s*ld], ld, &out[0])
		}
		copy(dst[s:s+4], out[:])
	}
	for ; s < n; s++ {
		if avx512 {
			sdot4AVX512(k, &x[0], &w[s*ld], 0, &out[0])
		} else {
			sdot4(k, &x[0], &w[s*ld], 0, &out[0])
		}
		dst[s] = out[0]
	}
	return true
}

// axpyRowsAsm is AxpyRows with saxpy4 (or saxpy4AVX512) over whole groups
// of four rows and eight columns, and Axpy for the rest. Like Axpy, those
// kernels add each row to y with one FMA per float, in row order. It
// returns false without the assembly kernels. The caller has checked the
// bounds and that y is not empty.
func axpyRowsAsm(y, p, w []float32, ld int) bool {
	if !useSgemmAsm {
		return false
	}
	n, k := len(p), len(y)
	k8 := k / 8
	avx512 := useSgemmAVX512
	s := 0
	for ; s+4 <= n; s += 4 {
		switch {
		case k8 > 0 && avx512:
			saxpy4AVX512(k8, &p[s], &w[s*ld], ld, &y[0])
		case k8 > 0:
			saxpy4(k8, &p[s], &w[s*ld], ld, &y[0])
		}
		if tail := 8 * k8; tail < k {
			for r := s; r < s+4; r++ {
				Axpy(p[r], w[r*ld+tail:r*ld+k], y[tail:])
			}
		}
	}
	for ; s < n; s++ {
		Axpy(p[s], w[s*ld:][:k], y)
	}
	return true
}
