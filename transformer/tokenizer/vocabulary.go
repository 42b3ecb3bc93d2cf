package tokenizer

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Metadata keys read by New.
const (
	keyModel          = "tokenizer.ggml.model"
	keyPre            = "tokenizer.ggml.pre"
	keyTokens         = "tokenizer.ggml.tokens"
	keyTokenTypes     = "tokenizer.ggml.token_type"
	keyScores         = "tokenizer.ggml.scores"
	keyMerges         = "tokenizer.ggml.merges"
	keyBOS            = "tokenizer.ggml.bos_token_id"
	keyEOS            = "tokenizer.ggml.eos_token_id"
	keyEOSList        = "tokenizer.ggml.eos_token_ids" // written by ollama's converter
	keyEOT            = "tokenizer.ggml.eot_token_id"
	keyEOM            = "tokenizer.ggml.eom_token_id"
	keyUnknown        = "tokenizer.ggml.unknown_token_id"
	keyPadding        = "tokenizer.ggml.padding_token_id"
	keyAddBOS         = "tokenizer.ggml.add_bos_token"
	keyAddEOS         = "tokenizer.ggml.add_eos_token"
	keyAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
	keyName           = "general.name"
)

// minVocabSize is the smallest vocabulary New accepts. ollama's SentencePiece
// constructor reads the first five tokens unconditionally, and no real
// vocabulary comes close to this size.
const minVocabSize = 5

// tokenAttr is a bit set of token attributes in the manner of llama.cpp's
// llama_token_attr. A token can carry several, for example a user-defined
// token that is also a control token because its text ends a turn.
type tokenAttr uint16

const (
	attrUnknown tokenAttr = 1 << iota
	attrUnused
	attrNormal
	attrControl
	attrUserDefined
	attrByte
	attrLStrip // drop whitespace before the token when splitting it out of text
	attrRStrip // drop whitespace after it
)

// attrFromType converts a tokenizer.ggml.token_type value (0 undefined,
// 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) to an
// attribute. Unknown values give no attribute, as 0 does in llama.cpp.
func attrFromType(tokenType int32) tokenAttr {
	switch tokenType {
	case 1:
		return attrNormal
	case 2:
		return attrUnknown
	case 3:
		return attrControl
	case 4:
		return attrUserDefined
	case 5:
		return attrUnused
	case 6:
		return attrByte
	}
	return 0
}

// eogTexts lists token texts that llama.cpp (src/llama-vocab.cpp, commit
// 80fb11a) treats as ending generation and marks as control tokens,
// whatever their stored type.
var eogTexts = []string{
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
	"<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>",
	"<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
	"<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
	"<｜end▁of▁sentence｜>", "[e~[",
}

// load reads and checks everything except the encoder's tables, and returns
// the pre-tokenizer of a BPE vocabulary (nil for SentencePiece).
func (t *Tokenizer) load(md Metadata) (*preTokenizer, error) {
	if err := t.loadTokens(md); err != nil {
		return nil, err
	}

	pre, err := t.loadPre(md)
	if err != nil {
		return nil, err
	}

	if err := t.loadSpecialIDs(md, pre); err != nil {
		return nil, err
	}
	if err := t.loadFlags(md, pre); err != nil {
		return nil, err
	}
	if err := t.loadEOG(md); err != nil {
		return nil, err
	}

	t.collectSpecial()
	t.applyStripRules(md)
	return pre, nil
}

// loadTokens reads the tokens and their types, and checks that the
// vocabulary is large enough and has no duplicate entries.
func (t *Tokenizer) loadTokens(md Metadata) error {
	tokens, present, err := lookupStrings(md, keyTokens)
	if err != nil {
		return err
	}
	if !present {
		return fmt.Errorf("tokenizer: metadata %s is missing; the file has no vocabulary", keyTokens)
	}
	if len(tokens) < minVocabSize {
		return fmt.Errorf("tokenizer: metadata %s has %d entries; a vocabulary needs at least %d",
			keyTokens, len(tokens), minVocabSize)
	}

	// llama.cpp gives empty entries a unique placeholder text, so that they
	// can never match text, and aborts on any other duplicate.
	tokens = slices.Clone(tokens)
	seen := make(map[string]int, len(tokens))
	for i, token := range tokens {
		if token == "" {
			token = "[EMPTY_" + strconv.Itoa(i) + "]"
			tokens[i] = token
		}
		if j, dup := seen[token]; dup {
			return fmt.Errorf("tokenizer: metadata %s has %q at both id %d and id %d; token texts must be unique",
				keyTokens, token, j, i)
		}
		seen[token] = i
	}
	t.tokens = tokens

	types, present, err := lookupInt32s(md, keyTokenTypes)
	if err != nil {
		return err
	}
	t.attrs = make([]tokenAttr, len(tokens))
	if !present {
		// llama.cpp treats every token as normal when the types are
		// missing, and loadEOG then marks end-of-generation tokens as control.
		for i := range t.attrs {
			t.attrs[i] = attrNormal
		}
		return nil
	}
	if len(types) != len(tokens) {
		return fmt.Errorf("tokenizer: metadata %s has %d entries but %s has %d; they must match",
			keyTokenTypes, len(types), keyTokens, len(tokens))
	}
	for i, tokenType := range types {
		t.attrs[i] = attrFromType(tokenType)
	}
	return nil
}

// loadPre reads tokenizer.ggml.pre and returns the pre-tokenizer of a BPE
// vocabulary, or nil for SentencePiece, which has none.
func (t *Tokenizer) loadPre(md Metadata) (*preTokenizer, error) {
	pre, ok := md.String(keyPre)
	if !ok {
		if v, present := md.Value(keyPre); present {
			return nil, fmt.Errorf("tokenizer: metadata %s has type %T, expected a string", keyPre, v)
		}
	}
	if t.model != ModelGPT2 {
		return nil, nil
	}

	p, known := preTokenizers[pre]
	if !known {
		return nil, fmt.Errorf("tokenizer: unknown %s %q; known values are %s, or the key may be absent",
			keyPre, pre, strings.Join(knownPreTokenizers(), ", "))
	}
	return &p, nil
}

// loadSpecialIDs reads the BOS and EOS ids, and checks the unknown and
// padding ids, which encoding does not use. Absent keys take llama.cpp's
// defaults for the vocabulary model (llama_vocab::impl::load): BOS 1, EOS 2
// and unknown 0 for SentencePiece, and BOS 11 and EOS 11 for BPE, with no
// BOS for the glm4 pre-tokenizer. A default outside the vocabulary means none,
// as in llama.cpp.
func (t *Tokenizer) loadSpecialIDs(md Metadata, pre *preTokenizer) error {
	defBOS, defEOS, defUnk := int32(1), int32(2), int32(0)
	if t.model == ModelGPT2 {
		defBOS, defEOS, defUnk = 11, 11, -1
		if pre.noDefaultBOS {
			defBOS = -1
		}
	}

	var err error
	if t.bos, err = t.lookupID(md, keyBOS, defBOS); err != nil {
		return err
	}
	if t.eos, err = t.lookupID(md, keyEOS, defEOS); err != nil {
		return err
	}
	if _, err = t.lookupID(md, keyUnknown, defUnk); err != nil {
		return err
	}
	if _, err = t.lookupID(md, keyPadding, -1); err != nil {
		return err
	}
	return nil
}

// loadFlags reads add_bos_token, add_eos_token and add_space_prefix.
// Defaults follow llama.cpp. SentencePiece adds BOS and a space prefix. BPE
// adds BOS only for the pre-tokenizers that ask for it (Llama 3, tekken).
// Neither adds EOS.
func (t *Tokenizer) loadFlags(md Metadata, pre *preTokenizer) error {
	addBOS, addSpacePrefix := true, true
	if t.model == ModelGPT2 {
		addBOS, addSpacePrefix = pre.addBOS, false
	}

	var err error
	if t.addBOS, err = lookupBool(md, keyAddBOS, addBOS); err != nil {
		return err
	}
	if t.addEOS, err = lookupBool(md, keyAddEOS, false); err != nil {
		return err
	}
	if t.addSpacePrefix, err = lookupBool(md, keyAddSpacePrefix, addSpacePrefix); err != nil {
		return err
	}

	if t.addBOS && t.bos < 0 {
		return fmt.Errorf("tokenizer: the vocabulary asks for a BOS token (%s) but has none; set %s",
			keyAddBOS, keyBOS)
	}
	if t.addEOS && t.eos < 0 {
		return fmt.Errorf("tokenizer: the vocabulary asks for an EOS token (%s) but has none; set %s",
			keyAddEOS, keyEOS)
	}
	return nil
}

// loadEOG collects the end-of-generation ids and marks them as control
// tokens, as llama.cpp does.
// NOTE: llama.cpp also counts fill-in-the-middle pad, repo and separator
// tokens as end of generation, but IsEOG does not.
func (t *Tokenizer) loadEOG(md Metadata) error {
	t.eog = make(map[int32]bool)
	for i, token := range t.tokens {
		if slices.Contains(eogTexts, token) {
			t.eog[int32(i)] = true
			t.attrs[i] |= attrControl
		}
	}

	eot, err := t.lookupID(md, keyEOT, -1)
	if err != nil {
		return err
	}
	eom, err := t.lookupID(md, keyEOM, -1)
	if err != nil {
		return err
	}
	extra, _, err := lookupInt32s(md, keyEOSList)
	if err != nil {
		return err
	}
	for _, id := range append([]int32{t.eos, eot, eom}, extra...) {
		if id >= 0 && int(id) < len(t.tokens) {
			t.eog[id] = true
		}
	}

	// Vocabularies that have "<|return|>" and "<|call|>" (gpt-oss), or
	// "<|calls|>" and "<|flush|>" (solar-open), continue after "<|end|>", so
	// llama.cpp makes it an ordinary user-defined token.
	has := func(text string) bool {
		id := t.find(text)
		return id >= 0 && t.eog[id]
	}
	if end := t.find("<|end|>"); end >= 0 && t.eog[end] &&
		(has("<|return|>") && has("<|call|>") || has("<|calls|>") && has("<|flush|>")) {
		delete(t.eog, end)
		t.attrs[end] = attrUserDefined
	}

	// Gemma 4 uses "</s>" as text, not as a stop.
	if s := t.find("</s>"); s >= 0 && t.eog[s] && has("<|tool_response>") {
		delete(t.eog, s)
		t.attrs[s] = attrNormal
	}
	return nil
}

// collectSpecial lists the tokens split out of text before the merge step:
// control, user-defined and unknown tokens, longest text first, then by id.
func (t *Tokenizer) collectSpecial() {
	for i, a := range t.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.special = append(t.special, int32(i))
		}
	}
	slices.SortStableFunc(t.special, func(a, b int32) int {
		return len(t.tokens[b]) - len(t.tokens[a])
	})
}

// applyStripRules sets the whitespace-stripping attributes that llama.cpp
// derives from the model name: for Phi-3, text after a special token loses
// its leading whitespace, except after "<unk>", "<s>" and "<|endoftext|>".
func (t *Tokenizer) applyStripRules(md Metadata) {
	name, _ := md.String(keyName)
	name = strings.ToLower(name)
	if !strings.Contains(name, "phi-3") && !strings.Contains(name, "phi3") {
		return
	}

	for _, id := range t.special {
		t.attrs[id] |= attrRStrip
	}
	if id := t.find("</s>"); id >= 0 {
		t.attrs[id] |= attrRStrip
	}
	for _, text := range []string{"<unk>", "<s>", "<|endoftext|>"} {
		if id := t.find(text); id >= 0 {
			t.attrs[id] &^= attrRStrip
		}
	}
}

// find returns the id of the token with the given text, or -1.
func (t *Tokenizer) find(text string) int32 {
	return int32(slices.Index(t.tokens, text))
}

// lookupID reads a token id. An absent key gives def, or -1 when def is
// outside the vocabulary; −1 stands for no token. Any other present id must
// be inside the vocabulary.
func (t *Tokenizer) lookupID(md Metadata, key string, def int32) (int32, error) {
	v, present := md.Value(key)
	if !present {
		if def >= int32(len(t.tokens)) {
			return -1, nil
		}
		return def, nil
	}

	// llama.cpp writes LLAMA_TOKEN_NULL (−1, or 0xFFFFFFFF as uint32) for
	// "no such token", as stories260K's padding id does.
	switch v {
	case int32(-1), int64(-1), uint32(math.MaxUint32), uint64(math.MaxUint32):
		return -1, nil
	}
	id, ok := md.Uint(key)
	if !ok {
		return 0, fmt.Errorf("tokenizer: metadata %s = %v (%T) is not a token id; expected a non-negative integer", key, v, v)
	}
	if id >= uint64(len(t.tokens)) {
		return 0, fmt.Errorf("tokenizer: metadata %s = %d is out of range; the vocabulary has %d tokens",
			key, id, len(t.tokens))
	}
	return int32(id), nil
}

// lookupBool reads a bool, returning def when the key is absent.
func lookupBool(md Metadata, key string, def bool) (bool, error) {
	b, ok := md.Bool(key)
	if ok {
		return b, nil
	}
	if v, present := md.Value(key); present {
		return false, fmt.Errorf("tokenizer: metadata %s has type %T, expected a bool", key, v)
	}
	return def, nil
}

// lookupStrings reads a string array. present is false when the key is absent.
func lookupStrings(md Metadata, key string) (values []string, present bool, err error) {
	if s, ok := md.Strings(key); ok {
		return s, true, nil
	}
	if v, ok := md.Value(key); ok {
		return nil, false, fmt.Errorf("tokenizer: metadata %s has type %T, expected an array of strings", key, v)
	}
	return nil, false, nil
}

// lookupInt32s reads an integer array. present is false when the key is absent.
func lookupInt32s(md Metadata, key string) (values []int32, present bool, err error) {
	if s, ok := md.Int32s(key); ok {
		return s, true, nil
	}
	if v, ok := md.Value(key); ok {
		return nil, false, fmt.Errorf("tokenizer: metadata %s has type %T, expected an array of 32-bit integers", key, v)
	}
	return nil, false, nil
}

// lookupScores reads the SentencePiece scores, which llama.cpp accepts as
// float32 or int32 arrays. present is false when the key is absent.
func lookupScores(md Metadata) (scores []float32, present bool, err error) {
	if s, ok := md.Float32s(keyScores); ok {
		return s, true, nil
	}
	if s, ok := md.Int32s(keyScores); ok {
		scores = make([]float32, len(s))
		for i, x := range s {
			scores[i] = float32(x)
		}
		return scores, true, nil
	}
	if v, ok := md.Value(keyScores); ok {
		return nil, false, fmt.Errorf("tokenizer: metadata %s has type %T, expected an array of numbers", keyScores, v)
	}
	return nil, false, nil
}
