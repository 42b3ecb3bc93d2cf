package synth

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/interp-go/interp/gguf"
)

// minSyntheticVocab is the smallest synthetic vocabulary: 256 byte tokens
// and the end-of-text token.
const minSyntheticVocab = 257

// llama.cpp's token types (enum llama_token_type in llama.h).
const (
	tokenNormal  int32 = 1
	tokenControl int32 = 3
)

// vocabulary is the tokenizer metadata to write and the number of tokens,
// which sets the rows of token_embd and output.
type vocabulary struct {
	kv   []gguf.KV
	size int
}

func loadVocab(o Options) (vocabulary, error) {
	if o.VocabPath == "" {
		return syntheticVocab(o.VocabSize), nil
	}
	return copyVocab(o.VocabPath)
}

// copyVocab reads every tokenizer.* key of the GGUF file at path, in file
// order.
func copyVocab(path string) (vocabulary, error) {
	f, err := gguf.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return vocabulary{}, fmt.Errorf("synth: vocabulary file %s not found: %w", path, err)
	}
	if err != nil {
		return vocabulary{}, fmt.Errorf("synth: vocabulary: %w", err)
	}
	defer f.Close()

	tokens, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(tokens) == 0 {
		return vocabulary{}, fmt.Errorf("synth: vocabulary file %s has no tokenizer.ggml.tokens string array", path)
	}
	var v vocabulary
	for _, kv := range f.KV {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			v.kv = append(v.kv, kv)
		}
	}
	v.size = len(tokens)
	return v, nil
}

// syntheticVocab returns a byte-level BPE vocabulary in GPT-2's format that
// needs no file. Ids 0..255 are the 256 bytes under GPT-2's byte-to-unicode
// mapping, in GPT-2's order, so they match GPT-2's own ids. "<filler_N>"
// tokens follow, and "<|endoftext|>" is the last id and the BOS and EOS
// token. There are no merges, so text tokenizes to one token per byte and
// the filler tokens are never produced.
func syntheticVocab(size int) vocabulary {
	tokens := make([]string, 0, size)
	types := make([]int32, 0, size)
	tokens = append(tokens, gpt2ByteTokens()...)
	for i := len(tokens); i < size-1; i++ {
		tokens = append(tokens, "<filler_"+strconv.Itoa(i)+">")
	}
	for range tokens {
		types = append(types, tokenNormal)
	}
	tokens = append(tokens, "<|endoftext|>")
	types = append(types, tokenControl)
	eot := uint32(len(tokens) - 1)

	return vocabulary{
		size: len(tokens),
		kv: []gguf.KV{
			{Key: "tokenizer.ggml.model", Value: "gpt2"},
			{Key: "tokenizer.ggml.pre", Value: "gpt-2"},
			{Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.token_type", Value: types},
			{Key: "tokenizer.ggml.merges", Value: []string{}},
			{Key: "tokenizer.ggml.bos_token_id", Value: eot},
			{Key: "tokenizer.ggml.eos_token_id", Value: eot},
		},
	}
}

// gpt2ByteTokens returns the 256 byte tokens of GPT-2's byte-level BPE in
// vocabulary order. GPT-2 (encoder.py, bytes_to_unicode) maps the printable
// bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF to the characters with the same
// code points and lists them first. The other 68 bytes follow in byte order,
// mapped to U+0100, U+0101, ... so that every token is printable.
func gpt2ByteTokens() []string {
	printable := func(b int) bool {
		return ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
	}
	tokens := make([]string, 0, 256)
	for b := range 256 {
		if printable(b) {
			tokens = append(tokens, string(rune(b)))
		}
	}
	next := rune(0x100)
	for b := range 256 {
		if !printable(b) {
			tokens = append(tokens, string(next))
			next++
		}
	}
	return tokens
}
