package kernels

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
)

// MatMulInputGrad sets dx = dy · w, the gradient of x·wᵀ with respect to x:
// dy is [m, w.Rows] and dx is [m, w.Cols]. Encoded weights are decoded a
// tile of rows at a time; each worker sums its tiles' contributions in a
// buffer of its own, and the buffers are added at the end. The workers
// are the worker pool's goroutines, at most GOMAXPROCS.
func MatMulInputGrad(dx, dy []float32, m int, w *Matrix) {
	n, k := w.Rows, w.Cols
	clear(dx[:m*k])
	if m == 0 || n == 0 || k == 0 {
		return
	}
	if w.F32 != nil {
		if useSgemmAsm {
			sgemmInputGradAsm(dx, dy, w.F32, m, n, k)
			return
		}
		// Split the columns of dx across workers, as MatMulT splits its
		// output columns.
		workers := min(runtime.GOMAXPROCS(0), max(1, k/minColumnsPerWorker))
		chunk := (k + workers - 1) / workers
		ParallelFor((k+chunk-1)/chunk, func(i int) {
			lo := i * chunk
			hi := min(k, lo+chunk)
			impl.Sgemm(blas.NoTrans, blas.NoTrans, m, hi-lo, n, 1, dy, n, w.F32[lo:], k, 0, dx[lo:], k)
		})
		return
	}
	// Worker i takes tiles i, i + workers, … and sums into a buffer of its
	// own, so the order of summation does not depend on scheduling.
	tiles := (n + tileRows - 1) / tileRows
	workers := min(runtime.GOMAXPROCS(0), tiles)
	partial := make([][]float32, workers)
	parallelFor(workers, workers, func(worker int) {
		acc := make([]float32, m*k)
		scratch := make([]float32, tileRows*k)
		for tile := worker; tile < tiles; tile += workers {
			lo := tile * tileRows
			hi := min(n, lo+tileRows)
			for j := lo; j < hi; j++ {
				w.Row(scratch[(j-lo)*k:(j-lo+1)*k], j)
			}
			impl.Sgemm(blas.NoTrans, blas.NoTrans, m, k, hi-lo, 1, dy[lo:], n, scratch, k, 1, acc, k)
		}
		partial[worker] = acc
	})
	for _, acc := range partial {
		Add(dx[:m*k], acc)
	}
}

// AddOuterGrad adds dyᵀ · x to dw, the gradient of x·wᵀ with respect to a
// weight of shape [rows, cols]: dy is [m, rows] and x is [m, cols].
func AddOuterGrad(dw, dy, x []float32, m, rows, cols int) {
	if m == 0 {
		return
	}
	impl.Sgemm(blas.Trans, blas.NoTrans, rows, cols, m, 1, dy, rows, x, cols, 1, dw, cols)
}

// LayerNormGrad sets dx, the gradient through y = (x − mean(x)) / scale for
// rows of width n, given dy, the normalized output y and each row's scale.
// With constScale the scale is a constant (RelP's rule for norms), which
// leaves dx = (dy − mean(dy)) / scale.
func LayerNormGrad(dx, dy, y, scale []float32, n int, constScale bool) {
	for r, s := range scale {
		dyr, yr, dxr := dy[r*n:(r+1)*n], y[r*n:(r+1)*n], dx[r*n:(r+1)*n]
		var meanDy, meanDyY float64
		for i, g := range dyr {
			meanDy += float64(g)
			meanDyY += float64(g) * float64(yr[i])
		}
		meanDy /= float64(n)
		meanDyY /= float64(n)
		if constScale {
			meanDyY = 0
		}
		for i, g := range dyr {
			dxr[i] = float32((float64(g) - meanDy - float64(yr[i])*meanDyY) / float64(s))
		}
	}
}

// RMSNormGrad sets dx, the gradient through y = x / scale with scale =
// sqrt(mean(x²) + eps), for rows of width n. With constScale the scale is a
// constant, which leaves dx = dy / scale.
func RMSNormGrad(dx, dy, y, scale []float32, n int, constScale bool) {
	for r, s := range scale {
		dyr, yr, dxr := dy[r*n:(r+1)*n], y[r*n:(r+1)*n], dx[r*n:(r+1)*n]
		var meanDyY float64
		if !constScale {
			for i, g := range dyr {
				meanDyY += float64(g) * float64(yr[i])
			}
			meanDyY /= float64(n)
		}
		for i, g := range dyr {
			dxr[i] = float32((float64(g) - float64(yr[i])*meanDyY) / float64(s))
		}
	}
}

// ScaleGrad returns, per row, the gradient with respect to the norm's scale
// s of y = (x − c)/s, which is −Σ dy·y / s.
func ScaleGrad(dscale, dy, y, scale []float32, n int) {
	for r, s := range scale {
		var sum float64
		for i, g := range dy[r*n : (r+1)*n] {
			sum += float64(g) * float64(y[r*n+i])
		}
		dscale[r] = float32(-sum / float64(s))
	}
}

// GELUGrad sets dx = dy · GELU'(x) for the tanh approximation of GELU,
// GELU(x) = x·σ(2u) with u = √(2/π)·(x + 0.044715·x³). With s = σ(2u),
// GELU'(x) = s + 2·x·s·(1 − s)·√(2/π)·(1 + 3·0.044715·x²). It computes in
// float64 with expApprox, whose relative error of about 1e-11 is far below
// float32's rounding of dx, and takes 1 − s as s·exp(−2u) where s is near
// 1, so neither tail cancels.
func GELUGrad(dx, dy, x []float32) {
	dx = dx[:len(x)]
	dy = dy[:len(x)]
	for i, v := range x {
		f := float64(v)
		u := geluSqrt2OverPi * (f + geluCubic*f*f*f)
		s, rest := sigmoidPair(2 * u)
		d := s + 2*f*s*rest*geluSqrt2OverPi*(1+3*geluCubic*f*f)
		dx[i] = float32(float64(dy[i]) * d)
	}
}

// SiLUGrad sets dx = dy · SiLU'(x), with SiLU'(x) = σ(x)·(1 + x·(1 − σ(x))),
// in float64 with expApprox as GELUGrad computes.
func SiLUGrad(dx, dy, x []float32) {
	dx = dx[:len(x)]
	dy = dy[:len(x)]
	for i, v := range x {
		f := float64(v)
		s, rest := sigmoidPair(f)
		dx[i] = float32(float64(dy[i]) * s * (1 + f*rest))
	}
}

// sigmoidPair returns σ(y) = 1/(1 + exp(−y)) and 1 − σ(y). The second is
// computed as σ(y)·exp(−y) where σ(y) ≥ 1/2, and as 1 − σ(y) elsewhere,
// where exp(−y) may overflow to +Inf.
func sigmoidPair(y float64) (s, rest float64) {
	e := expApprox(-y)
	s = 1 / (1 + e)
	if s >= 0.5 {
		return s, s * e
	}
	return s, 1 - s
}

// RatioGrad sets dx = dy · y / x̃, RelP's identity rule for an elementwise
// activation y = f(x): the gradient passes in the ratio of output to input,
// with x̃ = x + 1e-6·sign(x) (sign 1 at 0) keeping the division finite.
func RatioGrad(dx, dy, x, y []float32) {
	for i, v := range x {
		f := float64(v)
		if f >= 0 {
			f += 1e-6
		} else {
			f -= 1e-6
		}
		dx[i] = float32(float64(dy[i]) * float64(y[i]) / f)
	}
}

// SoftmaxGrad sets ds, the gradient through p = softmax(s) of one row,
// given dp and p: ds = p ⊙ (dp − Σ dp⊙p).
func SoftmaxGrad(ds, dp, p []float32) {
	var dot float64
	for i, g := range dp {
		dot += float64(g) * float64(p[i])
	}
	for i, g := range dp {
		ds[i] = float32(float64(p[i]) * (float64(g) - dot))
	}
}
