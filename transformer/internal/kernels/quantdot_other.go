//go:build !amd64 || purego

package kernels

// useQuantAsm is false where there are no assembly dot products, so
// quantized products always take the portable path.
var useQuantAsm = false

// matMulQuantizedAsm returns false: there are no assembly dot products on
// this platform.
func matMulQuantizedAsm(dst []float32, xq *quantRows, m int, w *Matrix) bool {
	return false
}
