package transformer

import (
	"github.com/interp-go/interp/hooks"
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

func (w *qwen3Weights) embed(r *run) { embedTokens(r, w.TokenEmbd, 1) }

func (w *qwen3Weights) backwardEmbed(g *grad) { backwardEmbedTokens(g, w.TokenEmbd, 1) }

func (w *qwen3Weights) block(r *run, l int) { r.m.decoders[l].forward(r, l) }

func (w *qwen3Weights) backwardBlock(g *grad, l int) { w.decoder(l).backward(g, l) }

// decoder returns block l: Llama's block with queries and keys normalized
// per head before NEOX RoPE.
//
// hook_q and hook_k sit after the per-head norms and their weights, right
// before RoPE, so hook_rot_q = RoPE(hook_q) as in the other architectures
// and a patch at hook_q reaches attention unchanged by a norm.
func (w *qwen3Weights) decoder(l int) *decoderBlock {
	b := &w.Blocks[l]
	return &decoderBlock{
		attnNorm: b.AttnNorm, q: b.Q, k: b.K, v: b.V, qNorm: &b.QNorm, kNorm: &b.KNorm,
		attnOut: b.AttnOut, mlpNorm: b.MLPNorm, gate: b.Gate, up: b.Up, down: b.Down,
	}
}
