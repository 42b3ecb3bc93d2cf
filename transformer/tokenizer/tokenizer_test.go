package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dlclark/regexp2"
)

// mapMetadata is an in-memory Metadata, keyed like GGUF metadata.
type mapMetadata map[string]any

func (m mapMetadata) Value(key string) (any, bool) {
	v, ok := m[key]
	return v, ok
}

func (m mapMetadata) String(key string) (string, bool) {
	v, ok := m[key].(string)
	return v, ok
}

func (m mapMetadata) Bool(key string) (bool, bool) {
	v, ok := m[key].(bool)
	return v, ok
}

func (m mapMetadata) Uint(key string) (uint64, bool) {
	switch v := m[key].(type) {
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	case int:
		return uint64(v), v >= 0
	}
	return 0, false
}

func (m mapMetadata) Strings(key string) ([]string, bool) {
	v, ok := m[key].([]string)
	return v, ok
}

func (m mapMetadata) Float32s(key string) ([]float32, bool) {
	v, ok := m[key].([]float32)
	return v, ok
}

func (m mapMetadata) Int32s(key string) ([]int32, bool) {
	v, ok := m[key].([]int32)
	return v, ok
}

// with returns a copy of m with key set to value, or removed when value is nil.
func (m mapMetadata) with(key string, value any) mapMetadata {
	out := make(mapMetadata, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

// byteLevelText returns s written in GPT-2's byte-level alphabet.
func byteLevelText(s string) string {
	runes := make(map[byte]rune, 256)
	for r, b := range byteLevelBytes {
		runes[b] = r
	}
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		out.WriteRune(runes[s[i]])
	}
	return out.String()
}

// Ids of the special tokens in bpeMetadata.
const (
	bpeEndOfText = 256 // "<|endoftext|>", control
	bpeImStart   = 257 // "<|im_start|>", control
	bpeThink     = 258 // "<think>", user-defined
)

// bpeMetadata returns a byte-level BPE vocabulary: the 256 byte tokens, three
// special tokens, and merges that build "Hello" and " world".
func bpeMetadata() mapMetadata {
	var tokens []string
	for b := range 256 {
		tokens = append(tokens, byteLevelText(string([]byte{byte(b)})))
	}
	types := slices.Repeat([]int32{1}, 256)

	tokens = append(tokens, "<|endoftext|>", "<|im_start|>", "<think>")
	types = append(types, 3, 3, 4)

	var merges []string
	for _, m := range [][2]string{{"H", "e"}, {"l", "l"}, {"He", "ll"}, {"Hell", "o"}, {" ", "w"}, {"o", "r"}, {" w", "or"}, {"l", "d"}, {" wor", "ld"}} {
		left, right := byteLevelText(m[0]), byteLevelText(m[1])
		merges = append(merges, left+" "+right)
		tokens = append(tokens, left+right)
		types = append(types, 1)
	}

	return mapMetadata{
		keyModel:      "gpt2",
		keyPre:        "gpt-2",
		keyTokens:     tokens,
		keyTokenTypes: types,
		keyMerges:     merges,
		keyBOS:        uint32(bpeEndOfText),
		keyEOS:        uint32(bpeEndOfText),
	}
}

// spmMetadata returns a SentencePiece vocabulary with byte fallback, the
// usual "<unk>", "<s>" and "</s>", a user-defined "<sep>" and the pieces of
// "▁Hello▁world".
func spmMetadata() mapMetadata {
	tokens := []string{"<unk>", "<s>", "</s>", "<sep>"}
	types := []int32{2, 3, 3, 4}
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, 6)
	}
	for _, piece := range []string{"▁", "▁H", "el", "lo", "▁Hel", "▁Hello", "▁w", "or", "ld", "▁wor", "▁world", "H", "e", "l", "o", "w", "r", "d"} {
		tokens = append(tokens, piece)
		types = append(types, 1)
	}
	scores := make([]float32, len(tokens))
	for i := range scores {
		scores[i] = -float32(i) // earlier pieces win, as in a real SentencePiece model
	}

	return mapMetadata{
		keyModel:      "llama",
		keyTokens:     tokens,
		keyTokenTypes: types,
		keyScores:     scores,
	}
}

func mustNew(t *testing.T, md Metadata) *Tokenizer {
	t.Helper()
	tok, err := New(md)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tok
}

func TestNewRejectsBadMetadata(t *testing.T) {
	bpe, spm := bpeMetadata(), spmMetadata()
	tokens := spm[keyTokens].([]string)
	duplicate := slices.Clone(tokens)
	duplicate[len(duplicate)-1] = "▁world"

	tests := []struct {
		name    string
		md      mapMetadata
		wantErr []string // substrings of the error
	}{
		{"missing model", spm.with(keyModel, nil), []string{keyModel, "missing"}},
		{"model not a string", spm.with(keyModel, uint32(1)), []string{keyModel, "uint32"}},
		{"unknown model", spm.with(keyModel, "bert"), []string{`"bert"`, `"gpt2"`, `"llama"`}},
		{"unknown pre", bpe.with(keyPre, "gpt-5"), []string{`"gpt-5"`, "gpt-2", "llama-bpe", "qwen2"}},
		{"missing tokens", spm.with(keyTokens, nil), []string{keyTokens, "missing"}},
		{"tokens not strings", spm.with(keyTokens, []int32{1, 2, 3, 4, 5}), []string{keyTokens, "[]int32"}},
		{"three tokens", spm.with(keyTokens, []string{"a", "b", "c"}).with(keyTokenTypes, nil).with(keyScores, nil), []string{"3 entries", "at least 5"}},
		{"duplicate tokens", spm.with(keyTokens, duplicate), []string{"token texts must be unique", "▁world"}},
		{"short token types", spm.with(keyTokenTypes, []int32{1, 1, 1, 1, 1}), []string{keyTokenTypes, "5 entries"}},
		{"short scores", spm.with(keyScores, []float32{0, 0, 0, 0, 0}), []string{keyScores, "5 entries"}},
		{"BOS out of range", spm.with(keyBOS, uint32(len(tokens))), []string{keyBOS, fmt.Sprint(len(tokens)), "out of range"}},
		{"EOS out of range", bpe.with(keyEOS, uint32(1<<20)), []string{keyEOS, "1048576", "out of range"}},
		{"unknown id out of range", spm.with(keyUnknown, uint32(len(tokens)+5)), []string{keyUnknown, "out of range"}},
		{"padding id out of range", spm.with(keyPadding, uint64(1<<40)), []string{keyPadding, "out of range"}},
		{"negative BOS", spm.with(keyBOS, -1), []string{keyBOS, "not a token id"}},
		{"add_bos not a bool", spm.with(keyAddBOS, "yes"), []string{keyAddBOS, "string"}},
		{"missing merges", bpe.with(keyMerges, nil), []string{keyMerges, "missing"}},
		{"malformed merge", bpe.with(keyMerges, []string{"H e", "Hello"}), []string{keyMerges, "entry 1", `"Hello"`}},
		{"add_bos without BOS", bpe.with(keyPre, "glm4").with(keyBOS, nil).with(keyAddBOS, true), []string{keyAddBOS, keyBOS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := New(tt.md)
			if err == nil {
				t.Fatalf("New succeeded with %d tokens, want an error", tok.VocabSize())
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestNewWithoutTokenTypes(t *testing.T) {
	tests := []struct {
		name string
		md   mapMetadata
	}{
		{"bpe", bpeMetadata().with(keyTokenTypes, nil)},
		{"spm", spmMetadata().with(keyTokenTypes, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustNew(t, tt.md)
			ids, err := tok.Encode("Hello world", true)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			text, err := tok.Decode(ids)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !strings.HasSuffix(text, "Hello world") {
				t.Errorf("Decode(Encode(\"Hello world\")) = %q", text)
			}
			if eos := tok.EOS(); !tok.IsEOG(eos) {
				t.Errorf("IsEOG(EOS %d) = false", eos)
			}
		})
	}
}

func TestNewSPMWithoutScores(t *testing.T) {
	tok := mustNew(t, spmMetadata().with(keyScores, nil))
	if _, err := tok.Encode("Hello world", false); err != nil {
		t.Fatalf("Encode: %v", err)
	}
}

func TestBOSDefaults(t *testing.T) {
	tests := []struct {
		name    string
		md      mapMetadata
		wantBOS int32
		wantAdd bool
	}{
		{"spm adds BOS", spmMetadata(), 1, true},
		{"spm with add_bos false", spmMetadata().with(keyAddBOS, false), 1, false},
		{"gpt-2 does not add BOS", bpeMetadata(), bpeEndOfText, false},
		{"gpt-2 with add_bos true", bpeMetadata().with(keyAddBOS, true), bpeEndOfText, true},
		{"llama-bpe adds BOS", bpeMetadata().with(keyPre, "llama-bpe"), bpeEndOfText, true},
		{"gpt-2 default BOS id", bpeMetadata().with(keyBOS, nil), 11, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustNew(t, tt.md)
			if got := tok.BOS(); got != tt.wantBOS {
				t.Errorf("BOS() = %d, want %d", got, tt.wantBOS)
			}
			if got := tok.AddBOS(); got != tt.wantAdd {
				t.Errorf("AddBOS() = %v, want %v", got, tt.wantAdd)
			}
			if tok.AddEOS() {
				t.Error("AddEOS() = true, want false")
			}

			ids, err := tok.Encode("Hello", true)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if got := len(ids) > 0 && ids[0] == tt.wantBOS; got != tt.wantAdd {
				t.Errorf("Encode(\"Hello\", true) = %v; starts with BOS %v, want %v", ids, got, tt.wantAdd)
			}
		})
	}
}

func TestEncodeAddsEOS(t *testing.T) {
	tok := mustNew(t, spmMetadata().with(keyAddEOS, true))
	ids, err := tok.Encode("Hello", true)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if ids[len(ids)-1] != tok.EOS() {
		t.Errorf("Encode(\"Hello\", true) = %v, want EOS %d last", ids, tok.EOS())
	}
}

func TestEncodeEmpty(t *testing.T) {
	tok := mustNew(t, spmMetadata())
	ids, err := tok.Encode("", false)
	if err != nil || len(ids) != 0 {
		t.Errorf("Encode(\"\", false) = %v, %v; want no ids", ids, err)
	}
	ids, err = tok.Encode("", true)
	if err != nil || !slices.Equal(ids, []int32{1}) {
		t.Errorf("Encode(\"\", true) = %v, %v; want [1]", ids, err)
	}
}

func TestEncodeRejectsInvalidUTF8(t *testing.T) {
	tok := mustNew(t, bpeMetadata())
	_, err := tok.Encode("ok\xffno", false)
	if err == nil || !strings.Contains(err.Error(), "offset 2") {
		t.Errorf("Encode(invalid UTF-8) error = %v, want one naming offset 2", err)
	}
}

func TestInvalidIDs(t *testing.T) {
	tok := mustNew(t, bpeMetadata())
	size := int32(tok.VocabSize())
	for _, id := range []int32{-1, size, size + 1000} {
		want := []string{fmt.Sprint(id), fmt.Sprint(size)}

		_, err := tok.Decode([]int32{0, id})
		checkErr(t, "Decode", err, want)

		_, err = tok.Piece(id)
		checkErr(t, "Piece", err, want)

		_, err = tok.Pieces([]int32{id})
		checkErr(t, "Pieces", err, want)
	}
}

func checkErr(t *testing.T, op string, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded, want an error", op)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s error %q does not mention %s", op, err, w)
		}
	}
}

func TestBPEEncodeAndPieces(t *testing.T) {
	tok := mustNew(t, bpeMetadata())
	ids, err := tok.Encode("Hello world", false)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	pieces, err := tok.Pieces(ids)
	if err != nil {
		t.Fatalf("Pieces: %v", err)
	}
	if want := []string{"Hello", " world"}; !slices.Equal(pieces, want) {
		t.Errorf("Pieces(Encode(\"Hello world\")) = %q, want %q", pieces, want)
	}

	raw, err := tok.Piece(ids[1])
	if err != nil {
		t.Fatalf("Piece: %v", err)
	}
	if raw != "Ġworld" {
		t.Errorf("Piece(%d) = %q, want %q", ids[1], raw, "Ġworld")
	}
}

func TestDecodeByteLevelControlBytes(t *testing.T) {
	// ollama's own BPE decoder drops the NUL byte.
	tok := mustNew(t, bpeMetadata())
	text := "a\x00b\x7f\u00a0\u00ad\n"
	ids, err := tok.Encode(text, false)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	got, err := tok.Decode(ids)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got != text {
		t.Errorf("Decode(Encode(%q)) = %q", text, got)
	}
}

func TestSPMSpacePrefix(t *testing.T) {
	tok := mustNew(t, spmMetadata())
	ids, err := tok.Encode("Hello world", false)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	pieces, _ := tok.Pieces(ids)
	if want := []string{" Hello", " world"}; !slices.Equal(pieces, want) {
		t.Errorf("Pieces(Encode(\"Hello world\")) = %q, want %q", pieces, want)
	}
	text, _ := tok.Decode(ids)
	if text != "Hello world" {
		t.Errorf("Decode = %q, want %q", text, "Hello world")
	}

	tok = mustNew(t, spmMetadata().with(keyAddSpacePrefix, false))
	ids, _ = tok.Encode("Hello", false)
	pieces, _ = tok.Pieces(ids)
	if slices.Contains(pieces, " Hello") {
		t.Errorf("with add_space_prefix false, Encode(\"Hello\") gave pieces %q", pieces)
	}
}

func TestSPMByteFallback(t *testing.T) {
	tok := mustNew(t, spmMetadata())
	ids, err := tok.Encode("Hi\n", false)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	pieces, _ := tok.Pieces(ids)
	if want := []string{" H", "i", "\n"}; !slices.Equal(pieces, want) {
		t.Errorf("Pieces(Encode(\"Hi\\n\")) = %q, want %q", pieces, want)
	}
	text, _ := tok.Decode(ids)
	if text != "Hi\n" {
		t.Errorf("Decode = %q, want %q", text, "Hi\n")
	}
}

func TestSpecialTokens(t *testing.T) {
	tok := mustNew(t, bpeMetadata())
	tests := []struct {
		name    string
		text    string
		special bool
		want    []int32 // special ids expected in order; text ids are skipped
	}{
		{"control as text", "Hello<|im_start|>world", false, nil},
		{"control parsed", "Hello<|im_start|>world", true, []int32{bpeImStart}},
		{"user-defined always split", "Hello<think>world", false, []int32{bpeThink}},
		{"end of text parsed", "<|endoftext|>Hello<|endoftext|>", true, []int32{bpeEndOfText, bpeEndOfText}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encode := tok.Encode
			if tt.special {
				encode = tok.EncodeSpecial
			}
			ids, err := encode(tt.text, false)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			var got []int32
			for _, id := range ids {
				if id >= bpeEndOfText && id <= bpeThink {
					got = append(got, id)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("special ids in %v = %v, want %v", ids, got, tt.want)
			}
			text, err := tok.Decode(ids)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if text != tt.text {
				t.Errorf("Decode(Encode(%q)) = %q", tt.text, text)
			}
		})
	}
}

func TestSPMSpacePrefixAfterSpecial(t *testing.T) {
	// llama.cpp prefixes a space to text that follows a special token.
	tok := mustNew(t, spmMetadata())
	ids, err := tok.Encode("Hello<sep>world", false)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	pieces, _ := tok.Pieces(ids)
	if want := []string{" Hello", "<sep>", " world"}; !slices.Equal(pieces, want) {
		t.Errorf("Pieces = %q, want %q", pieces, want)
	}
}

func TestPhi3StripsSpaceAfterSpecial(t *testing.T) {
	md := spmMetadata().with(keyName, "Phi3")
	tok := mustNew(t, md)
	ids, err := tok.Encode("Hello<sep>  world", false)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	pieces, _ := tok.Pieces(ids)
	if want := []string{" Hello", "<sep>", " world"}; !slices.Equal(pieces, want) {
		t.Errorf("Pieces = %q, want %q", pieces, want)
	}
}

func TestIsEOG(t *testing.T) {
	md := bpeMetadata()
	tokens := append(slices.Clone(md[keyTokens].([]string)), "<|im_end|>")
	types := append(slices.Clone(md[keyTokenTypes].([]int32)), 4)
	tok := mustNew(t, md.with(keyTokens, tokens).with(keyTokenTypes, types))

	imEnd := int32(len(tokens) - 1)
	for _, id := range []int32{bpeEndOfText, imEnd} {
		if !tok.IsEOG(id) {
			t.Errorf("IsEOG(%d %q) = false, want true", id, tokens[id])
		}
	}
	for _, id := range []int32{bpeImStart, bpeThink, 0, -1, int32(len(tokens))} {
		if tok.IsEOG(id) {
			t.Errorf("IsEOG(%d) = true, want false", id)
		}
	}

	// "<|im_end|>" is user-defined in the file but a control token for
	// llama.cpp, so Encode leaves its text alone.
	ids, _ := tok.Encode("<|im_end|>", false)
	if slices.Contains(ids, imEnd) {
		t.Errorf("Encode(\"<|im_end|>\", false) = %v, want the text encoded as text", ids)
	}
}

func TestPreTokenizers(t *testing.T) {
	// A complete byte-level vocabulary encodes any text losslessly, so a
	// pattern that drops or repeats text shows up in the round trip.
	text := "Hello, world! It's 2024: 12345 apples\t\t cost $3.50...\n\n  naïve 東京 🦙 ''' end "
	for _, name := range append(knownPreTokenizers(), "") {
		t.Run(name, func(t *testing.T) {
			md := bpeMetadata().with(keyPre, name)
			if name == "" {
				md = md.with(keyPre, nil)
			}
			tok := mustNew(t, md)
			ids, err := tok.Encode(text, false)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := tok.Decode(ids)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != text {
				t.Errorf("Decode(Encode(text)) = %q, want %q", got, text)
			}
		})
	}
}

func TestPreTokenizerSplits(t *testing.T) {
	tests := []struct {
		pre  string
		text string
		want []string
	}{
		{"gpt-2", "Hello world", []string{"Hello", " world"}},
		{"gpt-2", "a  b", []string{"a", " ", " b"}},
		{"gpt-2", "x\u00a0\u3000y", []string{"x", "\u00a0", "\u3000", "y"}},
		{"default", "Hello, world!", []string{"Hello", ",", " world", "!"}},
		{"default", "12345", []string{"123", "45"}},
		{"starcoder", "a 123", []string{"a", " ", "1", "2", "3"}},
		{"llama-bpe", "12345 it's", []string{"123", "45", " it", "'s"}},
		{"qwen2", "12345", []string{"1", "2", "3", "4", "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.pre+" "+tt.text, func(t *testing.T) {
			p := preTokenizers[tt.pre]
			got := []string{tt.text}
			for _, pattern := range p.ollamaPatterns() {
				got = splitWith(t, pattern, got)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("pieces = %q, want %q", got, tt.want)
			}
		})
	}
}

// splitWith splits each piece at the matches of pattern, which covers all
// text, as ollama's pre-tokenizer does.
func splitWith(t *testing.T, pattern string, pieces []string) []string {
	t.Helper()
	re, err := regexp2.Compile(pattern, regexp2.RE2)
	if err != nil {
		t.Fatalf("compiling %q: %v", pattern, err)
	}
	var out []string
	for _, piece := range pieces {
		m, err := re.FindStringMatch(piece)
		for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
			out = append(out, m.String())
		}
		if err != nil {
			t.Fatalf("matching %q: %v", piece, err)
		}
	}
	return out
}

func TestExpandWhitespace(t *testing.T) {
	tests := []struct{ in, want string }{
		{`\s+`, "[" + whiteSpace + "]+"},
		{`(?!\S)`, "(?![^" + whiteSpace + "])"},
		{`[^\s\p{L}]`, "[^" + whiteSpace + `\p{L}]`},
		{`[]\s]`, "[]" + whiteSpace + "]"},
		{`\\s`, `\\s`},
	}
	for _, tt := range tests {
		if got := expandWhitespace(tt.in); got != tt.want {
			t.Errorf("expandWhitespace(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCallOllamaRecoversPanic(t *testing.T) {
	err := callOllama("testing", func() error {
		var s []int32
		_ = s[3]
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("callOllama error = %v, want a recovered panic", err)
	}
}

func TestEncodeConcurrent(t *testing.T) {
	tok := mustNew(t, bpeMetadata())
	text := "Hello world, Hello<think>world"
	want, err := tok.Encode(text, true)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}

	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				got, err := tok.Encode(text, true)
				if err == nil && !slices.Equal(got, want) {
					err = fmt.Errorf("concurrent Encode = %v, want %v", got, want)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
