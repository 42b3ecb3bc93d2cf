//go:build !amd64 || purego

package kernels

// useQuantAsm is false where there are no assembly dot products, so
// quantized products always take the portable path.
var useQuantAsm = false

// useQuantRows, useQuantVNNI and useQuantQuad select assembly variants on
// amd64. Tests set them on every platform.
var useQuantRows, useQuantVNNI, useQuantQuad = false, false, false

// matMulQuantizedAsm returns false: there are no assembly dot products on
// this platform.
func matMulQuantizedAsm(dst []float32, xq *quantRows, m int, w *Matrix) bool {
	return false
}
