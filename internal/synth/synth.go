// Package synth writes GGUF models with seeded random weights, laid out as
// llama.cpp's gpt2, llama, qwen2, qwen3, phi3 and gemma2 architectures
// expect them, for tests and benchmarks.
//
// The weights are random, but their scales give trained-model numerics.
// Residual-stream activations stay of order 1 through the layers, attention
// patterns are neither flat nor one-hot, and the logits have a standard
// deviation of about 3. Norm weights are near 1 and every bias is small but
// nonzero, so a runtime that drops a bias or a norm weight gives visibly
// wrong numbers.
//
// The same Options always produce the same bytes, on every platform.
package synth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/interp-go/interp/gguf"
)

// Architectures that Write supports, as written to general.architecture.
const (
	ArchGPT2   = "gpt2"
	ArchLlama  = "llama"
	ArchQwen2  = "qwen2"  // llama with Q, K and V biases
	ArchQwen3  = "qwen3"  // llama with per-head Q and K RMSNorm
	ArchPhi3   = "phi3"   // fused QKV and gate-up projections
	ArchGemma2 = "gemma2" // post-norms, GELU-gated MLP, tied output
)

// archs lists the architectures that Write supports.
var archs = []string{ArchGPT2, ArchLlama, ArchQwen2, ArchQwen3, ArchPhi3, ArchGemma2}

// Options describe the model that Write produces. Zero fields take the
// defaults listed beside them.
type Options struct {
	Arch string // one of the Arch constants
	Name string // general.name, or empty for a name built from the shape and seed

	NLayers  int     // number of transformer blocks
	DModel   int     // residual stream width, a multiple of NHeads unless HeadDim is set
	NHeads   int     // number of attention (query) heads
	NKVHeads int     // key/value heads, a divisor of NHeads (0 means NHeads, which gpt2 always uses)
	HeadDim  int     // head width, written as attention.key_length and value_length (0 means DModel/NHeads, unwritten); not for gpt2
	DMLP     int     // MLP hidden width (0 means 4*DModel)
	NCtx     int     // context length, which is also gpt2's number of learned positions
	RopeDim  int     // RoPE dimensions per head, even (0 means the head width); not for gpt2
	RopeBase float32 // RoPE frequency base (0 means 10000); not for gpt2
	Eps      float32 // LayerNorm (gpt2) or RMSNorm (the others) epsilon (0 means 1e-5)
	// RopeFactors, when set, is written as rope_freqs.weight (llama only):
	// one frequency divisor per RoPE dimension pair, as Llama 3.1 files have.
	RopeFactors []float32

	// AttnSoftCap and FinalSoftCap are gemma2's attn_logit_softcapping and
	// final_logit_softcapping; 0 leaves the key out, so llama.cpp uses its
	// defaults of 50 and 30.
	AttnSoftCap  float32
	FinalSoftCap float32
	// SlidingWindow is written as attention.sliding_window when positive
	// (gemma2 and phi3 only).
	SlidingWindow int

	Seed uint64

	// MatrixType is the tensor type of every 2-D weight except the token
	// embedding (and gpt2's position embedding, which is always F32):
	// gguf.TypeF32 (the zero value), TypeF16, TypeBF16 or TypeQ8_0. Norm
	// weights and biases are always F32.
	MatrixType gguf.Type
	// EmbedType is the tensor type of token_embd.weight, from the same set.
	EmbedType gguf.Type
	// Tied omits output.weight, so llama.cpp projects the logits with
	// token_embd.weight, as GPT-2 does. gemma2 is always tied.
	Tied bool

	// VocabPath names a GGUF file (vocab-only files such as llama.cpp's
	// ggml-vocab-gpt-2.gguf work) whose tokenizer.* metadata is copied.
	// Empty selects a synthetic byte-level vocabulary of VocabSize tokens.
	VocabPath string
	// VocabSize is the size of the synthetic vocabulary, at least 257;
	// 0 means 512. It must be 0 when VocabPath is set.
	VocabSize int
}

// Default124M returns the shape of GPT-2 small (124M parameters): 12 layers,
// d_model 768, 12 heads, d_mlp 3072, context 1024, 50,257 tokens, F32
// weights and a tied output. It uses the synthetic vocabulary, so it needs
// no other file. The model takes about 500 MB on disk, and Write holds the
// encoded tensors in memory until the file is written.
func Default124M() Options {
	return Options{
		Arch:      ArchGPT2,
		Name:      "synthetic-gpt2-124m",
		NLayers:   12,
		DModel:    768,
		NHeads:    12,
		DMLP:      3072,
		NCtx:      1024,
		Eps:       1e-5,
		Tied:      true,
		VocabSize: 50257,
	}
}

// ErrInvalidOptions is wrapped by every error that Write returns for
// inconsistent Options.
var ErrInvalidOptions = errors.New("synth: invalid options")

// Write builds the model that opts describe and writes it to path as a GGUF
// v3 file. The file appears atomically: a failed write leaves no partial
// file at path.
func Write(path string, opts Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}

	vocab, err := loadVocab(o)
	if err != nil {
		return err
	}

	w := gguf.NewWriter()
	if err := addMetadata(w, o, vocab); err != nil {
		return err
	}
	if err := addTensors(w, o, vocab.size); err != nil {
		return err
	}
	if err := w.WriteFile(path); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// withDefaults fills the zero fields of o and checks that the shape is one
// that llama.cpp can load.
func (o Options) withDefaults() (Options, error) {
	if o.NKVHeads == 0 || o.Arch == ArchGPT2 {
		o.NKVHeads = o.NHeads
	}
	if o.DMLP == 0 {
		o.DMLP = 4 * o.DModel
	}
	if o.Eps == 0 {
		o.Eps = 1e-5
	}
	if o.Arch == ArchGemma2 {
		o.Tied = true
	}
	if o.Arch != ArchGPT2 {
		if o.RopeDim == 0 && o.NHeads > 0 {
			o.RopeDim = o.headDim()
		}
		if o.RopeBase == 0 {
			o.RopeBase = 10000
		}
	}
	if o.VocabPath == "" && o.VocabSize == 0 {
		o.VocabSize = 512
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("synthetic-%s-l%d-d%d-seed%d", o.Arch, o.NLayers, o.DModel, o.Seed)
	}
	return o, o.validate()
}

func (o Options) validate() error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
	}

	if !slices.Contains(archs, o.Arch) {
		return invalid("architecture %q is not one of %s", o.Arch, strings.Join(archs, ", "))
	}
	if o.NLayers <= 0 || o.DModel <= 0 || o.NHeads <= 0 || o.DMLP <= 0 || o.NCtx <= 0 {
		return invalid("layers %d, d_model %d, heads %d, d_mlp %d and context %d must all be positive",
			o.NLayers, o.DModel, o.NHeads, o.DMLP, o.NCtx)
	}
	if o.RopeFactors != nil && (o.Arch != ArchLlama || len(o.RopeFactors) != o.RopeDim/2) {
		return invalid("RoPE factors need the llama architecture and one factor per RoPE dimension pair (%d), got %d", o.RopeDim/2, len(o.RopeFactors))
	}
	if o.HeadDim == 0 && o.DModel%o.NHeads != 0 {
		return invalid("d_model %d is not a multiple of the head count %d", o.DModel, o.NHeads)
	}
	if o.HeadDim < 0 || o.HeadDim > 0 && o.Arch == ArchGPT2 {
		return invalid("head width %d must be 0 for gpt2 and not negative", o.HeadDim)
	}
	if o.AttnSoftCap < 0 || o.FinalSoftCap < 0 || o.SlidingWindow < 0 {
		return invalid("soft caps %g, %g and sliding window %d must not be negative", o.AttnSoftCap, o.FinalSoftCap, o.SlidingWindow)
	}
	if (o.AttnSoftCap != 0 || o.FinalSoftCap != 0) && o.Arch != ArchGemma2 {
		return invalid("soft caps are gemma2 settings, not %s ones", o.Arch)
	}
	if o.SlidingWindow != 0 && o.Arch != ArchGemma2 && o.Arch != ArchPhi3 {
		return invalid("a sliding window is a gemma2 or phi3 setting, not a %s one", o.Arch)
	}
	if o.NKVHeads <= 0 || o.NHeads%o.NKVHeads != 0 {
		return invalid("head count %d is not a multiple of the key/value head count %d", o.NHeads, o.NKVHeads)
	}
	if o.Arch != ArchGPT2 {
		dHead := o.headDim()
		if o.RopeDim <= 0 || o.RopeDim%2 != 0 || o.RopeDim > dHead {
			return invalid("RoPE dimension %d must be even and in 2..d_head (%d)", o.RopeDim, dHead)
		}
	}
	if o.Eps < 0 || o.RopeBase < 0 {
		return invalid("epsilon %g and RoPE base %g must not be negative", o.Eps, o.RopeBase)
	}
	if o.VocabPath != "" && o.VocabSize != 0 {
		return invalid("VocabSize %d is set together with VocabPath %q; set one of them", o.VocabSize, o.VocabPath)
	}
	if o.VocabPath == "" && o.VocabSize < minSyntheticVocab {
		return invalid("synthetic vocabulary size %d is below %d (256 bytes and an end-of-text token)",
			o.VocabSize, minSyntheticVocab)
	}

	for _, t := range []struct {
		field string
		typ   gguf.Type
	}{{"MatrixType", o.MatrixType}, {"EmbedType", o.EmbedType}} {
		switch t.typ {
		case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0:
		default:
			return invalid("%s %v is not F32, F16, BF16 or Q8_0", t.field, t.typ)
		}
	}

	// Quantized rows are cut into blocks along ne0, the input dimension.
	if o.MatrixType == gguf.TypeQ8_0 || o.EmbedType == gguf.TypeQ8_0 {
		block := gguf.TypeQ8_0.BlockSize()
		if o.DModel%block != 0 {
			return invalid("d_model %d is not a multiple of the Q8_0 block size %d", o.DModel, block)
		}
		if o.MatrixType == gguf.TypeQ8_0 && o.DMLP%block != 0 {
			return invalid("d_mlp %d is not a multiple of the Q8_0 block size %d", o.DMLP, block)
		}
		if o.MatrixType == gguf.TypeQ8_0 && o.NHeads*o.headDim()%block != 0 {
			return invalid("n_heads·d_head %d is not a multiple of the Q8_0 block size %d", o.NHeads*o.headDim(), block)
		}
	}
	return nil
}

// headDim returns the width of one attention head.
func (o Options) headDim() int {
	if o.HeadDim > 0 {
		return o.HeadDim
	}
	return o.DModel / o.NHeads
}

// fileType returns llama.cpp's general.file_type (enum llama_ftype) for the
// lowest-precision weight type in the model.
func (o Options) fileType() uint32 {
	const (
		allF32     = 0
		mostlyF16  = 1
		mostlyQ8_0 = 7
		mostlyBF16 = 32
	)
	has := func(t gguf.Type) bool { return o.MatrixType == t || o.EmbedType == t }
	switch {
	case has(gguf.TypeQ8_0):
		return mostlyQ8_0
	case has(gguf.TypeF16):
		return mostlyF16
	case has(gguf.TypeBF16):
		return mostlyBF16
	}
	return allF32
}

// addMetadata writes the general.*, architecture and tokenizer keys under
// the names that llama.cpp's loader reads (src/llama-arch.cpp).
func addMetadata(w *gguf.Writer, o Options, vocab vocabulary) error {
	a := o.Arch
	entries := []gguf.KV{
		{Key: "general.architecture", Value: a},
		{Key: "general.name", Value: o.Name},
		{Key: "general.file_type", Value: o.fileType()},
		{Key: a + ".context_length", Value: uint32(o.NCtx)},
		{Key: a + ".embedding_length", Value: uint32(o.DModel)},
		{Key: a + ".feed_forward_length", Value: uint32(o.DMLP)},
		{Key: a + ".block_count", Value: uint32(o.NLayers)},
		{Key: a + ".attention.head_count", Value: uint32(o.NHeads)},
	}
	if a == ArchGPT2 {
		entries = append(entries, gguf.KV{Key: "gpt2.attention.layer_norm_epsilon", Value: o.Eps})
	} else {
		entries = append(entries,
			gguf.KV{Key: a + ".attention.head_count_kv", Value: uint32(o.NKVHeads)},
			gguf.KV{Key: a + ".attention.layer_norm_rms_epsilon", Value: o.Eps},
			gguf.KV{Key: a + ".rope.dimension_count", Value: uint32(o.RopeDim)},
			gguf.KV{Key: a + ".rope.freq_base", Value: o.RopeBase},
		)
	}
	if o.HeadDim > 0 {
		entries = append(entries,
			gguf.KV{Key: a + ".attention.key_length", Value: uint32(o.HeadDim)},
			gguf.KV{Key: a + ".attention.value_length", Value: uint32(o.HeadDim)},
		)
	}
	if o.AttnSoftCap > 0 {
		entries = append(entries, gguf.KV{Key: a + ".attn_logit_softcapping", Value: o.AttnSoftCap})
	}
	if o.FinalSoftCap > 0 {
		entries = append(entries, gguf.KV{Key: a + ".final_logit_softcapping", Value: o.FinalSoftCap})
	}
	if o.SlidingWindow > 0 {
		entries = append(entries, gguf.KV{Key: a + ".attention.sliding_window", Value: uint32(o.SlidingWindow)})
	}
	entries = append(entries, vocab.kv...)

	for _, kv := range entries {
		if err := w.Add(kv.Key, kv.Value); err != nil {
			return fmt.Errorf("synth: metadata %q: %w", kv.Key, err)
		}
	}
	return nil
}
