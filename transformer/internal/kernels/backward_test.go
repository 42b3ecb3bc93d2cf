package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// numericGrad returns the central-difference gradient of f at x, in
// float64, with step h.
func numericGrad(x []float64, h float64, f func([]float64) float64) []float64 {
	g := make([]float64, len(x))
	for i := range x {
		old := x[i]
		x[i] = old + h
		up := f(x)
		x[i] = old - h
		down := f(x)
		x[i] = old
		g[i] = (up - down) / (2 * h)
	}
	return g
}

func to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func checkClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s: element %d = %g, want %g", what, i, got[i], want[i])
		}
	}
}

// normForward computes L = Σ dy·y for y = (x − c)/s per row, in float64.
func normForward(x, dy []float64, n int, center bool, eps float64, fixedScale []float64) float64 {
	var loss float64
	for r := 0; r < len(x)/n; r++ {
		row := x[r*n : (r+1)*n]
		var mean float64
		if center {
			for _, v := range row {
				mean += v
			}
			mean /= float64(n)
		}
		var sq float64
		for _, v := range row {
			sq += (v - mean) * (v - mean)
		}
		s := math.Sqrt(sq/float64(n) + eps)
		if fixedScale != nil {
			s = fixedScale[r]
		}
		for i, v := range row {
			loss += dy[r*n+i] * (v - mean) / s
		}
	}
	return loss
}

func TestNormGrads(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const rows, n, eps = 3, 16, 1e-5
	x := make([]float64, rows*n)
	dy := make([]float64, rows*n)
	for i := range x {
		x[i] = rng.NormFloat64() + 0.5
		dy[i] = rng.NormFloat64()
	}
	for _, c := range []struct {
		name       string
		center     bool
		constScale bool
	}{{"layernorm", true, false}, {"layernorm relp", true, true}, {"rmsnorm", false, false}, {"rmsnorm relp", false, true}} {
		t.Run(c.name, func(t *testing.T) {
			x32 := to32(x)
			y := make([]float32, rows*n)
			scale := make([]float32, rows)
			if c.center {
				LayerNormalize(y, scale, x32, n, eps)
			} else {
				RMSNormalize(y, scale, x32, n, eps)
			}
			var fixed []float64
			if c.constScale {
				fixed = make([]float64, rows)
				for r := range fixed {
					fixed[r] = float64(scale[r])
				}
			}
			want := numericGrad(x, 1e-4, func(v []float64) float64 { return normForward(v, dy, n, c.center, eps, fixed) })
			got := make([]float32, rows*n)
			if c.center {
				LayerNormGrad(got, to32(dy), y, scale, n, c.constScale)
			} else {
				RMSNormGrad(got, to32(dy), y, scale, n, c.constScale)
			}
			checkClose(t, c.name, got, want, 1e-4)
		})
	}
}

func TestScaleGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 8
	x := make([]float64, n)
	dy := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
		dy[i] = rng.NormFloat64()
	}
	s := []float64{1.7}
	// L(s) = Σ dy·x/s, so dL/ds = −Σ dy·x/s².
	want := numericGrad(s, 1e-5, func(v []float64) float64 { return normForward(x, dy, n, false, 0, v) })
	y := make([]float32, n)
	for i := range y {
		y[i] = float32(x[i] / s[0])
	}
	got := make([]float32, 1)
	ScaleGrad(got, to32(dy), y, []float32{float32(s[0])}, n)
	checkClose(t, "scale", got, want, 1e-5)
}

func TestActivationGrads(t *testing.T) {
	const c = 0.7978845608028654
	gelu := func(f float64) float64 { return 0.5 * f * (1 + math.Tanh(c*(f+0.044715*f*f*f))) }
	silu := func(f float64) float64 { return f / (1 + math.Exp(-f)) }
	xs := []float64{-3, -1.2, -0.3, 0, 0.2, 0.9, 2.5}
	dy := []float64{0.5, -1, 2, 1, -0.7, 1.3, 0.1}
	for _, a := range []struct {
		name string
		f    func(float64) float64
		grad func(dx, dy, x []float32)
	}{{"gelu", gelu, GELUGrad}, {"silu", silu, SiLUGrad}} {
		want := make([]float64, len(xs))
		for i, x := range xs {
			h := 1e-5
			want[i] = dy[i] * (a.f(x+h) - a.f(x-h)) / (2 * h)
		}
		got := make([]float32, len(xs))
		a.grad(got, to32(dy), to32(xs))
		checkClose(t, a.name, got, want, 1e-5)
	}

	// RelP's identity rule passes dy·f(x)/x.
	y := make([]float32, len(xs))
	for i, x := range xs {
		y[i] = float32(gelu(x))
	}
	got := make([]float32, len(xs))
	RatioGrad(got, to32(dy), to32(xs), y)
	for i, x := range xs {
		want := dy[i] * gelu(x) / (x + 1e-6)
		if x < 0 {
			want = dy[i] * gelu(x) / (x - 1e-6)
		}
		if d := math.Abs(float64(got[i]) - want); d > 1e-5*(1+math.Abs(want)) {
			t.Errorf("ratio at x=%g: %g, want %g", x, got[i], want)
		}
	}
}

func TestSoftmaxGrad(t *testing.T) {
	s := []float64{0.3, -1.2, 2.0, 0.5}
	dp := []float64{1, -0.5, 0.25, 2}
	softmax := func(v []float64) []float64 {
		m := math.Inf(-1)
		for _, x := range v {
			m = math.Max(m, x)
		}
		var sum float64
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = math.Exp(x - m)
			sum += out[i]
		}
		for i := range out {
			out[i] /= sum
		}
		return out
	}
	want := numericGrad(s, 1e-6, func(v []float64) float64 {
		var l float64
		for i, p := range softmax(v) {
			l += dp[i] * p
		}
		return l
	})
	got := make([]float32, len(s))
	SoftmaxGrad(got, to32(dp), to32(softmax(s)))
	checkClose(t, "softmax", got, want, 1e-5)
}

func TestMatMulGrads(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const m, k, n = 3, 64, 130
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeQ8_0} {
		values := randomFloats(rng, n*k)
		var w Matrix
		var err error
		if typ == gguf.TypeF32 {
			w, err = NewMatrix(n, k, typ, values, nil)
		} else {
			raw := make([]byte, n*k/typ.BlockSize()*typ.BlockBytes())
			if err := gguf.Quantize(raw, values, typ); err != nil {
				t.Fatal(err)
			}
			w, err = NewMatrix(n, k, typ, nil, raw)
		}
		if err != nil {
			t.Fatal(err)
		}
		decoded := make([]float32, n*k)
		for j := range n {
			w.Row(decoded[j*k:(j+1)*k], j)
		}
		dy := randomFloats(rng, m*n)
		got := make([]float32, m*k)
		MatMulInputGrad(got, dy, m, &w)
		for i := range m {
			for c := range k {
				var want float64
				for j := range n {
					want += float64(dy[i*n+j]) * float64(decoded[j*k+c])
				}
				if d := math.Abs(float64(got[i*k+c]) - want); d > 1e-3 {
					t.Fatalf("%s dx[%d,%d] = %g, want %g", typ, i, c, got[i*k+c], want)
				}
			}
		}
	}

	x := randomFloats(rng, m*k)
	dy := randomFloats(rng, m*n)
	dw := make([]float32, n*k)
	dw[5] = 1 // AddOuterGrad accumulates.
	AddOuterGrad(dw, dy, x, m, n, k)
	for j := range n {
		for c := range k {
			want := 0.0
			if j*k+c == 5 {
				want = 1
			}
			for i := range m {
				want += float64(dy[i*n+j]) * float64(x[i*k+c])
			}
			if d := math.Abs(float64(dw[j*k+c]) - want); d > 1e-4 {
				t.Fatalf("dw[%d,%d] = %g, want %g", j, c, dw[j*k+c], want)
			}
		}
	}
}

// activationGradReferences returns GELU'(x) and SiLU'(x) in float64 with
// math.Exp, σ's complement taken without cancellation, and GELU'(x) once
// more from the tanh form, which cancels for large negative x.
func activationGradReferences(x float64) (gelu, silu, geluTanh float64) {
	const c, a = 0.7978845608028654, 0.044715
	sigmoid := func(y float64) (s, rest float64) {
		s = 1 / (1 + math.Exp(-y))
		if y >= 0 {
			return s, s * math.Exp(-y)
		}
		return s, 1 / (1 + math.Exp(y))
	}
	u := c * (x + a*x*x*x)
	s, rest := sigmoid(2 * u)
	gelu = s + 2*x*s*rest*c*(1+3*a*x*x)
	s, rest = sigmoid(x)
	silu = s * (1 + x*rest)
	t := math.Tanh(u)
	geluTanh = 0.5*(1+t) + 0.5*x*(1-t*t)*c*(1+3*a*x*x)
	return gelu, silu, geluTanh
}

// TestActivationGradsMatchFloat64 compares GELUGrad and SiLUGrad with
// float64 derivatives over [−40, 40]: within float32 rounding of each
// result, plus 1e-12 where a derivative crosses zero and its terms
// cancel.
func TestActivationGradsMatchFloat64(t *testing.T) {
	var xs []float32
	for v := -40.0; v <= 40; v += 0.013 {
		xs = append(xs, float32(v))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, math.MaxFloat32, -math.MaxFloat32)
	dy := make([]float32, len(xs))
	for i := range dy {
		dy[i] = float32(1 + i%3)
	}
	gotGELU := make([]float32, len(xs))
	gotSiLU := make([]float32, len(xs))
	GELUGrad(gotGELU, dy, xs)
	SiLUGrad(gotSiLU, dy, xs)

	for i, v := range xs {
		x, g := float64(v), float64(dy[i])
		gelu, silu, geluTanh := activationGradReferences(x)
		if math.Abs(x) > 1e30 {
			// x³ overflows, so only the limits of σ remain: GELU' is
			// 1 or 0 times the infinite second term, SiLU' is 1 or 0.
			continue
		}
		if want := g * gelu; math.Abs(float64(gotGELU[i])-want) > 1.2e-7*math.Abs(want)+1e-12 {
			t.Errorf("GELUGrad at x=%g: %g, want %g", x, gotGELU[i], want)
		}
		if want := g * silu; math.Abs(float64(gotSiLU[i])-want) > 1.2e-7*math.Abs(want)+1e-12 {
			t.Errorf("SiLUGrad at x=%g: %g, want %g", x, gotSiLU[i], want)
		}
		if math.Abs(x) <= 4 {
			if want := g * geluTanh; math.Abs(float64(gotGELU[i])-want) > 1.2e-7*math.Abs(want)+1e-12 {
				t.Errorf("GELUGrad at x=%g: %g, want %g from the tanh form", x, gotGELU[i], want)
			}
		}
	}
}

// TestActivationGradsSpecialValues checks NaN and the infinities, where
// both formulas give NaN: GELU' and SiLU' multiply an infinite x by a
// zero factor of σ or its complement.
func TestActivationGradsSpecialValues(t *testing.T) {
	xs := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	dy := []float32{1, 1, 1}
	gelu := make([]float32, 3)
	silu := make([]float32, 3)
	GELUGrad(gelu, dy, xs)
	SiLUGrad(silu, dy, xs)
	for i, x := range xs {
		if !math.IsNaN(float64(gelu[i])) {
			t.Errorf("GELUGrad at %g = %g, want NaN", x, gelu[i])
		}
		if !math.IsNaN(float64(silu[i])) {
			t.Errorf("SiLUGrad at %g = %g, want NaN", x, silu[i])
		}
	}
}

// TestMatMulInputGradZeroColumns checks that a weight with no columns
// gives an empty dx on every F32 path instead of a panic.
func TestMatMulInputGradZeroColumns(t *testing.T) {
	w, err := NewMatrix(3, 0, gguf.TypeF32, []float32{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dy := []float32{1, 2, 3, 4, 5, 6}
	for _, path := range sgemmPaths {
		if path.missing() != "" {
			continue
		}
		withSgemmPath(path, func() { MatMulInputGrad([]float32{}, dy, 2, &w) })
	}
}
