package transformer

import (
	"github.com/interp-go/interp/hooks"
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

func (w *qwen2Weights) embed(r *run) { embedTokens(r, w.TokenEmbd, 1) }

func (w *qwen2Weights) backwardEmbed(g *grad) { backwardEmbedTokens(g, w.TokenEmbd, 1) }

func (w *qwen2Weights) block(r *run, l int) { r.m.decoders[l].forward(r, l) }

func (w *qwen2Weights) backwardBlock(g *grad, l int) { w.decoder(l).backward(g, l) }

// decoder returns block l: Llama's block with biases on Q, K and V and
// NEOX RoPE.
func (w *qwen2Weights) decoder(l int) *decoderBlock {
	b := &w.Blocks[l]
	return &decoderBlock{
		attnNorm: b.AttnNorm, q: b.Q, k: b.K, v: b.V, attnOut: b.AttnOut,
		mlpNorm: b.MLPNorm, gate: b.Gate, up: b.Up, down: b.Down,
	}
}
