package transformer

import (
	"fmt"
	"strconv"

	"github.com/interp-go/interp/gguf"
	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// phi3Weights binds the tensors of llama.cpp's phi3 layout
// (src/models/phi3.cpp). It has RMSNorm and one fused attn_qkv projection
// whose rows are Q (n_heads heads), then K and V (n_kv_heads heads each).
// Its SwiGLU MLP has one fused ffn_up whose first d_mlp rows are the gate
// and the next d_mlp rows the up projection. RoPE is of type NEOX and may
// rotate only the leading rope.dimension_count dimensions of each head.
//
// NOTE: llama.cpp disables phi3's sliding window (phi3.attention.sliding_window)
// and so does this runtime, to give the same logits.
type phi3Weights struct {
	TokenEmbd matrix      `gguf:"token_embd.weight" shape:"vocab,d_model"`
	Blocks    []phi3Block `gguf:"blk"`
	OutNorm   norm        `gguf:"output_norm" shape:"d_model"`
	Output    matrix      `gguf:"output.weight,alt=token_embd.weight" shape:"vocab,d_model"`
}

type phi3Block struct {
	AttnNorm norm   `gguf:"attn_norm" shape:"d_model"`
	QKV      linear // blk.N.attn_qkv, bound by bindPhi3: its row count is a sum the shape tags cannot express
	AttnOut  linear `gguf:"attn_output" shape:"d_model,n_heads*d_head"`
	MLPNorm  norm   `gguf:"ffn_norm" shape:"d_model"`
	GateUp   linear `gguf:"ffn_up" shape:"2*d_mlp,d_model"` // rows: gate, then up
	Down     linear `gguf:"ffn_down" shape:"d_model,d_mlp"`
}

// ErrUnsupportedRoPE is wrapped by the error Load returns for a model whose
// RoPE variant the runtime does not implement.
var ErrUnsupportedRoPE = fmt.Errorf("unsupported RoPE variant")

// bindPhi3 binds w's tagged fields and then each block's fused attn_qkv
// matrix of (n_heads + 2·n_kv_heads)·d_head rows.
func bindPhi3(f *gguf.File, c Config, w *phi3Weights) error {
	// TODO: LongRoPE (Phi-3 128k and Phi-3.5 models) is not implemented. It
	// divides each RoPE frequency by a factor from rope_factors_short or
	// rope_factors_long, chosen by the context size, and scales cos and sin
	// by rope.scaling.attn_factor.
	for _, name := range []string{"rope_factors_long.weight", "rope_factors_short.weight"} {
		if _, ok := f.Tensor(name); ok {
			return fmt.Errorf("transformer: %s: tensor %q: %w: LongRoPE frequency factors (only models without them, such as Phi-3-mini-4k, are supported)", f.Path, name, ErrUnsupportedRoPE)
		}
	}
	if err := bindWeights(f, c, w); err != nil {
		return err
	}

	b := &binder{f: f}
	rows := (c.NHeads + 2*c.NKVHeads) * c.DHead
	for l := range w.Blocks {
		name := "blk." + strconv.Itoa(l) + ".attn_qkv"
		weight, err := b.matrix(name+".weight", []int{rows, c.DModel})
		if err != nil {
			return err
		}
		bias, err := b.vector(name+".bias", rows, false)
		if err != nil {
			return err
		}
		w.Blocks[l].QKV = linear{name: name, weight: weight, bias: bias}
	}
	return nil
}

func (w *phi3Weights) hasKind(k hooks.Kind) bool { return k != hooks.PosEmbed }

func (w *phi3Weights) final() (norm, matrix) { return w.OutNorm, w.Output }

// embed sets the residual stream to the token embeddings.
func (w *phi3Weights) embed(r *run) {
	d := r.m.DModel
	for i, id := range r.ids {
		w.TokenEmbd.Row(r.resid[i*d:(i+1)*d], int(id))
	}
	r.hook(-1, hooks.Embed, r.resid, r.seq, d)
}

// block runs one pre-RMSNorm Phi-3 block:
// x += attn(rmsnorm1(x)) with [q; k; v] = qkv(h);
// x += down(silu(g) ⊙ u) with [g; u] = gate_up(rmsnorm2(x)).
func (w *phi3Weights) block(r *run, l int) {
	b := &w.Blocks[l]
	s := &r.s
	d, dmlp, dh := r.m.DModel, r.m.DMLP, r.m.DHead
	heads, kvHeads := r.m.NHeads, r.m.NKVHeads
	qWidth, kvWidth := heads*dh, kvHeads*dh

	r.hook(l, hooks.ResidPre, r.resid, r.seq, d)
	r.normalize(l, hooks.Ln1Scale, r.resid, b.AttnNorm)
	if s.qkv == nil {
		s.qkv = make([]float32, r.rows*(qWidth+2*kvWidth))
	}
	r.linear(s.qkv, s.normed, b.QKV)
	for i := range r.rows {
		row := s.qkv[i*(qWidth+2*kvWidth):]
		copy(s.q[i*qWidth:(i+1)*qWidth], row[:qWidth])
		copy(s.k[i*kvWidth:(i+1)*kvWidth], row[qWidth:qWidth+kvWidth])
		copy(s.v[i*kvWidth:(i+1)*kvWidth], row[qWidth+kvWidth:qWidth+2*kvWidth])
	}
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
	if s.gateUp == nil {
		s.gateUp = make([]float32, r.rows*2*dmlp)
	}
	r.linear(s.gateUp, s.normed, b.GateUp)
	for i := range r.rows {
		row := s.gateUp[i*2*dmlp:]
		copy(s.pre[i*dmlp:(i+1)*dmlp], row[:dmlp])
		copy(s.preLinear[i*dmlp:(i+1)*dmlp], row[dmlp:2*dmlp])
	}
	r.hook(l, hooks.MLPPre, s.pre, r.seq, dmlp)
	r.hook(l, hooks.MLPPreLinear, s.preLinear, r.seq, dmlp)
	kernels.SiLU(s.post, s.pre)
	kernels.Mul(s.post, s.preLinear)
	r.hook(l, hooks.MLPPost, s.post, r.seq, dmlp)
	r.linear(s.mlpOut, s.post, b.Down)
	r.hook(l, hooks.MLPOut, s.mlpOut, r.seq, d)
	kernels.Add(r.resid, s.mlpOut)
	r.hook(l, hooks.ResidPost, r.resid, r.seq, d)
}
