package kernels

import (
	"fmt"
	"math"
	"testing"
)

// activationPaths lists the implementations of GELU, SiLU and Softmax that
// this machine can run, each selected through useElementwiseAsm.
func activationPaths(t testing.TB) []bool {
	paths := []bool{false}
	if useElementwiseAsm {
		paths = append(paths, true)
	} else {
		t.Logf("no AVX2 and FMA (or not amd64): testing the portable path only")
	}
	return paths
}

// withElementwiseAsm runs f with useElementwiseAsm set to on.
func withElementwiseAsm(on bool, f func()) {
	saved := useElementwiseAsm
	useElementwiseAsm = on
	defer func() { useElementwiseAsm = saved }()
	f()
}

func pathName(asm bool) string {
	if asm {
		return "asm"
	}
	return "go"
}

// activationInputs returns a sweep of float32 inputs: every 4099th bit
// pattern (all exponents, both signs, subnormals included), a fine grid
// over [−12, 12] where the activations bend, and the special values.
func activationInputs() []float32 {
	var xs []float32
	for bits := uint64(0); bits < 1<<32; bits += 4099 {
		xs = append(xs, math.Float32frombits(uint32(bits)))
	}
	for i := range 240001 {
		xs = append(xs, float32(-12+float64(i)*1e-4))
	}
	return append(xs,
		0, float32(math.Copysign(0, -1)),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(1), math.Float32frombits(0x80000001), // ±smallest subnormal
		math.Float32frombits(0x007fffff), math.Float32frombits(0x807fffff), // ±largest subnormal
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32)
}

// geluExact is GELU's tanh form in float64 as x·σ(2u), with math.Exp.
func geluExact(x float64) float64 {
	u := geluSqrt2OverPi * (x + geluCubic*x*x*x)
	return x / (1 + math.Exp(-2*u))
}

func siluExact(x float64) float64 { return x / (1 + math.Exp(-x)) }

// withinFloat32Rounding reports whether got is want rounded to float32 with at most
// 2e-7 relative error, or within one float32 subnormal step where want is
// below the normal range.
func withinFloat32Rounding(got float32, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(float64(got))
	}
	if math.IsInf(want, 0) {
		return float64(got) == want
	}
	diff := math.Abs(float64(got) - want)
	if math.Abs(want) < 0x1p-126 {
		return diff <= 0x1p-149
	}
	return diff <= 2e-7*math.Abs(want)
}

func TestActivationAccuracy(t *testing.T) {
	xs := activationInputs()
	out := make([]float32, len(xs))
	functions := []struct {
		name  string
		apply func(out, x []float32)
		exact func(float64) float64
	}{
		{"GELU", GELU, geluExact},
		{"SiLU", SiLU, siluExact},
	}
	for _, asm := range activationPaths(t) {
		for _, f := range functions {
			t.Run(f.name+"/"+pathName(asm), func(t *testing.T) {
				withElementwiseAsm(asm, func() { f.apply(out, xs) })
				failures := 0
				worst := 0.0
				for i, x := range xs {
					want := f.exact(float64(x))
					if math.Abs(want) >= 0x1p-126 && !math.IsInf(want, 0) {
						worst = max(worst, math.Abs(float64(out[i])-want)/math.Abs(want))
					}
					if withinFloat32Rounding(out[i], want) {
						continue
					}
					if failures++; failures <= 5 {
						t.Errorf("%s(%g) = %g, want %g", f.name, x, out[i], want)
					}
				}
				t.Logf("max relative error %.3g over %d inputs", worst, len(xs))
			})
		}
	}
}

func TestActivationSpecialValues(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	tests := []struct {
		name string
		fn   func(out, x []float32)
		x    float32
		want float32 // NaN matches NaN; zeros must match in sign
	}{
		{"GELU", GELU, 0, 0},
		{"GELU", GELU, negZero, negZero},
		{"GELU", GELU, inf, inf},
		{"GELU", GELU, -inf, nan},
		{"GELU", GELU, nan, nan},
		{"GELU", GELU, 20, 20},
		{"GELU", GELU, -20, negZero},
		{"GELU", GELU, -math.MaxFloat32, negZero},
		{"SiLU", SiLU, 0, 0},
		{"SiLU", SiLU, negZero, negZero},
		{"SiLU", SiLU, inf, inf},
		{"SiLU", SiLU, -inf, nan},
		{"SiLU", SiLU, nan, nan},
		{"SiLU", SiLU, -200, negZero},
	}
	for _, asm := range activationPaths(t) {
		for _, tt := range tests {
			var out [1]float32
			withElementwiseAsm(asm, func() { tt.fn(out[:], []float32{tt.x}) })
			got := out[0]
			same := math.Float32bits(got) == math.Float32bits(tt.want) ||
				math.IsNaN(float64(got)) && math.IsNaN(float64(tt.want))
			if !same {
				t.Errorf("%s %s(%g) = %g (bits %#x), want %g", pathName(asm), tt.name, tt.x, got, math.Float32bits(got), tt.want)
			}
		}
	}
}

// TestActivationPathsAgree checks the assembly against the portable code
// on every length from 0 to 40 and on a length split across workers, so
// that the padded tails and the chunking are covered, in place and not.
func TestActivationPathsAgree(t *testing.T) {
	if !useElementwiseAsm {
		t.Skip("no AVX2 and FMA (or not amd64): only the portable path exists")
	}
	lengths := []int{}
	for n := range 41 {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 3*minElementsPerWorker+5)
	for _, fn := range []struct {
		name  string
		apply func(out, x []float32)
	}{{"GELU", GELU}, {"SiLU", SiLU}} {
		for _, n := range lengths {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(math.Sin(float64(i)*0.7)) * 9
			}
			want := make([]float32, n)
			withElementwiseAsm(false, func() { fn.apply(want, x) })
			got := make([]float32, n)
			withElementwiseAsm(true, func() { fn.apply(got, x) })
			inPlace := append([]float32(nil), x...)
			withElementwiseAsm(true, func() { fn.apply(inPlace, inPlace) })
			for i := range n {
				if ulpDistance(got[i], want[i]) > 1 {
					t.Errorf("%s n=%d: asm[%d] = %g, go = %g", fn.name, n, i, got[i], want[i])
				}
				if inPlace[i] != got[i] {
					t.Errorf("%s n=%d in place: [%d] = %g, want %g", fn.name, n, i, inPlace[i], got[i])
				}
			}
		}
	}
}

// ulpDistance returns how many float32 values lie between a and b, for
// finite values of equal sign.
func ulpDistance(a, b float32) int64 {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	return max(d, -d)
}

// softmaxExact returns the softmax of x in float64, from the float32
// differences x[i] − max(x) that Softmax takes.
func softmaxExact(x []float32) []float64 {
	maxv := float32(math.Inf(-1))
	for _, v := range x {
		maxv = max(maxv, v)
	}
	p := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		p[i] = math.Exp(float64(v - maxv))
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

func TestSoftmaxAccuracy(t *testing.T) {
	negInf := float32(math.Inf(-1))
	var rows [][]float32
	for n := 1; n <= 40; n++ {
		row := make([]float32, n)
		for i := range row {
			row[i] = float32(math.Sin(float64(i*n)*1.3)) * 12
		}
		rows = append(rows, row)
	}
	masked := make([]float32, 131)
	for i := range masked {
		masked[i] = float32(i%17) - 8
		if i > 60 {
			masked[i] = negInf
		}
	}
	rows = append(rows, masked,
		[]float32{1e30, -1e30, 0, 1e30},
		[]float32{-100, -100.5, -90, -300, -1e-3},
		[]float32{0x1p-140, -0x1p-140, 0, 0})

	for _, asm := range activationPaths(t) {
		for _, row := range rows {
			got := append([]float32(nil), row...)
			withElementwiseAsm(asm, func() { Softmax(got) })
			want := softmaxExact(row)
			for i := range got {
				// Three float32 roundings: exp, 1/sum and their product.
				// Below the normal range each rounding is a subnormal step.
				if math.Abs(float64(got[i])-want[i]) > max(3e-7*want[i], 0x1p-148) {
					t.Errorf("%s softmax of %d entries [%d] = %g, want %g", pathName(asm), len(row), i, got[i], want[i])
				}
				if row[i] == negInf && got[i] != 0 {
					t.Errorf("%s softmax [%d] of a −Inf entry = %g, want 0", pathName(asm), i, got[i])
				}
			}
		}
	}
}

func TestSoftmaxSpecialRows(t *testing.T) {
	negInf, inf, nan := float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN())
	for _, asm := range activationPaths(t) {
		allMasked := []float32{negInf, negInf, negInf, negInf, negInf}
		withElementwiseAsm(asm, func() { Softmax(allMasked) })
		for i, p := range allMasked {
			if p != 0 {
				t.Errorf("%s softmax of an all −Inf row [%d] = %g, want 0", pathName(asm), i, p)
			}
		}

		for _, bad := range []float32{nan, inf} {
			row := []float32{1, bad, 2, 3, 4, 5}
			withElementwiseAsm(asm, func() { Softmax(row) })
			for i, p := range row {
				if !math.IsNaN(float64(p)) {
					t.Errorf("%s softmax of a row with %g: [%d] = %g, want NaN", pathName(asm), bad, i, p)
				}
			}
		}
	}
}

// geluTanh is GELU as this package computed it before the polynomial
// exponential, for the benchmarks.
func geluTanh(out, x []float32) {
	for i, v := range x {
		f := float64(v)
		out[i] = float32(0.5 * f * (1 + math.Tanh(geluSqrt2OverPi*(f+geluCubic*f*f*f))))
	}
}

func BenchmarkGELU(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200)/20 - 5
	}
	out := make([]float32, len(x))
	b.Run("tanh", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			geluTanh(out, x)
		}
	})
	b.Run("go", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			geluGo(out, x)
		}
	})
	if useElementwiseAsm {
		b.Run("asm", func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				geluAsm(out, x)
			}
		})
	}
}

func BenchmarkSoftmax(b *testing.B) {
	for _, n := range []int{64, 1024} {
		x := make([]float32, n)
		for _, asm := range activationPaths(b) {
			b.Run(fmt.Sprintf("n=%d/%s", n, pathName(asm)), func(b *testing.B) {
				withElementwiseAsm(asm, func() {
					for b.Loop() {
						for i := range x {
							x[i] = float32(i % 13)
						}
						Softmax(x)
					}
				})
			})
		}
	}
}
