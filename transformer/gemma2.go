package transformer

import (
	"math"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// gemma2Weights binds the tensors of llama.cpp's gemma2 layout
// (src/models/gemma2.cpp): token embeddings scaled by sqrt(d_model), RMSNorm
// before and after both attention and the MLP, a GELU-gated MLP, RoPE of
// type NEOX, and an output tied to the token embedding. llama.cpp's
// converter stores Gemma's RMSNorm weights as 1 + w, so the file's weights
// multiply the normalized values directly.
//
// Config carries the rest: attention soft-capping, final-logit
// soft-capping, the query scale, and the sliding window of every other
// block.
//
// NOTE: the post-attention and post-MLP norms have no hook points (package
// hooks has no kinds for them). hook_attn_out and hook_mlp_out are taken
// after them, so they are what the block adds to the residual stream.
type gemma2Weights struct {
	TokenEmbd matrix        `gguf:"token_embd.weight" shape:"vocab,d_model"`
	Blocks    []gemma2Block `gguf:"blk"`
	OutNorm   norm          `gguf:"output_norm" shape:"d_model"`
}

type gemma2Block struct {
	AttnNorm     norm   `gguf:"attn_norm" shape:"d_model"`
	Q            linear `gguf:"attn_q" shape:"n_heads*d_head,d_model"`
	K            linear `gguf:"attn_k" shape:"n_kv_heads*d_head,d_model"`
	V            linear `gguf:"attn_v" shape:"n_kv_heads*d_head,d_model"`
	AttnOut      linear `gguf:"attn_output" shape:"d_model,n_heads*d_head"`
	AttnPostNorm norm   `gguf:"post_attention_norm" shape:"d_model"`
	MLPNorm      norm   `gguf:"ffn_norm" shape:"d_model"`
	Gate         linear `gguf:"ffn_gate" shape:"d_mlp,d_model"`
	Up           linear `gguf:"ffn_up" shape:"d_mlp,d_model"`
	Down         linear `gguf:"ffn_down" shape:"d_model,d_mlp"`
	MLPPostNorm  norm   `gguf:"post_ffw_norm" shape:"d_model"`
}

func (w *gemma2Weights) hasKind(k hooks.Kind) bool { return k != hooks.PosEmbed }

func (w *gemma2Weights) final() (norm, matrix) { return w.OutNorm, w.TokenEmbd }

// embed sets the residual stream to the token embeddings times
// sqrt(d_model). hook_embed gets the scaled embeddings, as in
// TransformerLens, which folds the scale into W_E for Gemma.
func (w *gemma2Weights) embed(r *run) {
	d := r.m.DModel
	scale := float32(math.Sqrt(float64(d)))
	for i, id := range r.ids {
		row := r.resid[i*d : (i+1)*d]
		w.TokenEmbd.Row(row, int(id))
		for j := range row {
			row[j] *= scale
		}
	}
	r.hook(-1, hooks.Embed, r.resid, r.seq, d)
}

// block runs one Gemma 2 block:
// x += postnorm1(attn(rmsnorm1(x)));
// x += postnorm2(down(gelu(gate(h)) ⊙ up(h))) with h = rmsnorm2(x).
func (w *gemma2Weights) block(r *run, l int) {
	b := &w.Blocks[l]
	s := &r.s
	d, dmlp, dh := r.m.DModel, r.m.DMLP, r.m.DHead
	heads, kvHeads := r.m.NHeads, r.m.NKVHeads

	r.hook(l, hooks.ResidPre, r.resid, r.seq, d)
	r.normalize(l, hooks.Ln1Scale, r.resid, b.AttnNorm)
	r.linear(s.q, s.normed, b.Q)
	r.linear(s.k, s.normed, b.K)
	r.linear(s.v, s.normed, b.V)
	r.hook(l, hooks.Q, s.q, r.seq, heads, dh)
	r.hook(l, hooks.K, s.k, r.seq, kvHeads, dh)
	r.hook(l, hooks.V, s.v, r.seq, kvHeads, dh)
	r.applyBlockRoPE(l, s.q, heads)
	r.applyBlockRoPE(l, s.k, kvHeads)
	r.hook(l, hooks.RotQ, s.q, r.seq, heads, dh)
	r.hook(l, hooks.RotK, s.k, r.seq, kvHeads, dh)
	r.attend(l, s.q, s.k, s.v, s.z)
	r.linear(s.attnOut, s.z, b.AttnOut)
	r.rmsNormInPlace(s.attnOut, b.AttnPostNorm)
	r.hook(l, hooks.AttnOut, s.attnOut, r.seq, d)
	kernels.Add(r.resid, s.attnOut)
	r.hook(l, hooks.ResidMid, r.resid, r.seq, d)

	r.normalize(l, hooks.Ln2Scale, r.resid, b.MLPNorm)
	r.linear(s.pre, s.normed, b.Gate)
	r.hook(l, hooks.MLPPre, s.pre, r.seq, dmlp)
	r.linear(s.preLinear, s.normed, b.Up)
	r.hook(l, hooks.MLPPreLinear, s.preLinear, r.seq, dmlp)
	kernels.GELU(s.post, s.pre)
	kernels.Mul(s.post, s.preLinear)
	r.hook(l, hooks.MLPPost, s.post, r.seq, dmlp)
	r.linear(s.mlpOut, s.post, b.Down)
	r.rmsNormInPlace(s.mlpOut, b.MLPPostNorm)
	r.hook(l, hooks.MLPOut, s.mlpOut, r.seq, d)
	kernels.Add(r.resid, s.mlpOut)
	r.hook(l, hooks.ResidPost, r.resid, r.seq, d)
}

// rmsNormInPlace applies an RMSNorm with weight w to x [rows, d_model],
// calling no hooks.
func (r *run) rmsNormInPlace(x []float32, w norm) {
	kernels.RMSNormalize(x, r.s.scale, x, r.m.DModel, r.m.NormEps)
	kernels.Affine(x, x, w.weight, w.bias)
}
