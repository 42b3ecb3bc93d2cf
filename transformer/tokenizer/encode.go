package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"

	ollama "github.com/ollama/ollama/tokenizer"
)

// asciiSpace is the set of C's isspace, which llama.cpp uses when a special
// token strips the white space next to it.
const asciiSpace = " \t\n\v\f\r"

// buildEncoder reads the scores and merges and builds ollama's encoder.
func (t *Tokenizer) buildEncoder(md Metadata, pre *preTokenizer) error {
	scores, present, err := lookupScores(md)
	if err != nil {
		return err
	}
	switch {
	case present && len(scores) != len(t.tokens):
		return fmt.Errorf("tokenizer: metadata %s has %d entries but %s has %d; they must match",
			keyScores, len(scores), keyTokens, len(t.tokens))
	case !present:
		// llama.cpp scores every token 0 when the scores are missing.
		scores = make([]float32, len(t.tokens))
	}

	// ollama splits control and user-defined tokens out of the text itself,
	// in vocabulary order and regardless of parse_special. Encode does that
	// split first, the way llama.cpp does, so ollama sees every token as
	// normal.
	types := make([]int32, len(t.tokens))
	for i := range types {
		types[i] = ollama.TOKEN_TYPE_NORMAL
	}
	vocab := &ollama.Vocabulary{Values: t.tokens, Types: types, Scores: scores}

	if t.model == ModelLlama {
		return callOllama("building the SentencePiece encoder", func() error {
			spm := ollama.NewSentencePiece(vocab)
			t.encoder = &spm
			return nil
		})
	}

	merges, present, err := lookupStrings(md, keyMerges)
	if err != nil {
		return err
	}
	if !present {
		return fmt.Errorf("tokenizer: metadata %s is missing; a %q vocabulary needs its BPE merges", keyMerges, ModelGPT2)
	}
	for i, merge := range merges {
		// llama.cpp splits at the first space after the first byte.
		if j := strings.IndexByte(merge, ' '); j < 1 || j == len(merge)-1 {
			return fmt.Errorf("tokenizer: metadata %s entry %d is %q; expected two tokens separated by a space",
				keyMerges, i, merge)
		}
	}
	vocab.Merges = merges

	return callOllama("building the BPE encoder", func() error {
		bpe, err := newBytePairEncoding(vocab, pre)
		if err != nil {
			return err
		}
		t.encoder = bpe
		return nil
	})
}

// Encode converts text to token ids as llama.cpp's llama_tokenize does with
// parse_special false, the setting of llama.cpp's tokenizer tests: the text
// of a control token such as "<|im_start|>" is encoded as ordinary text,
// while user-defined tokens are matched. With addSpecial, BOS is prepended
// when AddBOS reports true and EOS appended when AddEOS does. text must be
// valid UTF-8. Empty text gives no ids apart from BOS and EOS.
func (t *Tokenizer) Encode(text string, addSpecial bool) ([]int32, error) {
	return t.encode(text, addSpecial, false)
}

// EncodeSpecial is Encode that also matches control tokens written in the
// text, as llama_tokenize with parse_special true does. Use it for prompts
// rendered from a chat template, which contain markers such as
// "<|im_start|>".
func (t *Tokenizer) EncodeSpecial(text string, addSpecial bool) ([]int32, error) {
	return t.encode(text, addSpecial, true)
}

func (t *Tokenizer) encode(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("tokenizer: text is not valid UTF-8 (first invalid byte at offset %d); convert it first, for example with strings.ToValidUTF8",
			invalidUTF8Offset(text))
	}

	var ids []int32
	if addSpecial && t.addBOS {
		ids = append(ids, t.bos)
	}

	// SentencePiece vocabularies with add_space_prefix encode each run of
	// text that starts the input or follows a special token as if it began
	// with a space, as llama.cpp does.
	afterSpecial := true
	for _, f := range t.partition(text, parseSpecial) {
		if f.id >= 0 {
			ids = append(ids, f.id)
			afterSpecial = true
			continue
		}

		s := f.text
		if t.model == ModelLlama && t.addSpacePrefix && afterSpecial {
			s = " " + s
		}
		afterSpecial = false

		var err error
		if ids, err = t.encodeText(ids, s); err != nil {
			return nil, err
		}
	}

	if addSpecial && t.addEOS {
		ids = append(ids, t.eos)
	}
	return ids, nil
}

// encodeText appends the ids of text, which contains no special token, to ids.
func (t *Tokenizer) encodeText(ids []int32, text string) ([]int32, error) {
	var got []int32
	err := callOllama("encoding text", func() error {
		var err error
		got, err = t.encoder.Encode(text, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return append(ids, got...), nil
}

// fragment is a piece of the input: text still to be encoded, or a special
// token found in it.
type fragment struct {
	text string
	id   int32 // -1 for text
}

// partition splits text at every occurrence of a special token, as
// llama.cpp's tokenizer_st_partition does: longer tokens first, each token
// applied to the text left by the longer ones. Without parseSpecial, only
// user-defined tokens are split out.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil
	}

	fragments := []fragment{{text: text, id: -1}}
	for _, id := range t.special {
		attr := t.attrs[id]
		if !parseSpecial && attr&(attrControl|attrUnknown) != 0 {
			continue
		}

		special := t.tokens[id]
		found := false
		for _, f := range fragments {
			if f.id < 0 && strings.Contains(f.text, special) {
				found = true
				break
			}
		}
		if !found {
			continue
		}

		var next []fragment
		for _, f := range fragments {
			if f.id >= 0 {
				next = append(next, f)
				continue
			}
			next = splitAround(next, f.text, id, special, attr)
		}
		fragments = next
	}
	return fragments
}

// splitAround appends to out the fragments of text split at each
// occurrence of special, whose id is id, and returns the extended slice.
// attr's strip bits remove the ASCII white space before or after each
// occurrence.
func splitAround(out []fragment, text string, id int32, special string, attr tokenAttr) []fragment {
	for {
		i := strings.Index(text, special)
		if i < 0 {
			break
		}

		left := text[:i]
		if attr&attrLStrip != 0 {
			left = strings.TrimRight(left, asciiSpace)
		}
		if left != "" {
			out = append(out, fragment{text: left, id: -1})
		}
		out = append(out, fragment{id: id})

		text = text[i+len(special):]
		if attr&attrRStrip != 0 {
			text = strings.TrimLeft(text, asciiSpace)
		}
	}
	if text != "" {
		out = append(out, fragment{text: text, id: -1})
	}
	return out
}

// callOllama runs f and converts a panic inside ollama's tokenizer into an
// error. ollama indexes its tables without bounds checks, and a vocabulary
// that slips past New's checks must not crash the caller.
func callOllama(operation string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tokenizer: %s: ollama's tokenizer panicked: %v", operation, r)
		}
	}()
	if err := f(); err != nil {
		return fmt.Errorf("tokenizer: %s: %w", operation, err)
	}
	return nil
}

// invalidUTF8Offset returns the byte offset of the first invalid UTF-8
// sequence in s, or -1.
func invalidUTF8Offset(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}
