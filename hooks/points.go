// Package hooks names the points of a transformer's forward pass where a
// program may read or replace activations, and provides forward hooks, an
// activation cache with name filters, and the standard interventions
// (replace from a cache, add a vector, scale, zero and mean ablation).
//
// Hook point names follow TransformerLens, so that `blocks.8.hook_resid_pre`
// means the same point here as in a paper or an SAE release. The package
// contains no model code; package transformer calls the hooks.
package hooks

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind identifies a hook point within a block, or a model-level point.
type Kind uint8

// Hook point kinds. The comments give the shape for one sequence; a batched
// run adds a leading batch axis.
const (
	Embed             Kind = iota // hook_embed [seq, d_model]
	PosEmbed                      // hook_pos_embed [seq, d_model], learned positions only
	ResidPre                      // blocks.L.hook_resid_pre [seq, d_model]
	Ln1Scale                      // blocks.L.ln1.hook_scale [seq, 1]
	Ln1Normalized                 // blocks.L.ln1.hook_normalized [seq, d_model]
	Q                             // blocks.L.attn.hook_q [seq, n_heads, d_head], before RoPE
	K                             // blocks.L.attn.hook_k [seq, n_kv_heads, d_head], before RoPE
	V                             // blocks.L.attn.hook_v [seq, n_kv_heads, d_head]
	RotQ                          // blocks.L.attn.hook_rot_q [seq, n_heads, d_head], after RoPE
	RotK                          // blocks.L.attn.hook_rot_k [seq, n_kv_heads, d_head], after RoPE
	AttnScores                    // blocks.L.attn.hook_attn_scores [n_heads, seq, keys]
	Pattern                       // blocks.L.attn.hook_pattern [n_heads, seq, keys]
	Z                             // blocks.L.attn.hook_z [seq, n_heads, d_head]
	AttnOut                       // blocks.L.hook_attn_out [seq, d_model]
	ResidMid                      // blocks.L.hook_resid_mid [seq, d_model]
	Ln2Scale                      // blocks.L.ln2.hook_scale [seq, 1]
	Ln2Normalized                 // blocks.L.ln2.hook_normalized [seq, d_model]
	MLPPre                        // blocks.L.mlp.hook_pre [seq, d_mlp], the gate branch of a gated MLP
	MLPPreLinear                  // blocks.L.mlp.hook_pre_linear [seq, d_mlp], the up branch of a gated MLP
	MLPPost                       // blocks.L.mlp.hook_post [seq, d_mlp]
	MLPOut                        // blocks.L.hook_mlp_out [seq, d_model]
	ResidPost                     // blocks.L.hook_resid_post [seq, d_model]
	LnFinalScale                  // ln_final.hook_scale [seq, 1]
	LnFinalNormalized             // ln_final.hook_normalized [seq, d_model]

	// NumKinds is the number of hook point kinds.
	NumKinds
)

// Layout describes the axes of a hook point's tensor for one sequence.
type Layout uint8

// Tensor layouts of hook points.
const (
	// PerPosition tensors are [seq, width]: residual stream, MLP and norm points.
	PerPosition Layout = iota
	// PerHead tensors are [seq, heads, d_head]: q, k, v, rot_q, rot_k and z.
	PerHead
	// PerHeadQueryKey tensors are [heads, seq, keys]: attention scores and pattern.
	PerHeadQueryKey
)

type kindInfo struct {
	suffix     string // name after "blocks.L." (or the full name for model-level points)
	modelLevel bool
	layout     Layout
}

var kinds = [NumKinds]kindInfo{
	Embed:             {"hook_embed", true, PerPosition},
	PosEmbed:          {"hook_pos_embed", true, PerPosition},
	ResidPre:          {"hook_resid_pre", false, PerPosition},
	Ln1Scale:          {"ln1.hook_scale", false, PerPosition},
	Ln1Normalized:     {"ln1.hook_normalized", false, PerPosition},
	Q:                 {"attn.hook_q", false, PerHead},
	K:                 {"attn.hook_k", false, PerHead},
	V:                 {"attn.hook_v", false, PerHead},
	RotQ:              {"attn.hook_rot_q", false, PerHead},
	RotK:              {"attn.hook_rot_k", false, PerHead},
	AttnScores:        {"attn.hook_attn_scores", false, PerHeadQueryKey},
	Pattern:           {"attn.hook_pattern", false, PerHeadQueryKey},
	Z:                 {"attn.hook_z", false, PerHead},
	AttnOut:           {"hook_attn_out", false, PerPosition},
	ResidMid:          {"hook_resid_mid", false, PerPosition},
	Ln2Scale:          {"ln2.hook_scale", false, PerPosition},
	Ln2Normalized:     {"ln2.hook_normalized", false, PerPosition},
	MLPPre:            {"mlp.hook_pre", false, PerPosition},
	MLPPreLinear:      {"mlp.hook_pre_linear", false, PerPosition},
	MLPPost:           {"mlp.hook_post", false, PerPosition},
	MLPOut:            {"hook_mlp_out", false, PerPosition},
	ResidPost:         {"hook_resid_post", false, PerPosition},
	LnFinalScale:      {"ln_final.hook_scale", true, PerPosition},
	LnFinalNormalized: {"ln_final.hook_normalized", true, PerPosition},
}

// ModelLevel reports whether points of this kind occur once per model rather
// than once per block.
func (k Kind) ModelLevel() bool { return kinds[k].modelLevel }

// Layout returns the axes of this kind's tensor for one sequence.
func (k Kind) Layout() Layout { return kinds[k].layout }

// String returns the kind's name without the block prefix, such as
// "hook_resid_pre" or "attn.hook_z".
func (k Kind) String() string {
	if k >= NumKinds {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kinds[k].suffix
}

// Point is one hook point of a model: a kind, and for block-level kinds the
// block index (Layer is -1 for model-level points).
type Point struct {
	Layer int
	Kind  Kind
}

// Name returns the TransformerLens name of the point, such as
// "blocks.3.attn.hook_z".
func (p Point) Name() string {
	if p.Kind.ModelLevel() {
		return kinds[p.Kind].suffix
	}
	return "blocks." + strconv.Itoa(p.Layer) + "." + kinds[p.Kind].suffix
}

// String returns p.Name().
func (p Point) String() string { return p.Name() }

// ParsePoint parses a TransformerLens hook point name. It checks the syntax
// only; whether a model has the point is for the model to say.
func ParsePoint(name string) (Point, error) {
	for k := Kind(0); k < NumKinds; k++ {
		if kinds[k].modelLevel && name == kinds[k].suffix {
			return Point{Layer: -1, Kind: k}, nil
		}
	}
	rest, ok := strings.CutPrefix(name, "blocks.")
	if ok {
		layerText, suffix, found := strings.Cut(rest, ".")
		layer, err := strconv.Atoi(layerText)
		if found && err == nil && layer >= 0 && strconv.Itoa(layer) == layerText {
			for k := Kind(0); k < NumKinds; k++ {
				if !kinds[k].modelLevel && suffix == kinds[k].suffix {
					return Point{Layer: layer, Kind: k}, nil
				}
			}
		}
	}
	return Point{}, fmt.Errorf("hooks: %q is not a hook point name", name)
}
