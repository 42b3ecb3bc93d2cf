package kernels

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// TestQuantizeRowsManyRows checks that rounding enough rows to run on
// several goroutines gives, row by row, what rounding each row alone
// gives, in every activation format.
func TestQuantizeRowsManyRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	const k = 512
	m := minQuantizeParallel/k + 3
	x := randomFloats(rng, m*k)
	for _, format := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ8_1, gguf.TypeQ8_K} {
		all := quantizeRows(format, x, m, k)
		for i := range m {
			one := quantizeRows(format, x[i*k:(i+1)*k], 1, k)
			got, want := all.row(i), one.row(0)
			if !slices.Equal(got.qs, want.qs) {
				t.Fatalf("%s row %d: quants differ from the row rounded alone", format, i)
			}
			if !slices.Equal(got.d, want.d) {
				t.Fatalf("%s row %d: scales %v, want %v", format, i, got.d, want.d)
			}
			if !slices.Equal(got.s, want.s) {
				t.Fatalf("%s row %d: block values %v, want %v", format, i, got.s, want.s)
			}
			if !slices.Equal(got.bsums, want.bsums) {
				t.Fatalf("%s row %d: block sums %v, want %v", format, i, got.bsums, want.bsums)
			}
		}
	}
}
