package interp

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// PCA builds a control vector the way llama.cpp's cvector-generator and
// repeng do: for each block L, the first principal component of the paired
// differences of blocks.L.hook_resid_post (positive minus negative,
// centered). Unlike those tools, which leave the component's sign to the
// eigensolver, PCA orients each direction so that the positive examples
// project higher than the negative ones on average. Directions have unit
// norm, so a useful strength is of the order of the residual stream's
// norm. It needs at least two pairs whose differences vary.
func PCA(m *transformer.Model, c Contrast, opts ContrastOptions) (*Vector, error) {
	if err := c.check(m, true, SteerPCA); err != nil {
		return nil, err
	}
	if len(c.Positive) < 2 {
		return nil, fmt.Errorf("interp: pca needs at least 2 pairs, because one centered difference is zero; use mean-diff for a single pair")
	}
	layers, err := opts.layers(m)
	if err != nil {
		return nil, err
	}
	pos, neg, err := contrastActivations(m, c, hooks.ResidPost, layers, opts)
	if err != nil {
		return nil, err
	}

	v := &Vector{Method: SteerPCA, Point: hooks.ResidPost, Directions: map[int][]float32{}}
	for i, l := range layers {
		pc, err := firstPrincipalComponent(pairDifferences(pos, neg, i))
		if err != nil {
			return nil, fmt.Errorf("interp: pca at block %d: %w", l, err)
		}
		dir := make([]float32, len(pc))
		for j, x := range pc {
			dir[j] = float32(x)
		}
		v.Directions[l] = dir
	}
	return v, nil
}

// firstPrincipalComponent returns the unit-norm first principal component
// of the rows of diffs (the top right singular vector of the centered
// rows), with its sign chosen so that the rows' mean projects onto it with
// a positive value. A zero mean projection keeps the solver's sign.
func firstPrincipalComponent(diffs [][]float64) ([]float64, error) {
	n, d := len(diffs), len(diffs[0])
	mean := make([]float64, d)
	for _, row := range diffs {
		for j, x := range row {
			mean[j] += x / float64(n)
		}
	}
	centered := mat.NewDense(n, d, nil)
	scale := 0.0
	for i, row := range diffs {
		for j, x := range row {
			centered.Set(i, j, x-mean[j])
			scale = math.Max(scale, math.Abs(x))
		}
	}

	var svd mat.SVD
	if !svd.Factorize(centered, mat.SVDThinV) {
		return nil, fmt.Errorf("singular value decomposition failed to converge")
	}
	values := svd.Values(nil)
	// The tolerance is a few float64 roundings of the largest difference,
	// so that identical differences, which have no principal direction,
	// are caught despite rounding in the centering.
	if values[0] <= 1e-12*scale*math.Sqrt(float64(n*d)) {
		return nil, fmt.Errorf("the paired differences do not vary, so they have no principal component; use mean-diff")
	}
	var vt mat.Dense
	svd.VTo(&vt)
	pc := make([]float64, d)
	mat.Col(pc, 0, &vt)

	projection := 0.0
	for j, x := range pc {
		projection += x * mean[j]
	}
	if projection < 0 {
		for j := range pc {
			pc[j] = -pc[j]
		}
	}
	return pc, nil
}
