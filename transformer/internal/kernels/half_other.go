//go:build !amd64 || purego

package kernels

import "github.com/interp-go/interp/gguf"

// useHalfAsm and useHalfAVX512 are false where there are no assembly
// kernels, so products with F16 and BF16 weights always take the portable
// path.
var (
	useHalfAsm    = false
	useHalfAVX512 = false
)

// matMulHalfAsm returns false: there are no assembly kernels on this
// platform.
func matMulHalfAsm(dst, x []float32, m int, w *Matrix) bool {
	return false
}

// roundHalfActivations sets out[:len(x)] to x rounded as roundActivations
// rounds it for F16 or BF16 weights t, and returns out[:len(x)].
func roundHalfActivations(out []float32, t gguf.Type, x []float32) []float32 {
	out = out[:len(x)]
	roundActivationsTo(out, t, x)
	return out
}
