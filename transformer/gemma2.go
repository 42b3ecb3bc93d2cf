package transformer

import (
	"math"

	"github.com/interp-go/interp/hooks"
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
func (w *gemma2Weights) embed(r *run) { embedTokens(r, w.TokenEmbd, embedScale(r.m)) }

func (w *gemma2Weights) backwardEmbed(g *grad) { backwardEmbedTokens(g, w.TokenEmbd, embedScale(g.m)) }

// embedScale returns √d_model, Gemma's factor on the token embeddings.
func embedScale(m *Model) float32 { return float32(math.Sqrt(float64(m.DModel))) }

func (w *gemma2Weights) block(r *run, l int) { r.m.decoders[l].forward(r, l) }

func (w *gemma2Weights) backwardBlock(g *grad, l int) { w.decoder(l).backward(g, l) }

// decoder returns block l: RMSNorms also on the attention and MLP outputs,
// a GELU-gated MLP, NEOX RoPE with a base of its own on sliding-window
// blocks, and soft-capped attention scores (see attend).
func (w *gemma2Weights) decoder(l int) *decoderBlock {
	b := &w.Blocks[l]
	return &decoderBlock{
		attnNorm: b.AttnNorm, q: b.Q, k: b.K, v: b.V, attnOut: b.AttnOut, attnPostNorm: &b.AttnPostNorm,
		mlpNorm: b.MLPNorm, gate: b.Gate, up: b.Up, down: b.Down, mlpPostNorm: &b.MLPPostNorm, gelu: true,
	}
}
