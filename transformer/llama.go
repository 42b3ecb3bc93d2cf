package transformer

import (
	"github.com/interp-go/interp/hooks"
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

func (w *llamaWeights) embed(r *run) { embedTokens(r, w.TokenEmbd, 1) }

func (w *llamaWeights) backwardEmbed(g *grad) { backwardEmbedTokens(g, w.TokenEmbd, 1) }

func (w *llamaWeights) block(r *run, l int) { r.m.decoders[l].forward(r, l) }

func (w *llamaWeights) backwardBlock(g *grad, l int) { w.decoder(l).backward(g, l) }

// decoder returns block l: separate Q, K and V projections with NORM RoPE
// and a SwiGLU MLP.
func (w *llamaWeights) decoder(l int) *decoderBlock {
	b := &w.Blocks[l]
	return &decoderBlock{
		attnNorm: b.AttnNorm, q: b.Q, k: b.K, v: b.V, attnOut: b.AttnOut,
		mlpNorm: b.MLPNorm, gate: b.Gate, up: b.Up, down: b.Down,
	}
}
