package transformer

import (
	"fmt"
	"strconv"

	"github.com/interp-go/interp/gguf"
	"github.com/interp-go/interp/hooks"
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

func (w *phi3Weights) embed(r *run) { embedTokens(r, w.TokenEmbd, 1) }

func (w *phi3Weights) backwardEmbed(g *grad) { backwardEmbedTokens(g, w.TokenEmbd, 1) }

func (w *phi3Weights) block(r *run, l int) { r.m.decoders[l].forward(r, l) }

func (w *phi3Weights) backwardBlock(g *grad, l int) { w.decoder(l).backward(g, l) }

// decoder returns block l: Llama's block with fused [Q; K; V] and
// [gate; up] projections and NEOX RoPE.
func (w *phi3Weights) decoder(l int) *decoderBlock {
	b := &w.Blocks[l]
	return &decoderBlock{
		attnNorm: b.AttnNorm, qkv: b.QKV, attnOut: b.AttnOut,
		mlpNorm: b.MLPNorm, gateUp: b.GateUp, down: b.Down,
	}
}
