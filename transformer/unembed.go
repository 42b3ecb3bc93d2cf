package transformer

import (
	"fmt"

	"github.com/interp-go/interp/transformer/internal/kernels"
)

// Unembed returns the logits [vocab] that the model would output for a final
// residual stream x [d_model] at one position. It applies the final norm
// with its weight and bias, the output matrix and, where the architecture
// has one, the final soft cap. It reads a residual stream direction as
// vocabulary, as the logit lens does.
func (m *Model) Unembed(x []float32) ([]float32, error) {
	if len(x) != m.DModel {
		return nil, fmt.Errorf("transformer: unembedding a vector of length %d, want d_model = %d", len(x), m.DModel)
	}
	normW, out := m.arch.final()
	normed := make([]float32, m.DModel)
	scale := make([]float32, 1)
	if m.Arch == "gpt2" {
		kernels.LayerNormalize(normed, scale, x, m.DModel, m.NormEps)
	} else {
		kernels.RMSNormalize(normed, scale, x, m.DModel, m.NormEps)
	}
	kernels.Affine(normed, normed, normW.weight, normW.bias)

	logits := make([]float32, out.Rows)
	m.product(logits, normed, 1, &out)
	if limit := m.FinalSoftCap; limit > 0 {
		softCap(logits, limit)
	}
	return logits, nil
}

// MLPDown returns what block layer's MLP adds to the residual stream
// (hook_mlp_out) at one position whose MLP hidden activation
// (mlp.hook_post) is z [d_mlp], leaving out the down projection's bias.
// That is W_down·z for gpt2 and the Llama family. A gemma2 block normalizes
// its MLP output with post_ffw_norm before the residual add, so for gemma2
// the result is RMSNorm(W_down·z) times the norm's weight. It keeps the
// direction of W_down·z, reweighted per channel, but not its length.
func (m *Model) MLPDown(layer int, z []float32) ([]float32, error) {
	if layer < 0 || layer >= m.NLayers {
		return nil, fmt.Errorf("transformer: block %d out of range; the model has blocks 0 to %d", layer, m.NLayers-1)
	}
	if len(z) != m.DMLP {
		return nil, fmt.Errorf("transformer: MLP hidden vector of length %d, want d_mlp = %d", len(z), m.DMLP)
	}
	down, postNorm, err := m.mlpOutput(layer)
	if err != nil {
		return nil, err
	}

	out := make([]float32, m.DModel)
	m.product(out, z, 1, &down.weight)
	if postNorm != nil {
		scale := make([]float32, 1)
		kernels.RMSNormalize(out, scale, out, m.DModel, m.NormEps)
		kernels.Affine(out, out, postNorm.weight, postNorm.bias)
	}
	return out, nil
}

// mlpOutput returns block layer's down projection and the norm applied to
// its output, or nil for architectures without one.
func (m *Model) mlpOutput(layer int) (linear, *norm, error) {
	switch w := m.arch.(type) {
	case *gpt2Weights:
		return w.Blocks[layer].Down, nil, nil
	case interface{ decoder(int) *decoderBlock }:
		b := w.decoder(layer)
		return b.down, b.mlpPostNorm, nil
	}
	return linear{}, nil, fmt.Errorf("transformer: architecture %s has no MLP down projection the runtime can read", m.Arch)
}
