package synth

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/interp-go/interp/gguf"
)

// Weight scales. A projection's standard deviation is gain/sqrt(fan_in), so
// an input with unit variance per dimension gives an output with variance
// gain². Post-norm activations have unit variance, which keeps every block's
// output of order 1.
const (
	// embedGain sets token_embd (and an untied output.weight). Logits are
	// a dot product of the final norm's output (unit variance) with an
	// embedding row, so their standard deviation is about embedGain.
	embedGain = 3.0
	// positionGain sets gpt2's position_embd, below the token embedding so
	// that the token still dominates the first residual stream.
	positionGain = 1.0
	// queryKeyGain sets the query and key projections. The attention
	// scores q·k/sqrt(d_head) then have a standard deviation of about
	// queryKeyGain², so softmax patterns are peaked but not one-hot.
	queryKeyGain = 1.5
	// projectionGain sets the value, attention-output, MLP and
	// down projections.
	projectionGain = 1.0
	// normWeightNoise is the standard deviation of norm weights around 1.
	normWeightNoise = 0.1
	// biasStd is the standard deviation of every bias and LayerNorm bias.
	biasStd = 0.05
)

// tensor is one weight to generate: its GGUF name, its shape in row-major
// order ([out, in] for a matrix, so y = W·x), type and distribution.
type tensor struct {
	name  string
	shape []int
	typ   gguf.Type
	mean  float64
	std   float64
	parts []tensorPart // when set, rows are drawn part by part with their own std
	fixed []float32    // when set, the tensor's values, drawn from no distribution
}

// tensorPart is a block of rows of a fused matrix, such as the Q, K and V
// rows of gpt2's attn_qkv.
type tensorPart struct {
	label string
	rows  int
	std   float64
}

// dims returns the shape in GGUF order: ne0, the fastest-varying dimension,
// first.
func (t tensor) dims() []uint64 {
	dims := make([]uint64, len(t.shape))
	for i, n := range t.shape {
		dims[len(t.shape)-1-i] = uint64(n)
	}
	return dims
}

func (t tensor) size() int {
	n := 1
	for _, d := range t.shape {
		n *= d
	}
	return n
}

// addTensors generates every weight of the model and adds it to w.
func addTensors(w *gguf.Writer, o Options, vocabSize int) error {
	var specs []tensor
	switch o.Arch {
	case ArchGPT2:
		specs = gpt2Tensors(o, vocabSize)
	case ArchPhi3:
		specs = phi3Tensors(o, vocabSize)
	case ArchGemma2:
		specs = gemma2Tensors(o, vocabSize)
	default:
		specs = llamaTensors(o, vocabSize)
	}

	for _, t := range specs {
		values := t.values(o.Seed)
		if err := w.AddFloat32(t.name, t.typ, t.dims(), values); err != nil {
			return fmt.Errorf("synth: tensor %q: %w", t.name, err)
		}
	}
	return nil
}

func matrix(name string, out, in int, typ gguf.Type, gain float64) tensor {
	return tensor{name: name, shape: []int{out, in}, typ: typ, std: gain / math.Sqrt(float64(in))}
}

func normWeight(name string, n int) tensor {
	return tensor{name: name, shape: []int{n}, typ: gguf.TypeF32, mean: 1, std: normWeightNoise}
}

func bias(name string, n int) tensor {
	return tensor{name: name, shape: []int{n}, typ: gguf.TypeF32, std: biasStd}
}

// gpt2Tensors lists the tensors of llama.cpp's gpt2 architecture
// (src/models/gpt2.cpp): learned positions, LayerNorm with bias, a fused
// [Q; K; V] projection and a GELU MLP, every linear map with a bias.
func gpt2Tensors(o Options, vocabSize int) []tensor {
	d, ff := o.DModel, o.DMLP
	qkStd := queryKeyGain / math.Sqrt(float64(d))
	vStd := projectionGain / math.Sqrt(float64(d))

	specs := []tensor{
		matrix("token_embd.weight", vocabSize, d, o.EmbedType, embedGain),
		matrix("position_embd.weight", o.NCtx, d, gguf.TypeF32, positionGain),
	}
	for l := range o.NLayers {
		p := "blk." + strconv.Itoa(l) + "."
		specs = append(specs,
			normWeight(p+"attn_norm.weight", d),
			bias(p+"attn_norm.bias", d),
			tensor{name: p + "attn_qkv.weight", shape: []int{3 * d, d}, typ: o.MatrixType,
				parts: []tensorPart{{"q", d, qkStd}, {"k", d, qkStd}, {"v", d, vStd}}},
			bias(p+"attn_qkv.bias", 3*d),
			matrix(p+"attn_output.weight", d, d, o.MatrixType, projectionGain),
			bias(p+"attn_output.bias", d),
			normWeight(p+"ffn_norm.weight", d),
			bias(p+"ffn_norm.bias", d),
			matrix(p+"ffn_up.weight", ff, d, o.MatrixType, projectionGain),
			bias(p+"ffn_up.bias", ff),
			matrix(p+"ffn_down.weight", d, ff, o.MatrixType, projectionGain),
			bias(p+"ffn_down.bias", d),
		)
	}
	specs = append(specs, normWeight("output_norm.weight", d), bias("output_norm.bias", d))
	if !o.Tied {
		specs = append(specs, matrix("output.weight", vocabSize, d, o.MatrixType, embedGain))
	}
	return specs
}

// llamaTensors lists the tensors of llama.cpp's llama architecture
// (src/models/llama.cpp): RMSNorm without bias, separate Q, K and V
// projections with grouped-query K and V, and a SwiGLU MLP, no biases.
// qwen2 (src/models/qwen2.cpp) adds biases to Q, K and V, and qwen3
// (src/models/qwen3.cpp) adds the per-head RMSNorm weights attn_q_norm and
// attn_k_norm of d_head values.
func llamaTensors(o Options, vocabSize int) []tensor {
	d, ff := o.DModel, o.DMLP
	dHead := o.headDim()
	qDim, kvDim := o.NHeads*dHead, o.NKVHeads*dHead

	specs := []tensor{matrix("token_embd.weight", vocabSize, d, o.EmbedType, embedGain)}
	for l := range o.NLayers {
		p := "blk." + strconv.Itoa(l) + "."
		specs = append(specs,
			normWeight(p+"attn_norm.weight", d),
			matrix(p+"attn_q.weight", qDim, d, o.MatrixType, queryKeyGain),
			matrix(p+"attn_k.weight", kvDim, d, o.MatrixType, queryKeyGain),
			matrix(p+"attn_v.weight", kvDim, d, o.MatrixType, projectionGain),
		)
		switch o.Arch {
		case ArchQwen2:
			specs = append(specs, bias(p+"attn_q.bias", qDim), bias(p+"attn_k.bias", kvDim), bias(p+"attn_v.bias", kvDim))
		case ArchQwen3:
			specs = append(specs, normWeight(p+"attn_q_norm.weight", dHead), normWeight(p+"attn_k_norm.weight", dHead))
		}
		specs = append(specs,
			matrix(p+"attn_output.weight", d, qDim, o.MatrixType, projectionGain),
			normWeight(p+"ffn_norm.weight", d),
			matrix(p+"ffn_gate.weight", ff, d, o.MatrixType, projectionGain),
			matrix(p+"ffn_up.weight", ff, d, o.MatrixType, projectionGain),
			matrix(p+"ffn_down.weight", d, ff, o.MatrixType, projectionGain),
		)
	}
	specs = append(specs, normWeight("output_norm.weight", d))
	if !o.Tied {
		specs = append(specs, matrix("output.weight", vocabSize, d, o.MatrixType, embedGain))
	}
	if o.RopeFactors != nil {
		// Llama 3.1's long-context RoPE: llama.cpp divides the frequency of
		// pair i by rope_freqs.weight[i].
		specs = append(specs, tensor{name: "rope_freqs.weight", shape: []int{len(o.RopeFactors)}, typ: gguf.TypeF32, fixed: o.RopeFactors})
	}
	return specs
}

// values draws the tensor's values. Each tensor (and each part of a fused
// tensor) has its own random stream, seeded by the model seed and its name,
// so adding or reordering tensors leaves the others unchanged.
func (t tensor) values(seed uint64) []float32 {
	if t.fixed != nil {
		return t.fixed
	}
	out := make([]float32, 0, t.size())
	if t.parts == nil {
		return appendRandom(out, newStream(seed, t.name), t.size(), t.mean, t.std)
	}
	cols := t.shape[len(t.shape)-1]
	for _, part := range t.parts {
		out = appendRandom(out, newStream(seed, t.name+"/"+part.label), part.rows*cols, t.mean, part.std)
	}
	return out
}

func newStream(seed uint64, name string) *rand.PCG {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.NewPCG(seed, h.Sum64())
}

// appendRandom appends n values of mean + std·z, where z is the
// Irwin–Hall sum of four uniform variables, centred and scaled to unit
// variance: nearly normal, bounded by ±2·sqrt(3). It uses only exact
// integer-to-float conversions, additions and rounded products, so the
// values are the same on every platform (the float64 conversions prevent
// fused multiply-add).
func appendRandom(out []float32, src *rand.PCG, n int, mean, std float64) []float32 {
	const unit = 0x1p-53
	scale := std * math.Sqrt(3)
	for range n {
		var sum float64
		for range 4 {
			sum += float64(src.Uint64()>>11) * unit
		}
		out = append(out, float32(mean+float64((sum-2)*scale)))
	}
	return out
}

// phi3Tensors lists the tensors of llama.cpp's phi3 architecture
// (src/models/phi3.cpp): RMSNorm, a fused attn_qkv whose rows are Q, K and
// V (K and V with n_kv_heads heads), and a fused ffn_up. The rows of ffn_up
// are the SwiGLU gate and then the up projection.
func phi3Tensors(o Options, vocabSize int) []tensor {
	d, ff := o.DModel, o.DMLP
	dHead := o.headDim()
	qDim, kvDim := o.NHeads*dHead, o.NKVHeads*dHead
	qkStd := queryKeyGain / math.Sqrt(float64(d))
	projStd := projectionGain / math.Sqrt(float64(d))

	specs := []tensor{matrix("token_embd.weight", vocabSize, d, o.EmbedType, embedGain)}
	for l := range o.NLayers {
		p := "blk." + strconv.Itoa(l) + "."
		specs = append(specs,
			normWeight(p+"attn_norm.weight", d),
			tensor{name: p + "attn_qkv.weight", shape: []int{qDim + 2*kvDim, d}, typ: o.MatrixType,
				parts: []tensorPart{{"q", qDim, qkStd}, {"k", kvDim, qkStd}, {"v", kvDim, projStd}}},
			matrix(p+"attn_output.weight", d, qDim, o.MatrixType, projectionGain),
			normWeight(p+"ffn_norm.weight", d),
			tensor{name: p + "ffn_up.weight", shape: []int{2 * ff, d}, typ: o.MatrixType,
				parts: []tensorPart{{"gate", ff, projStd}, {"up", ff, projStd}}},
			matrix(p+"ffn_down.weight", d, ff, o.MatrixType, projectionGain),
		)
	}
	specs = append(specs, normWeight("output_norm.weight", d))
	if !o.Tied {
		specs = append(specs, matrix("output.weight", vocabSize, d, o.MatrixType, embedGain))
	}
	return specs
}

// gemma2Tensors lists the tensors of llama.cpp's gemma2 architecture
// (src/models/gemma2.cpp): the llama tensors plus RMSNorm weights after
// attention (post_attention_norm) and after the MLP (post_ffw_norm), and no
// output.weight, because the output is always the token embedding. Norm
// weights are drawn around 1 because llama.cpp's converter stores Gemma's
// 1 + w.
func gemma2Tensors(o Options, vocabSize int) []tensor {
	d, ff := o.DModel, o.DMLP
	dHead := o.headDim()
	qDim, kvDim := o.NHeads*dHead, o.NKVHeads*dHead

	specs := []tensor{matrix("token_embd.weight", vocabSize, d, o.EmbedType, embedGain)}
	for l := range o.NLayers {
		p := "blk." + strconv.Itoa(l) + "."
		specs = append(specs,
			normWeight(p+"attn_norm.weight", d),
			matrix(p+"attn_q.weight", qDim, d, o.MatrixType, queryKeyGain),
			matrix(p+"attn_k.weight", kvDim, d, o.MatrixType, queryKeyGain),
			matrix(p+"attn_v.weight", kvDim, d, o.MatrixType, projectionGain),
			matrix(p+"attn_output.weight", d, qDim, o.MatrixType, projectionGain),
			normWeight(p+"post_attention_norm.weight", d),
			normWeight(p+"ffn_norm.weight", d),
			matrix(p+"ffn_gate.weight", ff, d, o.MatrixType, projectionGain),
			matrix(p+"ffn_up.weight", ff, d, o.MatrixType, projectionGain),
			matrix(p+"ffn_down.weight", d, ff, o.MatrixType, projectionGain),
			normWeight(p+"post_ffw_norm.weight", d),
		)
	}
	return append(specs, normWeight("output_norm.weight", d))
}
