package tokenizer

import (
	"github.com/dlclark/regexp2"
	ollama "github.com/ollama/ollama/tokenizer"
)

// bytePairEncoding is byte-level BPE that applies merges in llama.cpp's
// order. It keeps ollama's vocabulary, decoding and special-token queries
// and replaces ollama's Encode: ollama v0.17.4 orders its merge queue by
// rank alone, so among equal-rank merges (runs such as "!!!!!!", "33333",
// newlines or indentation) it may not merge the leftmost pair first, which
// llama.cpp's llm_tokenizer_bpe_session does and its test vectors assume.
type bytePairEncoding struct {
	ollama.BytePairEncoding
	vocab    *ollama.Vocabulary
	patterns []*regexp2.Regexp
	// wholeWords looks a pre-tokenized word up in the vocabulary before
	// merging, as llama.cpp does for vocabularies with ignore_merges.
	wholeWords bool
}

func newBytePairEncoding(vocab *ollama.Vocabulary, pre *preTokenizer) (*bytePairEncoding, error) {
	e := &bytePairEncoding{
		BytePairEncoding: ollama.NewBytePairEncoding(vocab, pre.ollamaPatterns()...),
		vocab:            vocab,
		wholeWords:       pre.ignoreMerges,
	}
	for _, p := range pre.ollamaPatterns() {
		re, err := regexp2.Compile(p, regexp2.RE2)
		if err != nil {
			return nil, err
		}
		e.patterns = append(e.patterns, re)
	}
	return e, nil
}

// Encode returns the ids of s, which contains no special tokens. addSpecial
// is ignored: the Tokenizer adds BOS and EOS itself.
func (e *bytePairEncoding) Encode(s string, addSpecial bool) ([]int32, error) {
	var ids []int32
	for _, word := range e.split(s) {
		ids = e.encodeWord(ids, byteLevel(word))
	}
	return ids, nil
}

// split applies the pre-tokenizer's patterns in turn, each to every piece
// the previous one left. The patterns cover all text (coverAll), so the
// matches are the pieces.
func (e *bytePairEncoding) split(s string) []string {
	parts := []string{s}
	for _, re := range e.patterns {
		var next []string
		for _, part := range parts {
			m, _ := re.FindStringMatch(part)
			for m != nil {
				next = append(next, m.String())
				m, _ = re.FindNextMatch(m)
			}
		}
		parts = next
	}
	return parts
}

// byteLevel maps each byte of word to the printable character that GPT-2's
// byte-level vocabulary uses for it: printable Latin-1 bytes map to
// themselves, the others to U+0100 onwards in byte order.
func byteLevel(word string) []rune {
	out := make([]rune, len(word))
	for i := 0; i < len(word); i++ {
		b := rune(word[i])
		switch {
		case b == 0xad:
			b = 0x143
		case b <= 0x20:
			b += 0x100
		case b >= 0x7f && b <= 0xa0:
			b += 0xa2
		}
		out[i] = b
	}
	return out
}

// encodeWord merges the characters of one byte-level word and appends the
// ids of the resulting symbols. Each step merges the adjacent pair of lowest
// rank, the leftmost among equals. A symbol missing from the vocabulary
// falls back to its characters' ids, as llama.cpp does.
func (e *bytePairEncoding) encodeWord(ids []int32, word []rune) []int32 {
	if e.wholeWords {
		if id := e.vocab.Encode(string(word)); id >= 0 {
			return append(ids, id)
		}
	}
	symbols := make([]string, len(word))
	for i, r := range word {
		symbols[i] = string(r)
	}
	for len(symbols) > 1 {
		best, bestRank := -1, 0
		for i := 0; i+1 < len(symbols); i++ {
			rank := e.vocab.Merge(symbols[i], symbols[i+1])
			if rank >= 0 && (best < 0 || rank < bestRank) {
				best, bestRank = i, rank
			}
		}
		if best < 0 {
			break
		}
		symbols[best] += symbols[best+1]
		symbols = append(symbols[:best+1], symbols[best+2:]...)
	}
	for _, s := range symbols {
		if id := e.vocab.Encode(s); id >= 0 {
			ids = append(ids, id)
			continue
		}
		for _, r := range s {
			if id := e.vocab.Encode(string(r)); id >= 0 {
				ids = append(ids, id)
			}
		}
	}
	return ids
}
