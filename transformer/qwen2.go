package transformer

import (
	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// qwen2Weights binds the tensors of llama.cpp's qwen2 layout
// (src/models/qwen2.cpp): the llama layout with biases on the Q, K and V
// projections. Its RoPE is of type NEOX (Config.RopeNeox).
type qwen2Weights struct {
	TokenEmbd matrix       `gguf:"token_embd.weight" shape:"vocab,d_model"`
	Blocks    []qwen2Block `gguf:"blk"`
	OutNorm   norm         `gguf:"output_norm" shape:"d_model"`
	Output    matrix       `gguf:"output.weight,alt=token_embd.weight" shape:"vocab,d_model"`
}

type qwen2Block struct {
	AttnNorm norm   `gguf:"attn_norm" shape:"d_model"`
	Q        linear `gguf:"attn_q,bias" shape:"n_heads*d_head,d_model"`
	K        linear `gguf:"attn_k,bias" shape:"n_kv_heads*d_head,d_model"`
	V        linear `gguf:"attn_v,bias" shape:"n_kv_heads*d_head,d_model"`
	AttnOut  linear `gguf:"attn_output" shape:"d_model,n_heads*d_head"`
	MLPNorm  norm   `gguf:"ffn_norm" shape:"d_model"`
	Gate     linear `gguf:"ffn_gate" shape:"d_mlp,d_model"`
	Up       linear `gguf:"ffn_up" shape:"d_mlp,d_model"`
	Down     linear `gguf:"ffn_down" shape:"d_model,d_mlp"`
}

func (w *qwen2Weights) hasKind(k hooks.Kind) bool { return k != hooks.PosEmbed }

func (w *qwen2Weights) final() (norm, matrix) { return w.OutNorm, w.Output }

// embed sets the residual stream to the token embeddings.
func (w *qwen2Weights) embed(r *run) {
	d := r.m.DModel
	for i, id := range r.ids {
		w.TokenEmbd.Row(r.resid[i*d:(i+1)*d], int(id))
	}
	r.hook(-1, hooks.Embed, r.resid, r.seq, d)
}

// block runs one pre-RMSNorm Qwen2 block:
// x += attn(rmsnorm1(x)) with biased Q, K and V projections;
// x += down(silu(gate(h)) ⊙ up(h)) with h = rmsnorm2(x).
func (w *qwen2Weights) block(r *run, l int) {
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
