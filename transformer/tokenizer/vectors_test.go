package tokenizer

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/interp-go/interp/gguf"
)

var _ Metadata = (*gguf.File)(nil)

// vocabDir holds llama.cpp's tokenizer test vocabularies (models/ggml-vocab-*
// in the llama.cpp repository) with their .inp and .out vectors.
var vocabDir = filepath.Join("..", "..", "..", "shared", "models", "vocab")

// openVocab builds a Tokenizer from vocabDir/name, skipping the test when
// the file is absent.
func openVocab(t *testing.T, name string) *Tokenizer {
	t.Helper()
	path := filepath.Join(vocabDir, name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("llama.cpp test vocabulary %s not available: %v", path, err)
	}

	f, err := gguf.Open(path)
	if err != nil {
		t.Fatalf("gguf.Open: %v", err)
	}
	defer f.Close()

	tok, err := New(f)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	return tok
}

// vectorCase is one test string with the ids llama.cpp produced for it.
type vectorCase struct {
	text string
	want []int32
}

// readVectors reads a .inp/.out pair the way llama.cpp's
// tests/test-tokenizer-0.cpp does. The inputs are separated by the line
// "__ggml_vocab_test__", whose surrounding newlines belong to the separator,
// so an input keeps no trailing newline. Each .out line holds the expected
// ids, separated by spaces, without BOS.
func readVectors(t *testing.T, name string) []vectorCase {
	t.Helper()
	inp, err := os.ReadFile(filepath.Join(vocabDir, name+".inp"))
	if err != nil {
		t.Skipf("test vectors for %s not available: %v", name, err)
	}
	out, err := os.ReadFile(filepath.Join(vocabDir, name+".out"))
	if err != nil {
		t.Skipf("test vectors for %s not available: %v", name, err)
	}

	const separator = "\n__ggml_vocab_test__\n"
	var inputs []string
	raw := string(inp)
	for raw != "" {
		i := strings.Index(raw, separator)
		if i < 0 {
			inputs = append(inputs, raw)
			break
		}
		inputs = append(inputs, raw[:i])
		raw = raw[i+len(separator):]
	}

	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(inputs) {
		t.Fatalf("%s: %d inputs but %d output lines", name, len(inputs), len(lines))
	}

	cases := make([]vectorCase, len(inputs))
	for i, line := range lines {
		cases[i].text = inputs[i]
		for field := range strings.FieldsSeq(line) {
			id, err := strconv.ParseInt(field, 10, 32)
			if err != nil {
				t.Fatalf("%s.out line %d: %v", name, i+1, err)
			}
			cases[i].want = append(cases[i].want, int32(id))
		}
	}
	return cases
}

func TestVectors(t *testing.T) {
	for _, name := range []string{"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"} {
		t.Run(name, func(t *testing.T) {
			tok := openVocab(t, name)
			cases := readVectors(t, name)

			passed := 0
			for i, c := range cases {
				got, err := tok.Encode(c.text, false)
				if err != nil {
					t.Errorf("case %d %q: Encode: %v", i, c.text, err)
					continue
				}
				if !equalIDs(got, c.want) {
					t.Errorf("case %d %q:\n got %v\nwant %v", i, c.text, got, c.want)
					continue
				}
				passed++
			}
			t.Logf("%s: %d of %d vectors match llama.cpp", name, passed, len(cases))
		})
	}
}

func TestVectorsRoundTrip(t *testing.T) {
	for _, name := range []string{"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"} {
		t.Run(name, func(t *testing.T) {
			tok := openVocab(t, name)
			for i, c := range readVectors(t, name) {
				decoded, err := tok.Decode(c.want)
				if err != nil {
					t.Errorf("case %d: Decode: %v", i, err)
					continue
				}
				if decoded != c.text {
					t.Errorf("case %d: Decode(llama.cpp ids) = %q, want %q", i, decoded, c.text)
				}

				ids, err := tok.Encode(c.text, false)
				if err != nil {
					t.Errorf("case %d: Encode: %v", i, err)
					continue
				}
				decoded, err = tok.Decode(ids)
				if err != nil {
					t.Errorf("case %d: Decode: %v", i, err)
					continue
				}
				if decoded != c.text {
					t.Errorf("case %d: Decode(Encode(text)) = %q, want %q", i, decoded, c.text)
				}
			}
		})
	}
}

func TestVectorsWithSpecial(t *testing.T) {
	for _, name := range []string{"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"} {
		t.Run(name, func(t *testing.T) {
			tok := openVocab(t, name)
			for i, c := range readVectors(t, name) {
				got, err := tok.Encode(c.text, true)
				if err != nil {
					t.Fatalf("case %d: Encode: %v", i, err)
				}
				want := c.want
				if tok.AddBOS() {
					want = append([]int32{tok.BOS()}, want...)
				}
				if tok.AddEOS() {
					want = append(want, tok.EOS())
				}
				if !equalIDs(got, want) {
					t.Errorf("case %d %q: Encode(addSpecial) = %v, want %v", i, c.text, got, want)
				}
			}
		})
	}
}

func TestVocabFilesLoad(t *testing.T) {
	tests := []struct {
		name   string
		model  string
		addBOS bool
	}{
		{"ggml-vocab-gpt-2.gguf", ModelGPT2, false},
		{"ggml-vocab-llama-spm.gguf", ModelLlama, true},
		{"ggml-vocab-phi-3.gguf", ModelLlama, true},
		{"ggml-vocab-gpt-neox.gguf", ModelGPT2, false},
		{"ggml-vocab-starcoder.gguf", ModelGPT2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := openVocab(t, tt.name)
			if got := tok.Model(); got != tt.model {
				t.Errorf("Model() = %q, want %q", got, tt.model)
			}
			if got := tok.AddBOS(); got != tt.addBOS {
				t.Errorf("AddBOS() = %v, want %v", got, tt.addBOS)
			}

			ids, err := tok.Encode("Hello world", false)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if len(ids) == 0 {
				t.Fatal("Encode(\"Hello world\") returned no ids")
			}
			text, err := tok.Decode(ids)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if text != "Hello world" {
				t.Errorf("Decode(Encode(\"Hello world\")) = %q", text)
			}
		})
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
