//go:build !amd64 || purego

package kernels

import "github.com/interp-go/interp/gguf"

// useElementwiseAsm is false where there are no assembly kernels for the
// activations, softmax, Dot and Axpy.
var useElementwiseAsm = false

// useHalfConvertAsm is false where there is no assembly F16 conversion.
var useHalfConvertAsm = false

// toHalfBits sets dst[i] to the F16 bits of x[i] for every i.
func toHalfBits(dst []uint16, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = gguf.Float32ToF16(v)
	}
}

func geluAsm(out, x []float32)                          { panic("kernels: no assembly GELU") }
func siluAsm(out, x []float32)                          { panic("kernels: no assembly SiLU") }
func expShiftSumAsm(x []float32, shift float32) float64 { panic("kernels: no assembly softmax") }
func dotAsm(a, b []float32) float32                     { panic("kernels: no assembly Dot") }
func axpyAsm(alpha float32, x, y []float32)             { panic("kernels: no assembly Axpy") }
