//go:build !amd64 || purego

package kernels

// useElementwiseAsm is false where there are no assembly kernels for the
// activations, softmax, Dot and Axpy.
var useElementwiseAsm = false

func geluAsm(out, x []float32)                          { panic("kernels: no assembly GELU") }
func siluAsm(out, x []float32)                          { panic("kernels: no assembly SiLU") }
func expShiftSumAsm(x []float32, shift float32) float64 { panic("kernels: no assembly softmax") }
func dotAsm(a, b []float32) float32                     { panic("kernels: no assembly Dot") }
func axpyAsm(alpha float32, x, y []float32)             { panic("kernels: no assembly Axpy") }
