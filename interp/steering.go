package interp

import (
	"fmt"
	"math"
	"slices"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// Steering methods, named as in `interp steer --method`.
const (
	// SteerMeanDiff is the difference of the mean block outputs of positive
	// and negative examples (contrastive activation addition).
	SteerMeanDiff = "mean-diff"
	// SteerPCA is the first principal component of the centered paired
	// differences, with its sign fixed so that positive examples project
	// higher.
	SteerPCA = "pca"
	// SteerAUSteer scores single dimensions of a block activation and
	// scales the top-scoring ones (see UnitMask).
	SteerAUSteer = "austeer"
	// SteerControlVector marks a vector read from llama.cpp control-vector
	// files.
	SteerControlVector = "control-vector"
	// SteerFeature marks an SNMF feature used as a direction of the MLP's
	// hidden activation (blocks.L.mlp.hook_post).
	SteerFeature = "snmf-feature"
)

// FeatureVector returns the steering vector of an SNMF feature: its unit
// direction z/‖z‖ at blocks.L.mlp.hook_post of the feature's block, so that
// strength S adds S·z/‖z‖ at every position.
func FeatureVector(f *Feature) *Vector {
	return &Vector{Method: SteerFeature, Point: hooks.MLPPost, Directions: map[int][]float32{f.Layer: f.Direction()}}
}

// Vector is an additive steering vector: for each block L in Directions, a
// direction that is added to the activation at hook point blocks.L.<Point>
// at every position, scaled by a strength. Point must be a per-position
// kind. Control vectors use hooks.ResidPost, where llama.cpp adds
// direction.L, and other kinds (such as hooks.MLPPost for a feature direction)
// are valid for steering in interp but cannot be saved as control vectors.
type Vector struct {
	Method     string
	Point      hooks.Kind
	Directions map[int][]float32 // by block, each of the point's width
}

// Layers returns the vector's blocks in increasing order.
func (v *Vector) Layers() []int {
	layers := make([]int, 0, len(v.Directions))
	for l := range v.Directions {
		layers = append(layers, l)
	}
	slices.Sort(layers)
	return layers
}

// Norms returns the Euclidean norm of each direction, in the order of
// Layers.
func (v *Vector) Norms() []float64 {
	layers := v.Layers()
	norms := make([]float64, len(layers))
	for i, l := range layers {
		norms[i] = norm(v.Directions[l])
	}
	return norms
}

func norm(x []float32) float64 {
	var s float64
	for _, e := range x {
		s += float64(e) * float64(e)
	}
	return math.Sqrt(s)
}

// Validate checks the vector against a model: a per-position point, blocks
// within the model, and directions of the point's width.
func (v *Vector) Validate(m *transformer.Model) error {
	if v.Point.ModelLevel() || v.Point.Layout() != hooks.PerPosition {
		return fmt.Errorf("interp: steering vector at %s: an additive vector needs a per-block, per-position hook point such as hook_resid_post", v.Point)
	}
	if len(v.Directions) == 0 {
		return fmt.Errorf("interp: steering vector has no directions")
	}
	width, err := pointWidth(m, v.Point)
	if err != nil {
		return err
	}
	for _, l := range v.Layers() {
		if l < 0 || l >= m.NLayers {
			return fmt.Errorf("interp: steering vector direction for block %d, but the model has blocks 0 to %d", l, m.NLayers-1)
		}
		if n := len(v.Directions[l]); n != width {
			return fmt.Errorf("interp: steering vector direction for block %d has %d values, but %s of this model has width %d", l, n, v.Point, width)
		}
	}
	return nil
}

// Attach registers one hook per block on h that adds strength times the
// block's direction to the activation at every position, in prefill and in
// every decoding step alike. Hooks registered on h later see the steered
// activation.
func (v *Vector) Attach(h *hooks.Hooks, strength float64) {
	for _, l := range v.Layers() {
		dir := v.Directions[l]
		scaled := make([]float32, len(dir))
		for i, x := range dir {
			scaled[i] = float32(strength * float64(x))
		}
		h.Add(hooks.Point{Layer: l, Kind: v.Point}.Name(), hooks.AddVector(scaled))
	}
}

// pointWidth returns the width of one position's activation at a block
// point of kind k: the last axis for per-position points, n_heads·d_head
// for hook_z and the other per-head points flattened.
func pointWidth(m *transformer.Model, k hooks.Kind) (int, error) {
	switch k {
	case hooks.ResidPre, hooks.ResidMid, hooks.ResidPost, hooks.AttnOut, hooks.MLPOut, hooks.Ln1Normalized, hooks.Ln2Normalized:
		return m.DModel, nil
	case hooks.MLPPre, hooks.MLPPreLinear, hooks.MLPPost:
		return m.DMLP, nil
	case hooks.Q, hooks.RotQ, hooks.Z:
		return m.NHeads * m.DHead, nil
	case hooks.K, hooks.V, hooks.RotK:
		return m.NKVHeads * m.DHead, nil
	}
	return 0, fmt.Errorf("interp: hook point %s has no per-position width", k)
}

// Positions selects the token positions whose activations stand for an
// example.
type Positions int

const (
	// LastPosition takes the activation at the example's last token.
	LastPosition Positions = iota
	// AllPositions takes the mean of the activations over the example's
	// tokens.
	AllPositions
)

// Contrast is contrastive data as token ids. The paired methods (PCA and
// AUSteer) pair Positive[i] with Negative[i] and need equal counts, but
// the mean difference does not.
type Contrast struct {
	Positive, Negative [][]int32
}

// ContrastOptions configures the methods that read activations of
// contrastive examples.
type ContrastOptions struct {
	// Layers lists the blocks to build directions for or to score. Nil
	// means every block.
	Layers []int
	// Positions selects the last token (the default) or the mean over
	// all tokens.
	Positions Positions
	// Progress, if set, is called after each example's forward pass.
	Progress func(done, total int)
}

// layers returns the requested blocks, checked against m, or every block.
func (o ContrastOptions) layers(m *transformer.Model) ([]int, error) {
	if o.Layers == nil {
		layers := make([]int, m.NLayers)
		for l := range layers {
			layers[l] = l
		}
		return layers, nil
	}
	if len(o.Layers) == 0 {
		return nil, fmt.Errorf("interp: no blocks selected")
	}
	layers := slices.Clone(o.Layers)
	slices.Sort(layers)
	layers = slices.Compact(layers)
	for _, l := range layers {
		if l < 0 || l >= m.NLayers {
			return nil, fmt.Errorf("interp: block %d out of range; the model has blocks 0 to %d", l, m.NLayers-1)
		}
	}
	return layers, nil
}

// check validates the examples against the model. Paired methods also
// need equal counts.
func (c Contrast) check(m *transformer.Model, paired bool, method string) error {
	if len(c.Positive) == 0 || len(c.Negative) == 0 {
		return fmt.Errorf("interp: %s needs at least one positive and one negative example (got %d and %d)", method, len(c.Positive), len(c.Negative))
	}
	if paired && len(c.Positive) != len(c.Negative) {
		return fmt.Errorf("interp: %s pairs positive and negative examples, but there are %d positive and %d negative ones", method, len(c.Positive), len(c.Negative))
	}
	for _, set := range []struct {
		name     string
		examples [][]int32
	}{{"positive", c.Positive}, {"negative", c.Negative}} {
		for i, ids := range set.examples {
			if len(ids) == 0 {
				return fmt.Errorf("interp: %s example %d has no tokens", set.name, i+1)
			}
			if len(ids) > m.NCtx {
				return fmt.Errorf("interp: %s example %d has %d tokens, more than the context length %d", set.name, i+1, len(ids), m.NCtx)
			}
		}
	}
	return nil
}

// collectActivations runs each example alone and returns its activations
// [example][len(layers)][width] at blocks.L.<kind> for every L in layers,
// taken at the last token or averaged over tokens. Per-head points are
// flattened to [n_heads·d_head]. done and total feed progress across
// several calls.
func collectActivations(m *transformer.Model, examples [][]int32, kind hooks.Kind, layers []int, pos Positions, progress func(done, total int), done, total int) ([][][]float32, error) {
	out := make([][][]float32, len(examples))
	for e, ids := range examples {
		acts := make([][]float32, len(layers))
		h := &hooks.Hooks{}
		for i, l := range layers {
			h.Add(hooks.Point{Layer: l, Kind: kind}.Name(), func(t *hooks.Tensor, p hooks.Point) error {
				acts[i] = positionSummary(t, pos)
				return nil
			})
		}
		if _, err := m.Run(ids, &transformer.Options{Hooks: h, Logits: transformer.NoLogits}); err != nil {
			return nil, err
		}
		out[e] = acts
		if progress != nil {
			progress(done+e+1, total)
		}
	}
	return out, nil
}

// positionSummary returns the last row of a one-sequence activation, or the
// mean of its rows, where a row is everything after the position axis.
func positionSummary(t *hooks.Tensor, pos Positions) []float32 {
	rows := t.Shape[0]
	width := len(t.Data) / rows
	if pos == LastPosition {
		return slices.Clone(t.Data[(rows-1)*width:])
	}
	sum := make([]float64, width)
	for r := range rows {
		for j, x := range t.Data[r*width : (r+1)*width] {
			sum[j] += float64(x)
		}
	}
	mean := make([]float32, width)
	for j, s := range sum {
		mean[j] = float32(s / float64(rows))
	}
	return mean
}

// contrastActivations collects the activations of the positive and the
// negative examples at blocks.L.<kind> for each of layers.
func contrastActivations(m *transformer.Model, c Contrast, kind hooks.Kind, layers []int, opts ContrastOptions) (pos, neg [][][]float32, err error) {
	total := len(c.Positive) + len(c.Negative)
	pos, err = collectActivations(m, c.Positive, kind, layers, opts.Positions, opts.Progress, 0, total)
	if err != nil {
		return nil, nil, fmt.Errorf("interp: positive examples: %w", err)
	}
	neg, err = collectActivations(m, c.Negative, kind, layers, opts.Positions, opts.Progress, len(c.Positive), total)
	if err != nil {
		return nil, nil, fmt.Errorf("interp: negative examples: %w", err)
	}
	return pos, neg, nil
}

// MeanDifference builds a contrastive activation addition vector: for
// each block L, the mean of the positive examples' blocks.L.hook_resid_post
// minus the mean of the negative examples', accumulated in float64. This is
// the block output that llama.cpp adds direction.L to.
func MeanDifference(m *transformer.Model, c Contrast, opts ContrastOptions) (*Vector, error) {
	if err := c.check(m, false, SteerMeanDiff); err != nil {
		return nil, err
	}
	layers, err := opts.layers(m)
	if err != nil {
		return nil, err
	}
	pos, neg, err := contrastActivations(m, c, hooks.ResidPost, layers, opts)
	if err != nil {
		return nil, err
	}

	v := &Vector{Method: SteerMeanDiff, Point: hooks.ResidPost, Directions: map[int][]float32{}}
	for i, l := range layers {
		mp, mn := meanOf(pos, i), meanOf(neg, i)
		dir := make([]float32, len(mp))
		for j := range dir {
			dir[j] = float32(mp[j] - mn[j])
		}
		v.Directions[l] = dir
	}
	return v, nil
}

// meanOf returns the mean over examples of the activation at layer index i.
func meanOf(acts [][][]float32, i int) []float64 {
	mean := make([]float64, len(acts[0][i]))
	for _, a := range acts {
		for j, x := range a[i] {
			mean[j] += float64(x)
		}
	}
	for j := range mean {
		mean[j] /= float64(len(acts))
	}
	return mean
}

// pairDifferences returns the paired differences positive − negative at
// layer index i, as float64 rows.
func pairDifferences(pos, neg [][][]float32, i int) [][]float64 {
	diffs := make([][]float64, len(pos))
	for p := range pos {
		row := make([]float64, len(pos[p][i]))
		for j := range row {
			row[j] = float64(pos[p][i][j]) - float64(neg[p][i][j])
		}
		diffs[p] = row
	}
	return diffs
}
