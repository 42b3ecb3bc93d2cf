package kernels

import (
	"fmt"
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

	// FloatActivations makes MatMul multiply the float32 activations by
	// the decoded weights, instead of rounding the activations first as
	// llama.cpp does (see MatMul). It has no effect on F32 weights.
	FloatActivations bool
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

// tileRows is the number of weight rows decoded together before a product,
// and the number of rows a worker of a quantized product takes at a time.
const tileRows = 64

// MatMul computes dst = x · wᵀ, where x is [m, w.Cols] and dst is
// [m, w.Rows], row-major, on up to GOMAXPROCS goroutines.
//
// Unless w.FloatActivations is set, it follows the numerics of llama.cpp's
// CPU backend. For quantized weights it rounds each row of x to the weight
// type's 8-bit activation format (Q8_0, Q8_1 or Q8_K) and sums integer
// products block by block, with the float32 steps of ggml's portable
// reference code (see quantdot.go). For F16 and BF16 weights it rounds x
// to F16 or BF16 values and multiplies them by the exactly widened weights
// in float32, in an order of summation that differs from ggml's (see
// matMulHalfAsm). F32 weights always get float32 activations.
func MatMul(dst, x []float32, m int, w *Matrix) {
	_, quantized := quantKernels[w.Type]
	switch {
	case w.F32 != nil:
		MatMulT(dst, x, w.F32, m, w.Cols, w.Rows)
	case w.FloatActivations || m == 0:
		matMulDecoded(dst, x, m, w)
	case w.Type == gguf.TypeF16 || w.Type == gguf.TypeBF16:
		matMulRoundedHalf(dst, x, m, w)
	case quantized:
		matMulQuantized(dst, x, m, w)
	default:
		matMulDecoded(dst, x, m, w)
	}
}

// halfActivationBuffers holds *[]float32 buffers for matMulRoundedHalf.
var halfActivationBuffers = sync.Pool{New: func() any { return new([]float32) }}

// matMulRoundedHalf is MatMul for F16 or BF16 weights: it rounds x to
// the weights' precision in a pooled buffer and multiplies the result.
func matMulRoundedHalf(dst, x []float32, m int, w *Matrix) {
	buf := halfActivationBuffers.Get().(*[]float32)
	*buf = grow(*buf, m*w.Cols)
	matMulDecoded(dst, roundHalfActivations(*buf, w.Type, x[:m*w.Cols]), m, w)
	halfActivationBuffers.Put(buf)
}

// MatMulFloat computes dst = x · wᵀ like MatMul, but always multiplies the
// float32 activations by the decoded weights, ignoring w.FloatActivations.
// These are the numerics of a float reference, and the product whose
// gradient MatMulInputGrad computes.
func MatMulFloat(dst, x []float32, m int, w *Matrix) {
	if w.F32 != nil {
		MatMulT(dst, x, w.F32, m, w.Cols, w.Rows)
		return
	}
	matMulDecoded(dst, x, m, w)
}

// matMulDecoded computes dst = x · wᵀ in float32. F16 and BF16 weights go
// to the assembly kernels of matMulHalfAsm where the CPU has them. Other
// types, and F16 and BF16 elsewhere, are decoded tileRows rows at a time,
// and each tile is multiplied with gonum's sgemm.
func matMulDecoded(dst, x []float32, m int, w *Matrix) {
	if matMulHalfAsm(dst, x, m, w) {
		return
	}
	n, k := w.Rows, w.Cols
	if m == 0 || n == 0 {
		return
	}
	_ = dst[m*n-1]
	_ = x[m*k-1]

	tiles := (n + tileRows - 1) / tileRows
	parallelWorkers(tiles, func() func(tile int) {
		scratch := make([]float32, tileRows*k)
		return func(tile int) {
			lo := tile * tileRows
			hi := min(n, lo+tileRows)
			for j := lo; j < hi; j++ {
				w.Row(scratch[(j-lo)*k:(j-lo+1)*k], j)
			}
			impl.Sgemm(blas.NoTrans, blas.Trans, m, hi-lo, k, 1, x, k, scratch, k, 0, dst[lo:], n)
		}
	})
}

// matMulQuantized computes dst = x · wᵀ for quantized w as llama.cpp does:
// x is rounded once to the activation format, then each worker unpacks two
// weight rows at a time and takes their dot products with every row of x.
// Where matMulQuantizedAsm covers w's type (amd64 with AVX2 and F16C), its
// assembly kernels read the packed rows instead, with bit-identical results.
func matMulQuantized(dst, x []float32, m int, w *Matrix) {
	n, k := w.Rows, w.Cols
	if n == 0 {
		return
	}
	_ = dst[m*n-1]
	_ = x[m*k-1]

	kernel := quantKernels[w.Type]
	format, _ := activationFormat(w.Type)
	xq := quantRowsPool.Get().(*quantRows)
	defer quantRowsPool.Put(xq)
	xq.quantize(format, x, m, k)
	if matMulQuantizedAsm(dst, xq, m, w) {
		return
	}
	if format == gguf.TypeQ8_K {
		xq.toLaneMajor()
	}
	rows := xq.rowViews(m)

	tiles := (n + tileRows - 1) / tileRows
	parallelWorkers(tiles, func() func(tile int) {
		pair := newWeightPair(w.Type, k)
		return func(tile int) {
			// tileRows is even, so only the matrix's last row can be left
			// without a partner.
			for j := tile * tileRows; j < min(n, (tile+1)*tileRows); j += 2 {
				kernel.unpack(pair.rows[0], w.Raw[j*w.RowBytes:(j+1)*w.RowBytes])
				if j+1 < n {
					kernel.unpack(pair.rows[1], w.Raw[(j+1)*w.RowBytes:(j+2)*w.RowBytes])
				} else {
					pair.clearRow(1)
				}
				pair.pack()
				for i := range rows {
					s0, s1 := kernel.dot(pair, &rows[i])
					dst[i*n+j] = s0
					if j+1 < n {
						dst[i*n+j+1] = s1
					}
				}
			}
		}
	})
}
