// Package synth writes GGUF models with seeded random weights, laid out as
// llama.cpp's gpt2 and llama architectures expect them, for tests and
// benchmarks.
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

	"github.com/interp-go/interp/gguf"
)

// Architectures that Write supports, as written to general.architecture.
const (
	ArchGPT2  = "gpt2"
	ArchLlama = "llama"
)

// Options describe the model that Write produces. Zero fields take the
// defaults listed beside them.
type Options struct {
	Arch string // ArchGPT2 or ArchLlama
	Name string // general.name, or empty for a name built from the shape and seed

	NLayers  int     // number of transformer blocks
	DModel   int     // residual stream width, a multiple of NHeads
	NHeads   int     // number of attention (query) heads
	NKVHeads int     // llama key/value heads, a divisor of NHeads (0 means NHeads, which gpt2 always uses)
	DMLP     int     // MLP hidden width (0 means 4*DModel)
	NCtx     int     // context length, which is also gpt2's number of learned positions
	RopeDim  int     // llama RoPE dimensions per head, even (0 means DModel/NHeads)
	RopeBase float32 // llama RoPE frequency base (0 means 10000)
	Eps      float32 // LayerNorm (gpt2) or RMSNorm (llama) epsilon (0 means 1e-5)

	Seed uint64

	// MatrixType is the tensor type of every 2-D weight except the token
	// embedding (and gpt2's position embedding, which is always F32):
	// gguf.TypeF32 (the zero value), TypeF16, TypeBF16 or TypeQ8_0. Norm
	// weights and biases are always F32.
	MatrixType gguf.Type
	// EmbedType is the tensor type of token_embd.weight, from the same set.
	EmbedType gguf.Type
	// Tied omits output.weight, so llama.cpp projects the logits with
	// token_embd.weight, as GPT-2 does.
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
	if o.Arch == ArchLlama {
		if o.RopeDim == 0 && o.NHeads > 0 {
			o.RopeDim = o.DModel / o.NHeads
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

	if o.Arch != ArchGPT2 && o.Arch != ArchLlama {
		return invalid("architecture %q is not %q or %q", o.Arch, ArchGPT2, ArchLlama)
	}
	if o.NLayers <= 0 || o.DModel <= 0 || o.NHeads <= 0 || o.DMLP <= 0 || o.NCtx <= 0 {
		return invalid("layers %d, d_model %d, heads %d, d_mlp %d and context %d must all be positive",
			o.NLayers, o.DModel, o.NHeads, o.DMLP, o.NCtx)
	}
	if o.DModel%o.NHeads != 0 {
		return invalid("d_model %d is not a multiple of the head count %d", o.DModel, o.NHeads)
	}
	if o.NKVHeads <= 0 || o.NHeads%o.NKVHeads != 0 {
		return invalid("head count %d is not a multiple of the key/value head count %d", o.NHeads, o.NKVHeads)
	}
	if o.Arch == ArchLlama {
		dHead := o.DModel / o.NHeads
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
	}
	return nil
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
			gguf.KV{Key: "llama.attention.head_count_kv", Value: uint32(o.NKVHeads)},
			gguf.KV{Key: "llama.attention.layer_norm_rms_epsilon", Value: o.Eps},
			gguf.KV{Key: "llama.rope.dimension_count", Value: uint32(o.RopeDim)},
			gguf.KV{Key: "llama.rope.freq_base", Value: o.RopeBase},
		)
	}
	entries = append(entries, vocab.kv...)

	for _, kv := range entries {
		if err := w.Add(kv.Key, kv.Value); err != nil {
			return fmt.Errorf("synth: metadata %q: %w", kv.Key, err)
		}
	}
	return nil
}
