package tokenizer

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// spaceMarker is the character SentencePiece vocabularies write for a space.
const spaceMarker = "▁"

// Decode converts ids to text by joining their pieces (see Pieces). For a
// SentencePiece vocabulary with add_space_prefix, the first piece loses one
// leading space, the one Encode added. This follows llama.cpp's
// llama_detokenize with remove_special false and unparse_special true, so
// control tokens appear as their text, except that Decode does not apply
// llama.cpp's clean-up of spaces before punctuation in BPE vocabularies. So
// Decode(Encode(s, false)) == s for any text s that contains no special
// token. Decode returns an error naming the first id outside the
// vocabulary. The result is a byte string and may be invalid UTF-8 when the
// ids end inside a multi-byte character.
func (t *Tokenizer) Decode(ids []int32) (string, error) {
	if err := t.checkIDs(ids); err != nil {
		return "", err
	}

	var b strings.Builder
	for i, id := range ids {
		piece := t.piece(id)
		if i == 0 && t.model == ModelLlama && t.addSpacePrefix {
			piece = strings.TrimPrefix(piece, " ")
		}
		b.WriteString(piece)
	}
	return b.String(), nil
}

// Piece returns the vocabulary entry of id as stored in the file, for
// example "ĠMary" in a byte-level BPE vocabulary or "▁Mary" and "<0x0A>" in
// a SentencePiece one. Empty entries read "[EMPTY_<id>]", as in llama.cpp.
// It returns an error when id is outside the vocabulary.
func (t *Tokenizer) Piece(id int32) (string, error) {
	if err := t.checkID(id); err != nil {
		return "", err
	}
	return t.tokens[id], nil
}

// Pieces returns the text each id stands for, for display next to per-token
// results: the decoded bytes of a byte-level BPE token (" Mary"), a
// SentencePiece token with "▁" turned into a space (" Mary"), the single
// byte of a byte token ("\n"), and the stored text of control, user-defined
// and unknown tokens ("<|endoftext|>"). A piece can be an incomplete UTF-8
// sequence when a character spans several tokens. It returns an error
// naming the first id outside the vocabulary.
func (t *Tokenizer) Pieces(ids []int32) ([]string, error) {
	if err := t.checkIDs(ids); err != nil {
		return nil, err
	}

	pieces := make([]string, len(ids))
	for i, id := range ids {
		pieces[i] = t.piece(id)
	}
	return pieces, nil
}

// piece returns the text of a valid id, as llama.cpp's token_to_piece with
// special true does.
// NOTE: llama.cpp renders unused and undefined tokens as nothing, but piece
// returns their stored text, so that displays show them.
func (t *Tokenizer) piece(id int32) string {
	text, attr := t.tokens[id], t.attrs[id]
	switch {
	case attr&(attrControl|attrUserDefined|attrUnknown) != 0:
		return text
	case t.model == ModelGPT2 && attr&(attrNormal|attrByte) != 0:
		return decodeByteLevel(text)
	case attr&attrNormal != 0:
		return strings.ReplaceAll(text, spaceMarker, " ")
	case attr&attrByte != 0:
		if b, ok := parseByteToken(text); ok {
			return string([]byte{b})
		}
	}
	return text
}

// parseByteToken parses a SentencePiece byte token such as "<0x0A>".
func parseByteToken(text string) (byte, bool) {
	if len(text) != 6 || !strings.HasPrefix(text, "<0x") || text[5] != '>' {
		return 0, false
	}
	b, err := strconv.ParseUint(text[3:5], 16, 8)
	if err != nil {
		return 0, false
	}
	return byte(b), true
}

// byteLevelBytes maps each character of GPT-2's byte-level alphabet back to
// its byte (the inverse of bytes_to_unicode in openai/gpt-2 encoder.py). The
// printable Latin-1 bytes stand for themselves. The other 68 bytes are ASCII
// controls, space, DEL, the C1 controls, no-break space and soft hyphen, and
// they are written as U+0100 onward, in byte order, so that every token is
// printable.
var byteLevelBytes = func() map[rune]byte {
	bytes := make(map[rune]byte, 256)
	moved := rune(0)
	for b := range 256 {
		if b >= 0x21 && b <= 0x7e || b >= 0xa1 && b <= 0xac || b >= 0xae {
			bytes[rune(b)] = byte(b)
			continue
		}
		bytes[0x100+moved] = byte(b)
		moved++
	}
	return bytes
}()

// decodeByteLevel returns the bytes that a byte-level BPE token stands for.
// A character outside the byte alphabet, which a well-formed vocabulary
// never contains, is kept as its UTF-8 encoding.
func decodeByteLevel(text string) string {
	out := make([]byte, 0, len(text))
	for _, r := range text {
		if b, ok := byteLevelBytes[r]; ok {
			out = append(out, b)
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}
