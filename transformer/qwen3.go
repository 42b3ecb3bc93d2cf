package transformer

import (
	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// qwen3Weights binds the tensors of llama.cpp's qwen3 layout
// (src/models/qwen3.cpp): the llama layout without biases, plus an RMSNorm
// over each head of the queries and keys before RoPE of type NEOX. Those
// norms, attn_q_norm and attn_k_norm, have one weight of d_head values
// shared by all heads. The head width comes from qwen3.attention.key_length,
// so n_heads·d_head may differ from d_model.
type qwen3Weights struct {
	TokenEmbd matrix       `gguf:"token_embd.weight" shape:"vocab,d_model"`
	Blocks    []qwen3Block `gguf:"blk"`
	OutNorm   norm         `gguf:"output_norm" shape:"d_model"`
	Output    matrix       `gguf:"output.weight,alt=token_embd.weight" shape:"vocab,d_model"`
}

type qwen3Block struct {
	AttnNorm norm   `gguf:"attn_norm" shape:"d_model"`
	Q        linear `gguf:"attn_q" shape:"n_heads*d_head,d_model"`
	K        linear `gguf:"attn_k" shape:"n_kv_heads*d_head,d_model"`
	V        linear `gguf:"attn_v" shape:"n_kv_heads*d_head,d_model"`
	QNorm    norm   `gguf:"attn_q_norm" shape:"d_head"`
	KNorm    norm   `gguf:"attn_k_norm" shape:"d_head"`
	AttnOut  linear `gguf:"attn_output" shape:"d_model,n_heads*d_head"`
	MLPNorm  norm   `gguf:"ffn_norm" shape:"d_model"`
	Gate     linear `gguf:"ffn_gate" shape:"d_mlp,d_model"`
	Up       linear `gguf:"ffn_up" shape:"d_mlp,d_model"`
	Down     linear `gguf:"ffn_down" shape:"d_model,d_mlp"`
}

func (w *qwen3Weights) hasKind(k hooks.Kind) bool { return k != hooks.PosEmbed }

func (w *qwen3Weights) final() (norm, matrix) { return w.OutNorm, w.Output }

// embed sets the residual stream to the token embeddings.
func (w *qwen3Weights) embed(r *run) {
	d := r.m.DModel
	for i, id := range r.ids {
		w.TokenEmbd.Row(r.resid[i*d:(i+1)*d], int(id))
	}
	r.hook(-1, hooks.Embed, r.resid, r.seq, d)
}

// block runs one pre-RMSNorm Qwen3 block:
// x += attn(rmsnorm1(x)) with q and k normalized per head before RoPE;
// x += down(silu(gate(h)) ⊙ up(h)) with h = rmsnorm2(x).
//
// hook_q and hook_k sit after the per-head norms and their weights, right
// before RoPE, so hook_rot_q = RoPE(hook_q) as in the other architectures
// and a patch at hook_q reaches attention unchanged by a norm.
func (w *qwen3Weights) block(r *run, l int) {
	b := &w.Blocks[l]
	s := &r.s
	d, dmlp, dh := r.m.DModel, r.m.DMLP, r.m.DHead
	heads, kvHeads := r.m.NHeads, r.m.NKVHeads

	r.hook(l, hooks.ResidPre, r.resid, r.seq, d)
	r.normalize(l, hooks.Ln1Scale, r.resid, b.AttnNorm)
	r.linear(s.q, s.normed, b.Q)
	r.linear(s.k, s.normed, b.K)
	r.linear(s.v, s.normed, b.V)
	r.normalizeHeads(s.q, heads, b.QNorm)
	r.normalizeHeads(s.k, kvHeads, b.KNorm)
	r.hook(l, hooks.Q, s.q, r.seq, heads, dh)
	r.hook(l, hooks.K, s.k, r.seq, kvHeads, dh)
	r.hook(l, hooks.V, s.v, r.seq, kvHeads, dh)
	r.applyRoPE(s.q, heads)
	r.applyRoPE(s.k, kvHeads)
	r.hook(l, hooks.RotQ, s.q, r.seq, heads, dh)
	r.hook(l, hooks.RotK, s.k, r.seq, kvHeads, dh)
	r.attend(l, s.q, s.k, s.v, s.z)
	r.linear(s.attnOut, s.z, b.AttnOut)
	r.hook(l, hooks.AttnOut, s.attnOut, r.seq, d)
	kernels.Add(r.resid, s.attnOut)
	r.hook(l, hooks.ResidMid, r.resid, r.seq, d)

	r.normalize(l, hooks.Ln2Scale, r.resid, b.MLPNorm)
	r.linear(s.pre, s.normed, b.Gate)
	r.hook(l, hooks.MLPPre, s.pre, r.seq, dmlp)
	r.linear(s.preLinear, s.normed, b.Up)
	r.hook(l, hooks.MLPPreLinear, s.preLinear, r.seq, dmlp)
	kernels.SiLU(s.post, s.pre)
	kernels.Mul(s.post, s.preLinear)
	r.hook(l, hooks.MLPPost, s.post, r.seq, dmlp)
	r.linear(s.mlpOut, s.post, b.Down)
	r.hook(l, hooks.MLPOut, s.mlpOut, r.seq, d)
	kernels.Add(r.resid, s.mlpOut)
	r.hook(l, hooks.ResidPost, r.resid, r.seq, d)
}

// normalizeHeads applies an RMSNorm with weight w to each head of x
// [rows, heads, d_head] in place.
func (r *run) normalizeHeads(x []float32, heads int, w norm) {
	n := r.rows * heads
	if len(r.s.headScale) < n {
		r.s.headScale = make([]float32, r.rows*r.m.NHeads)
	}
	kernels.RMSNormalize(x, r.s.headScale[:n], x, r.m.DHead, r.m.NormEps)
	kernels.Affine(x, x, w.weight, w.bias)
}
