package tokenizer

import (
	"maps"
	"slices"
	"strings"
)

// preTokenizer describes how a byte-level BPE vocabulary splits text into
// words before merging, and the defaults llama.cpp ties to it.
type preTokenizer struct {
	// patterns are applied in order, each to every piece left by the
	// previous one. Text between two matches stays a piece of its own.
	patterns []string

	addBOS       bool // default of tokenizer.ggml.add_bos_token
	noDefaultBOS bool // no BOS id unless tokenizer.ggml.bos_token_id sets one
	ignoreMerges bool // a word found whole in the vocabulary is one token
}

// Pre-tokenizer patterns, in the form llama.cpp (src/llama-vocab.cpp, commit
// 80fb11a) applies them. \s and \S stand for Unicode white space, as
// expandWhitespace explains.
const (
	// gpt2Pattern is GPT-2's pattern from openai/gpt-2 encoder.py.
	gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

	// contractions is the case-insensitive (?i:'s|'t|'re|'ve|'m|'ll|'d) of
	// the Llama 3 and Qwen 2 patterns, spelled out as llama.cpp matches it.
	contractions = `'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]`

	// llama3Pattern is Llama 3's pattern: digits in groups of up to three.
	llama3Pattern = `(?:` + contractions + `)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

	// qwen2Pattern is Qwen 2's pattern: Llama 3's with single digits.
	qwen2Pattern = `(?:` + contractions + `)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

	// qwen35Pattern is Qwen 3.5's pattern: Qwen 2's with combining marks
	// joined to letters.
	qwen35Pattern = `(?:` + contractions + `)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

	// upperLetter and lowerLetter approximate \p{Lu} and \p{Ll} as llama.cpp
	// does in the GPT-4o and tekken patterns: a letter other than a-z, and a
	// letter other than A-Z.
	upperLetter = `(?:(?=\p{L})[^a-z])`
	lowerLetter = `(?:(?=\p{L})[^A-Z])`

	// gpt4oPattern is the o200k pattern of GPT-4o and Llama 4.
	gpt4oPattern = `[^\r\n\p{L}\p{N}]?` + upperLetter + `*` + lowerLetter + `+(?:` + contractions + `)?` +
		`|[^\r\n\p{L}\p{N}]?` + upperLetter + `+` + lowerLetter + `*(?:` + contractions + `)?` +
		`|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`

	// tekkenPattern is Mistral's tekken pattern: GPT-4o's without
	// contractions and with single digits.
	tekkenPattern = `[^\r\n\p{L}\p{N}]?` + upperLetter + `*` + lowerLetter + `+` +
		`|[^\r\n\p{L}\p{N}]?` + upperLetter + `+` + lowerLetter + `*` +
		`|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`

	// bloomPattern splits before spaces and common sentence punctuation.
	bloomPattern = ` ?[^(\s|.,!?…。，、।۔،)]+`

	punctuationRun = `[\p{P}\$\+<=>\^~\|]+`
	digitRun       = `\p{N}+`
	singleDigit    = `\p{N}`
	asciiDigits3   = `[0-9][0-9][0-9]`
)

// preTokenizers maps tokenizer.ggml.pre values to pre-tokenizers, following
// llama.cpp's llama_vocab::impl::load and llm_tokenizer_bpe. The empty name
// is the absent key, which llama.cpp treats as "default".
var preTokenizers = func() map[string]preTokenizer {
	m := make(map[string]preTokenizer)
	add := func(p preTokenizer, names ...string) {
		for _, name := range names {
			m[name] = p
		}
	}

	add(preTokenizer{patterns: []string{punctuationRun, gpt2Pattern, digitRun, asciiDigits3}}, "", "default")
	add(preTokenizer{patterns: []string{gpt2Pattern}}, "gpt-2", "phi-2", "mpt", "olmo", "jais", "exaone4")
	add(preTokenizer{patterns: []string{llama3Pattern}, addBOS: true, ignoreMerges: true}, "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1")
	add(preTokenizer{patterns: []string{llama3Pattern}}, "dbrx", "smaug-bpe")
	add(preTokenizer{patterns: []string{llama3Pattern}, noDefaultBOS: true}, "glm4", "chatglm-bpe")
	add(preTokenizer{patterns: []string{qwen2Pattern}}, "qwen2", "deepseek-r1-qwen", "stablelm2", "megrez")
	add(preTokenizer{patterns: []string{qwen35Pattern}}, "qwen35")
	add(preTokenizer{patterns: []string{singleDigit, gpt2Pattern}}, "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone")
	add(preTokenizer{patterns: []string{"[\\p{P}\\$\\+<=>\\^~\\|`]+", gpt2Pattern, asciiDigits3}}, "falcon")
	add(preTokenizer{patterns: []string{gpt4oPattern}}, "gpt-4o", "llama4")
	add(preTokenizer{patterns: []string{tekkenPattern}, addBOS: true, ignoreMerges: true}, "tekken")
	add(preTokenizer{patterns: []string{bloomPattern}}, "poro-chat", "bloom", "gpt3-finnish")
	add(preTokenizer{patterns: []string{bloomPattern, singleDigit}}, "viking")
	return m
}()

// knownPreTokenizers returns the accepted tokenizer.ggml.pre values, sorted,
// for error messages.
func knownPreTokenizers() []string {
	names := slices.Sorted(maps.Keys(preTokenizers))
	return slices.DeleteFunc(names, func(name string) bool { return name == "" })
}

// whiteSpace is the class content of llama.cpp's \s: the Unicode White_Space
// characters. ollama compiles patterns in regexp2's RE2 mode, where \s is
// ASCII only, so patterns spell the class out.
const whiteSpace = "\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

// expandWhitespace replaces \s and \S in pattern with explicit classes of
// Unicode white space. It panics on \S inside a character class, which
// cannot be spelled out and which no pattern here uses.
func expandWhitespace(pattern string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == '\\' && i+1 < len(pattern) {
			next := pattern[i+1]
			i++
			switch {
			case next == 's' && inClass:
				b.WriteString(whiteSpace)
			case next == 's':
				b.WriteString("[" + whiteSpace + "]")
			case next == 'S' && inClass:
				panic("tokenizer: \\S inside a character class in pattern " + pattern)
			case next == 'S':
				b.WriteString("[^" + whiteSpace + "]")
			default:
				b.WriteByte(c)
				b.WriteByte(next)
			}
			continue
		}

		switch {
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A ']' or '^]' right after '[' is a literal, not the end.
			if i+1 < len(pattern) && pattern[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(pattern) && pattern[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// coverAll rewrites pattern so that its matches cover the whole text: it
// matches what pattern matches, and otherwise the longest run of characters
// at none of which pattern matches. The runs are the pieces that llama.cpp
// keeps between matches. ollama's splitter mishandles text between matches
// (v0.17.4 repeats the text before the previous match), so every pattern
// passed to it must leave no such text.
func coverAll(pattern string) string {
	return `(?:` + pattern + `)|(?:(?!(?:` + pattern + `))(?s:.))+`
}

// ollamaPatterns returns the patterns of p in the form passed to ollama.
func (p *preTokenizer) ollamaPatterns() []string {
	out := make([]string, len(p.patterns))
	for i, pattern := range p.patterns {
		out[i] = coverAll(expandWhitespace(pattern))
	}
	return out
}
