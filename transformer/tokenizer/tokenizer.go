// Package tokenizer turns text into token ids and back for GGUF models, with
// the vocabulary, pre-tokenizer and special-token rules read from the file's
// tokenizer.ggml.* metadata.
//
// Two vocabulary models are supported: byte-level BPE (tokenizer.ggml.model
// "gpt2", used by GPT-2, Llama 3, Qwen 2 and StarCoder among others) and
// SentencePiece (tokenizer.ggml.model "llama", used by Llama 2, Mistral and
// Phi-3). The merge algorithms are ollama's (github.com/ollama/ollama/tokenizer
// v0.17.4). This package chooses the pre-tokenizer, splits special tokens out
// of the text, adds BOS and EOS, and checks the metadata and every id, so
// that the ids match those of llama.cpp's llama_tokenize for the same file.
// The exception is byte-level BPE on runs of a repeated pair, such as
// "!!!!!!" or a run of spaces, which ollama can split differently (see
// Encode).
package tokenizer

import (
	"fmt"

	ollama "github.com/ollama/ollama/tokenizer"
)

// Values of tokenizer.ggml.model that New accepts, returned by Model.
const (
	ModelGPT2  = "gpt2"  // byte-level BPE
	ModelLlama = "llama" // SentencePiece
)

// Metadata is the subset of a GGUF file's key-value metadata that New reads.
// *gguf.File implements it. Each typed accessor reports false when the key is
// absent or holds a value of another type. Value reports whether the key is
// present at all, so that New can tell a missing key from a mistyped one.
type Metadata interface {
	Value(key string) (any, bool)
	String(key string) (string, bool)
	Bool(key string) (bool, bool)
	Uint(key string) (uint64, bool)
	Strings(key string) ([]string, bool)
	Float32s(key string) ([]float32, bool)
	Int32s(key string) ([]int32, bool)
}

// Tokenizer encodes text to token ids and decodes ids to text for one GGUF
// vocabulary. It is immutable after New and safe for concurrent use.
type Tokenizer struct {
	model string

	tokens []string
	attrs  []tokenAttr

	// special lists the ids that are split out of the text before the merge
	// step, longest text first, as llama.cpp's tokenizer_st_partition does.
	special []int32

	bos, eos       int32 // -1 when the vocabulary has none
	addBOS, addEOS bool
	addSpacePrefix bool // SentencePiece only: encode text as if it started with a space
	eog            map[int32]bool

	encoder ollama.Tokenizer
}

// New builds a Tokenizer from a GGUF file's tokenizer.ggml.* metadata. It
// reads the vocabulary model, pre-tokenizer, tokens, token types, scores,
// merges, special token ids and the add_bos_token, add_eos_token and
// add_space_prefix flags, applying llama.cpp's defaults for absent keys.
// It returns an error, rather than panicking, on an unsupported model or
// pre-tokenizer, a missing or mistyped key, arrays whose lengths disagree,
// a vocabulary of fewer than five tokens, duplicate tokens, or a special
// token id outside the vocabulary.
func New(md Metadata) (*Tokenizer, error) {
	model, ok := md.String(keyModel)
	if !ok {
		if v, present := md.Value(keyModel); present {
			return nil, fmt.Errorf("tokenizer: metadata %s has type %T, expected a string", keyModel, v)
		}
		return nil, fmt.Errorf("tokenizer: metadata %s is missing, so the vocabulary type is unknown", keyModel)
	}
	if model != ModelGPT2 && model != ModelLlama {
		return nil, fmt.Errorf("tokenizer: unsupported %s %q; supported are %q (byte-level BPE) and %q (SentencePiece)",
			keyModel, model, ModelGPT2, ModelLlama)
	}

	t := &Tokenizer{model: model}
	pre, err := t.load(md)
	if err != nil {
		return nil, err
	}
	if err := t.buildEncoder(md, pre); err != nil {
		return nil, err
	}
	return t, nil
}

// Model returns the vocabulary model, ModelGPT2 or ModelLlama.
func (t *Tokenizer) Model() string { return t.model }

// VocabSize returns the number of tokens in the vocabulary. Valid ids are
// 0 to VocabSize()-1.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// BOS returns the beginning-of-sequence token id, or -1 when the vocabulary
// has none.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence token id, or -1 when the vocabulary has
// none.
func (t *Tokenizer) EOS() int32 { return t.eos }

// AddBOS reports whether Encode with addSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether Encode with addSpecial appends EOS.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// IsEOG reports whether id ends generation: the EOS, end-of-turn and
// end-of-message tokens, the ids listed in tokenizer.ggml.eos_token_ids, and
// tokens whose text llama.cpp treats as an end of generation, such as
// "<|im_end|>" or "<|eot_id|>". It returns false for ids outside the
// vocabulary.
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// checkID returns an error naming id and the vocabulary size when id is not
// a valid token id.
func (t *Tokenizer) checkID(id int32) error {
	if id < 0 || int(id) >= len(t.tokens) {
		return fmt.Errorf("tokenizer: token id %d is out of range; the vocabulary has %d tokens (ids 0 to %d)",
			id, len(t.tokens), len(t.tokens)-1)
	}
	return nil
}

// checkIDs returns the first error of checkID over ids.
func (t *Tokenizer) checkIDs(ids []int32) error {
	for i, id := range ids {
		if err := t.checkID(id); err != nil {
			return fmt.Errorf("%w (position %d)", err, i)
		}
	}
	return nil
}
