//go:build !amd64 || purego

package kernels

// useActivationAsm is false where there are no assembly kernels for the
// activations and softmax.
var useActivationAsm = false

func geluAsm(out, x []float32)                          { panic("kernels: no assembly GELU") }
func siluAsm(out, x []float32)                          { panic("kernels: no assembly SiLU") }
func expShiftSumAsm(x []float32, shift float32) float64 { panic("kernels: no assembly softmax") }
