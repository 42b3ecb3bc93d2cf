//go:build !amd64 || purego

package kernels

// dotRowsAsm returns false: there are no assembly kernels on this
// platform.
func dotRowsAsm(dst, x, w []float32, ld int) bool { return false }

// axpyRowsAsm returns false: there are no assembly kernels on this
// platform.
func axpyRowsAsm(y, p, w []float32, ld int) bool { return false }
