package transformer

import (
	"slices"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// llamaWeights binds the tensors of llama.cpp's llama layout: RMSNorm,
// separate Q, K and V projections (K and V with n_kv_heads heads), a SwiGLU
// MLP, and an output matrix that is the token embedding when the file has
// no output.weight.
type llamaWeights struct {
	TokenEmbd matrix       `gguf:"token_embd.weight" shape:"vocab,d_model"`
	Blocks    []llamaBlock `gguf:"blk"`
	OutNorm   norm         `gguf:"output_norm" shape:"d_model"`
	Output    matrix       `gguf:"output.weight,alt=token_embd.weight" shape:"vocab,d_model"`
}

type llamaBlock struct {
	AttnNorm norm   `gguf:"attn_norm" shape:"d_model"`
	Q        linear `gguf:"attn_q" shape:"n_heads*d_head,d_model"`
	K        linear `gguf:"attn_k" shape:"n_kv_heads*d_head,d_model"`
	V        linear `gguf:"attn_v" shape:"n_kv_heads*d_head,d_model"`
	AttnOut  linear `gguf:"attn_output" shape:"d_model,n_heads*d_head"`
	MLPNorm  norm   `gguf:"ffn_norm" shape:"d_model"`
	Gate     linear `gguf:"ffn_gate" shape:"d_mlp,d_model"`
	Up       linear `gguf:"ffn_up" shape:"d_mlp,d_model"`
	Down     linear `gguf:"ffn_down" shape:"d_model,d_mlp"`
}

func (w *llamaWeights) hasKind(k hooks.Kind) bool { return k != hooks.PosEmbed }

func (w *llamaWeights) final() (norm, matrix) { return w.OutNorm, w.Output }

// embed sets the residual stream to the token embeddings.
func (w *llamaWeights) embed(r *run) {
	d := r.m.DModel
	for i, id := range r.ids {
		w.TokenEmbd.Row(r.resid[i*d:(i+1)*d], int(id))
	}
	r.hook(-1, hooks.Embed, r.resid, r.seq, d)
}

// block runs one pre-RMSNorm Llama block:
// x += attn(rmsnorm1(x)); x += down(silu(gate(h)) ⊙ up(h)) with h = rmsnorm2(x).
func (w *llamaWeights) block(r *run, l int) {
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

// backwardBlock carries the gradient back through one Llama block, in the
// reverse order of block.
func (w *llamaWeights) backwardBlock(g *grad, l int) {
	b := &w.Blocks[l]
	backwardGatedBlock(g, l, gatedBlock{
		attnNorm: b.AttnNorm, q: b.Q, k: b.K, v: b.V, attnOut: b.AttnOut,
		mlpNorm: b.MLPNorm, gate: b.Gate, up: b.Up, down: b.Down,
	})
}

// backwardEmbed hands the gradient at block 0's input to the token
// embedding.
func (w *llamaWeights) backwardEmbed(g *grad) {
	dtok := slices.Clone(g.resid)
	g.hook(-1, hooks.Embed, dtok, g.t.seq, g.m.DModel)
	g.embedRows(w.TokenEmbd, dtok, g.t.ids, 1)
}

// gatedBlock names the weights of a pre-RMSNorm block with separate Q, K
// and V projections, RoPE and a SwiGLU MLP (llama, qwen2).
type gatedBlock struct {
	attnNorm, mlpNorm norm
	q, k, v, attnOut  linear
	gate, up, down    linear
}

// backwardGatedBlock carries the gradient back through a gatedBlock.
func backwardGatedBlock(g *grad, l int, b gatedBlock) {
	seq, d, dmlp, dh := g.t.seq, g.m.DModel, g.m.DMLP, g.m.DHead
	heads, kvHeads := g.m.NHeads, g.m.NKVHeads

	g.hook(l, hooks.ResidPost, g.resid, seq, d)
	dmlpOut := slices.Clone(g.resid)
	g.hook(l, hooks.MLPOut, dmlpOut, seq, d)
	dpost := g.linear(nil, dmlpOut, g.act(l, hooks.MLPPost), b.down)
	g.hook(l, hooks.MLPPost, dpost, seq, dmlp)
	dgate, dup := g.gated(dpost, g.act(l, hooks.MLPPre), g.act(l, hooks.MLPPreLinear), kernels.SiLU, kernels.SiLUGrad)
	g.hook(l, hooks.MLPPreLinear, dup, seq, dmlp)
	g.hook(l, hooks.MLPPre, dgate, seq, dmlp)
	h2 := g.affine(l, hooks.Ln2Normalized, b.mlpNorm)
	dh2 := g.linear(nil, dgate, h2, b.gate)
	g.linear(dh2, dup, h2, b.up)
	kernels.Add(g.resid, g.norm(l, hooks.Ln2Scale, b.mlpNorm, dh2, false))
	g.hook(l, hooks.ResidMid, g.resid, seq, d)

	dattnOut := slices.Clone(g.resid)
	g.hook(l, hooks.AttnOut, dattnOut, seq, d)
	dz := g.linear(nil, dattnOut, g.act(l, hooks.Z), b.attnOut)
	g.hook(l, hooks.Z, dz, seq, heads, dh)
	dq, dk, dv := g.attention(l, dz, hooks.RotQ, hooks.RotK)
	g.hook(l, hooks.RotK, dk, seq, kvHeads, dh)
	g.hook(l, hooks.RotQ, dq, seq, heads, dh)
	g.unrotate(l, dq, heads)
	g.unrotate(l, dk, kvHeads)
	g.hook(l, hooks.V, dv, seq, kvHeads, dh)
	g.hook(l, hooks.K, dk, seq, kvHeads, dh)
	g.hook(l, hooks.Q, dq, seq, heads, dh)
	h1 := g.affine(l, hooks.Ln1Normalized, b.attnNorm)
	dh1 := g.linear(nil, dq, h1, b.q)
	g.linear(dh1, dk, h1, b.k)
	g.linear(dh1, dv, h1, b.v)
	kernels.Add(g.resid, g.norm(l, hooks.Ln1Scale, b.attnNorm, dh1, false))
	g.hook(l, hooks.ResidPre, g.resid, seq, d)
}
