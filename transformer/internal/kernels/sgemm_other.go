//go:build !amd64 || purego

package kernels

// useSgemmAsm and useSgemmAVX512 are false where there are no assembly
// kernels, so MatMulT always takes the portable path.
var (
	useSgemmAsm    = false
	useSgemmAVX512 = false
)

// sgemmAsm is never called without assembly kernels.
func sgemmAsm(dst, x, w []float32, m, k, n int) {
	panic("kernels: no assembly sgemm on this platform")
}

// sgemmInputGradAsm is never called without assembly kernels.
func sgemmInputGradAsm(dx, dy, w []float32, m, n, k int) {
	panic("kernels: no assembly sgemm on this platform")
}
