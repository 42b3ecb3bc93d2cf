package interp

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// AUSteer ("Fine-Grained Activation Steering: Steering Less, Achieving
// More", Feng et al., ICLR 2026) treats each dimension of a block
// activation as an atomic unit. A unit's score is
//
//	β = sign · max(c⁺, c⁻) / N
//
// over N contrastive pairs, where c⁺ and c⁻ count the pairs whose positive
// activation is above or below the negative one at the last token, and the
// sign is that of the larger count. The top k units by |β| over all layers
// are kept, and at generation each kept unit's activation a becomes
// a·(1 + α·β) at every position, so the push scales with the input's own
// activation.

// Blocks whose activations AUSteer scores, named as in `interp steer
// --block`.
const (
	// BlockAttn is the concatenated head outputs before the output
	// projection: blocks.L.attn.hook_z as [seq, n_heads·d_head].
	BlockAttn = "attn"
	// BlockMLP is the MLP output, blocks.L.hook_mlp_out.
	BlockMLP = "mlp"
	// BlockResid is the block output, blocks.L.hook_resid_post.
	BlockResid = "resid"
)

// Blocks lists the AUSteer block names.
var Blocks = []string{BlockAttn, BlockMLP, BlockResid}

// BlockKind returns the hook point kind whose activation an AUSteer block
// name denotes.
func BlockKind(block string) (hooks.Kind, error) {
	switch block {
	case BlockAttn:
		return hooks.Z, nil
	case BlockMLP:
		return hooks.MLPOut, nil
	case BlockResid:
		return hooks.ResidPost, nil
	}
	return 0, fmt.Errorf("interp: unknown AUSteer block %q (valid: attn, mlp, resid)", block)
}

// Unit is one atomic unit, a dimension of one block's activation, with its
// AUSteer score β in [−1, 1].
type Unit struct {
	Layer int     `json:"layer"`
	Dim   int     `json:"dim"`
	Score float64 `json:"score"`
}

// UnitScores are the AUSteer scores of every unit of the scored blocks.
type UnitScores struct {
	Block  string
	Layers []int       // the scored blocks, in increasing order
	Scores [][]float64 // [len(Layers)][width]: β of each unit
}

// ScoreUnits computes the AUSteer score of every dimension of the block
// activation at each requested layer (every layer for nil opts.Layers)
// from paired contrastive examples.
func ScoreUnits(m *transformer.Model, c Contrast, block string, opts ContrastOptions) (*UnitScores, error) {
	kind, err := BlockKind(block)
	if err != nil {
		return nil, err
	}
	if err := c.check(m, true, SteerAUSteer); err != nil {
		return nil, err
	}
	layers, err := opts.layers(m)
	if err != nil {
		return nil, err
	}
	pos, neg, err := contrastActivations(m, c, kind, layers, opts)
	if err != nil {
		return nil, err
	}
	scores, err := PairScores(pos, neg)
	if err != nil {
		return nil, err
	}
	return &UnitScores{Block: block, Layers: layers, Scores: scores}, nil
}

// PairScores returns the AUSteer score β of every unit from paired
// activations pos[i] and neg[i], each [layer][dim]. A tie (c⁺ = c⁻, which
// includes identical activations) has no sign and scores 0, so swapping
// positive and negative data negates every score.
func PairScores(pos, neg [][][]float32) ([][]float64, error) {
	if len(pos) == 0 || len(pos) != len(neg) {
		return nil, fmt.Errorf("interp: AUSteer needs equal, non-zero numbers of positive and negative activations (got %d and %d)", len(pos), len(neg))
	}
	n := float64(len(pos))
	scores := make([][]float64, len(pos[0]))
	for l := range scores {
		width := len(pos[0][l])
		above := make([]int, width)
		below := make([]int, width)
		for p := range pos {
			a, b := pos[p][l], neg[p][l]
			if len(a) != width || len(b) != width {
				return nil, fmt.Errorf("interp: AUSteer pair %d, layer index %d: activations of widths %d and %d, want %d", p, l, len(a), len(b), width)
			}
			for j := range width {
				switch {
				case a[j] > b[j]:
					above[j]++
				case a[j] < b[j]:
					below[j]++
				}
			}
		}
		scores[l] = make([]float64, width)
		for j := range width {
			switch {
			case above[j] > below[j]:
				scores[l][j] = float64(above[j]) / n
			case below[j] > above[j]:
				scores[l][j] = -float64(below[j]) / n
			}
		}
	}
	return scores, nil
}

// Top returns up to k units of non-zero score, in decreasing order of |β|
// with ties in increasing (layer, dim) order. A unit of score 0 would be
// scaled by 1, so it is never returned.
func (s *UnitScores) Top(k int) []Unit {
	var all []Unit
	for i, row := range s.Scores {
		for j, b := range row {
			if b != 0 {
				all = append(all, Unit{Layer: s.Layers[i], Dim: j, Score: b})
			}
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return math.Abs(all[a].Score) > math.Abs(all[b].Score) })
	return all[:min(k, len(all))]
}

// UnitMask is AUSteer's multiplicative steering: at each unit, the block
// activation a becomes a·(1 + α·β) at every position.
type UnitMask struct {
	Block string
	Units []Unit
}

// Layers returns the blocks that have units, in increasing order.
func (u *UnitMask) Layers() []int {
	var layers []int
	for _, unit := range u.Units {
		layers = append(layers, unit.Layer)
	}
	slices.Sort(layers)
	return slices.Compact(layers)
}

// Validate checks the mask against a model: a known block, units within
// the model's blocks and the block activation's width, and no unit twice.
func (u *UnitMask) Validate(m *transformer.Model) error {
	kind, err := BlockKind(u.Block)
	if err != nil {
		return err
	}
	width, err := pointWidth(m, kind)
	if err != nil {
		return err
	}
	seen := map[[2]int]bool{}
	for _, unit := range u.Units {
		if unit.Layer < 0 || unit.Layer >= m.NLayers {
			return fmt.Errorf("interp: AUSteer unit in block %d, but the model has blocks 0 to %d", unit.Layer, m.NLayers-1)
		}
		if unit.Dim < 0 || unit.Dim >= width {
			return fmt.Errorf("interp: AUSteer unit %d of block %d out of range; the %s activation has width %d", unit.Dim, unit.Layer, u.Block, width)
		}
		key := [2]int{unit.Layer, unit.Dim}
		if seen[key] {
			return fmt.Errorf("interp: AUSteer unit %d of block %d appears twice", unit.Dim, unit.Layer)
		}
		seen[key] = true
	}
	return nil
}

// Attach registers one hook per block with units on h that multiplies each
// unit's activation by 1 + alpha·β at every position, in prefill and in
// every decoding step alike. It panics on an unknown block; Validate
// reports that as an error.
func (u *UnitMask) Attach(h *hooks.Hooks, alpha float64) {
	kind, err := BlockKind(u.Block)
	if err != nil {
		panic(err)
	}
	byLayer := map[int][]Unit{}
	for _, unit := range u.Units {
		byLayer[unit.Layer] = append(byLayer[unit.Layer], unit)
	}
	for _, l := range u.Layers() {
		units := byLayer[l]
		slices.SortFunc(units, func(a, b Unit) int { return cmp.Compare(a.Dim, b.Dim) })
		dims := make([]int, len(units))
		factors := make([]float32, len(units))
		for i, unit := range units {
			dims[i] = unit.Dim
			factors[i] = float32(1 + alpha*unit.Score)
		}
		h.Add(hooks.Point{Layer: l, Kind: kind}.Name(), scaleUnits(dims, factors))
	}
}

// scaleUnits returns a hook that multiplies dimension dims[i] of every
// position's activation by factors[i]. A position's activation is the last
// axis, or the last two axes ([n_heads, d_head], flattened) at per-head
// points such as hook_z.
func scaleUnits(dims []int, factors []float32) hooks.Func {
	return func(t *hooks.Tensor, p hooks.Point) error {
		width := t.Shape[len(t.Shape)-1]
		if p.Kind.Layout() == hooks.PerHead {
			width *= t.Shape[len(t.Shape)-2]
		}
		if last := dims[len(dims)-1]; last >= width {
			return fmt.Errorf("interp: AUSteer hook at %s: unit %d out of range of width %d", p.Name(), last, width)
		}
		for off := 0; off < len(t.Data); off += width {
			row := t.Data[off : off+width]
			for i, j := range dims {
				row[j] *= factors[i]
			}
		}
		return nil
	}
}
