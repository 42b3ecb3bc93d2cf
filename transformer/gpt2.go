package transformer

import (
	"slices"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// gpt2Weights binds the tensors of llama.cpp's gpt2 layout: learned
// position embeddings, pre-LayerNorm blocks with biases, fused QKV, and an
// output matrix that is the token embedding when the file has no
// output.weight.
type gpt2Weights struct {
	TokenEmbd matrix      `gguf:"token_embd.weight" shape:"vocab,d_model"`
	PosEmbd   matrix      `gguf:"position_embd.weight" shape:"n_ctx,d_model"`
	Blocks    []gpt2Block `gguf:"blk"`
	OutNorm   norm        `gguf:"output_norm,bias" shape:"d_model"`
	Output    matrix      `gguf:"output.weight,alt=token_embd.weight" shape:"vocab,d_model"`
}

type gpt2Block struct {
	AttnNorm norm   `gguf:"attn_norm,bias" shape:"d_model"`
	QKV      linear `gguf:"attn_qkv,bias" shape:"3*d_model,d_model"` // rows: Q, then K, then V
	AttnOut  linear `gguf:"attn_output,bias" shape:"d_model,d_model"`
	MLPNorm  norm   `gguf:"ffn_norm,bias" shape:"d_model"`
	Up       linear `gguf:"ffn_up,bias" shape:"d_mlp,d_model"`
	Down     linear `gguf:"ffn_down,bias" shape:"d_model,d_mlp"`
}

func (w *gpt2Weights) hasKind(k hooks.Kind) bool {
	switch k {
	case hooks.RotQ, hooks.RotK, hooks.MLPPreLinear:
		return false
	}
	return true
}

func (w *gpt2Weights) final() (norm, matrix) { return w.OutNorm, w.Output }

// embed sets the residual stream to token plus position embeddings.
func (w *gpt2Weights) embed(r *run) {
	d := r.m.DModel
	pos := r.s.attnOut // scratch until the first block
	for i, id := range r.ids {
		w.TokenEmbd.Row(r.resid[i*d:(i+1)*d], int(id))
		w.PosEmbd.Row(pos[i*d:(i+1)*d], int(r.pos[i]))
	}
	r.hook(-1, hooks.Embed, r.resid, r.seq, d)
	r.hook(-1, hooks.PosEmbed, pos, r.seq, d)
	kernels.Add(r.resid, pos)
}

// block runs one pre-LayerNorm GPT-2 block:
// x += attn(ln1(x)); x += mlp(ln2(x)), with mlp = down(gelu(up(·))).
func (w *gpt2Weights) block(r *run, l int) {
	b := &w.Blocks[l]
	s := &r.s
	d, dmlp, heads, dh := r.m.DModel, r.m.DMLP, r.m.NHeads, r.m.DHead

	r.hook(l, hooks.ResidPre, r.resid, r.seq, d)
	r.normalize(l, hooks.Ln1Scale, r.resid, b.AttnNorm)
	s.qkv = grow(s.qkv, r.rows*3*d)
	r.linear(s.qkv, s.normed, &b.QKV)
	for i := range r.rows {
		row := s.qkv[i*3*d:]
		copy(s.q[i*d:(i+1)*d], row[:d])
		copy(s.k[i*d:(i+1)*d], row[d:2*d])
		copy(s.v[i*d:(i+1)*d], row[2*d:3*d])
	}
	r.hook(l, hooks.Q, s.q, r.seq, heads, dh)
	r.hook(l, hooks.K, s.k, r.seq, heads, dh)
	r.hook(l, hooks.V, s.v, r.seq, heads, dh)
	r.attend(l, s.q, s.k, s.v, s.z)
	r.linear(s.attnOut, s.z, &b.AttnOut)
	r.hook(l, hooks.AttnOut, s.attnOut, r.seq, d)
	kernels.Add(r.resid, s.attnOut)
	r.hook(l, hooks.ResidMid, r.resid, r.seq, d)

	r.normalize(l, hooks.Ln2Scale, r.resid, b.MLPNorm)
	r.linear(s.pre, s.normed, &b.Up)
	r.hook(l, hooks.MLPPre, s.pre, r.seq, dmlp)
	r.m.gelu(s.post, s.pre, &b.Up.weight)
	r.hook(l, hooks.MLPPost, s.post, r.seq, dmlp)
	r.linear(s.mlpOut, s.post, &b.Down)
	r.hook(l, hooks.MLPOut, s.mlpOut, r.seq, d)
	kernels.Add(r.resid, s.mlpOut)
	r.hook(l, hooks.ResidPost, r.resid, r.seq, d)
}

// backwardBlock carries the gradient back through one GPT-2 block, in the
// reverse order of block.
func (w *gpt2Weights) backwardBlock(g *grad, l int) {
	b := &w.Blocks[l]
	seq, d, dmlp, heads, dh := g.t.seq, g.m.DModel, g.m.DMLP, g.m.NHeads, g.m.DHead

	g.hook(l, hooks.ResidPost, g.resid, seq, d)
	dmlpOut := slices.Clone(g.resid)
	g.hook(l, hooks.MLPOut, dmlpOut, seq, d)
	dpost := g.linear(nil, dmlpOut, g.act(l, hooks.MLPPost), b.Down)
	g.hook(l, hooks.MLPPost, dpost, seq, dmlp)
	dpre := g.activation(dpost, g.act(l, hooks.MLPPre), g.act(l, hooks.MLPPost), kernels.GELUGrad)
	g.hook(l, hooks.MLPPre, dpre, seq, dmlp)
	dh2 := g.linear(nil, dpre, g.affine(l, hooks.Ln2Normalized, b.MLPNorm), b.Up)
	kernels.Add(g.resid, g.norm(l, hooks.Ln2Scale, b.MLPNorm, dh2, true))
	g.hook(l, hooks.ResidMid, g.resid, seq, d)

	dattnOut := slices.Clone(g.resid)
	g.hook(l, hooks.AttnOut, dattnOut, seq, d)
	dz := g.linear(nil, dattnOut, g.act(l, hooks.Z), b.AttnOut)
	g.hook(l, hooks.Z, dz, seq, heads, dh)
	dq, dk, dv := g.attention(l, dz, hooks.Q, hooks.K)
	g.hook(l, hooks.V, dv, seq, heads, dh)
	g.hook(l, hooks.K, dk, seq, heads, dh)
	g.hook(l, hooks.Q, dq, seq, heads, dh)
	dqkv := make([]float32, g.t.rows*3*d)
	for i := range g.t.rows {
		copy(dqkv[i*3*d:], dq[i*d:(i+1)*d])
		copy(dqkv[i*3*d+d:], dk[i*d:(i+1)*d])
		copy(dqkv[i*3*d+2*d:], dv[i*d:(i+1)*d])
	}
	dh1 := g.linear(nil, dqkv, g.affine(l, hooks.Ln1Normalized, b.AttnNorm), b.QKV)
	kernels.Add(g.resid, g.norm(l, hooks.Ln1Scale, b.AttnNorm, dh1, true))
	g.hook(l, hooks.ResidPre, g.resid, seq, d)
}

// backwardEmbed hands the gradient at block 0's input to the token and
// position embeddings, which it reaches unchanged.
func (w *gpt2Weights) backwardEmbed(g *grad) {
	seq, d := g.t.seq, g.m.DModel
	dtok := slices.Clone(g.resid)
	dpos := slices.Clone(g.resid)
	g.hook(-1, hooks.PosEmbed, dpos, seq, d)
	g.hook(-1, hooks.Embed, dtok, seq, d)
	g.embedRows(w.TokenEmbd, dtok, g.t.ids, 1)
	g.embedRows(w.PosEmbd, dpos, g.t.pos, 1)
}
