package kernels

import (
	"fmt"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"

	"github.com/interp-go/interp/gguf"
)

// Matrix is a weight matrix of shape [Rows, Cols], row-major, as GGUF stores
// a linear layer's weight (one row per output). F32 data is held as floats,
// usually aliasing the file's read-only mapping; every other type stays in
// its encoded blocks, RowBytes bytes per row, and is decoded a tile of rows
// at a time inside the product, so a quantized model is never expanded as
// a whole.
type Matrix struct {
	Rows, Cols int
	Type       gguf.Type
	F32        []float32 // Type F32: Rows·Cols values
	Raw        []byte    // other types: Rows·RowBytes bytes
	RowBytes   int
}

// NewMatrix wraps the data of a tensor of the given type and shape. F32 data
// must come as floats, other types as raw blocks. It returns an error for a
// type that Row cannot decode or data of the wrong size.
func NewMatrix(rows, cols int, t gguf.Type, f32 []float32, raw []byte) (Matrix, error) {
	m := Matrix{Rows: rows, Cols: cols, Type: t}
	if t == gguf.TypeF32 {
		if len(f32) != rows*cols {
			return m, fmt.Errorf("%d floats for a %d×%d matrix", len(f32), rows, cols)
		}
		m.F32 = f32
		return m, nil
	}
	if cols%t.BlockSize() != 0 {
		return m, fmt.Errorf("row length %d is not a multiple of the %s block size %d", cols, t, t.BlockSize())
	}
	m.RowBytes = cols / t.BlockSize() * t.BlockBytes()
	if len(raw) != rows*m.RowBytes {
		return m, fmt.Errorf("%d bytes for a %d×%d %s matrix, want %d", len(raw), rows, cols, t, rows*m.RowBytes)
	}
	m.Raw = raw
	if rows > 0 {
		// Decode one row now, so an unsupported type fails at load time.
		if err := gguf.Dequantize(make([]float32, cols), raw[:m.RowBytes], t); err != nil {
			return m, err
		}
	}
	return m, nil
}

// Row decodes row j into dst, which has length Cols.
func (w *Matrix) Row(dst []float32, j int) {
	if w.F32 != nil {
		copy(dst, w.F32[j*w.Cols:(j+1)*w.Cols])
		return
	}
	// NewMatrix checked the type and sizes, so decoding cannot fail.
	if err := gguf.Dequantize(dst[:w.Cols], w.Raw[j*w.RowBytes:(j+1)*w.RowBytes], w.Type); err != nil {
		panic(err)
	}
}

// tileRows is the number of weight rows decoded together before a product.
const tileRows = 64

// MatMul computes dst = x · wᵀ, where x is [m, w.Cols] and dst is
// [m, w.Rows], row-major, on up to GOMAXPROCS goroutines.
func MatMul(dst, x []float32, m int, w *Matrix) {
	if w.F32 != nil {
		MatMulT(dst, x, w.F32, m, w.Cols, w.Rows)
		return
	}
	n, k := w.Rows, w.Cols
	if m == 0 || n == 0 {
		return
	}
	_ = dst[m*n-1]
	_ = x[m*k-1]

	tiles := (n + tileRows - 1) / tileRows
	workers := min(runtime.GOMAXPROCS(0), tiles)
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scratch := make([]float32, tileRows*k)
			for {
				mu.Lock()
				tile := next
				next++
				mu.Unlock()
				if tile >= tiles {
					return
				}
				lo := tile * tileRows
				hi := min(n, lo+tileRows)
				for j := lo; j < hi; j++ {
					w.Row(scratch[(j-lo)*k:(j-lo+1)*k], j)
				}
				impl.Sgemm(blas.NoTrans, blas.Trans, m, hi-lo, k, 1, x, k, scratch, k, 0, dst[lo:], n)
			}
		}()
	}
	wg.Wait()
}
