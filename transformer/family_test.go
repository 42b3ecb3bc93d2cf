package transformer

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/interp-go/interp/gguf"
	"github.com/interp-go/interp/transformer/tokenizer"
)

// Tests shared by the Llama-family architectures (qwen2, qwen3, phi3,
// gemma2 and llama files with Mistral's settings). Each architecture's own
// checks are in its _test.go file; logits and hook traces are checked
// against goldens in reference_test.go.

// vocabDirs lists the folders searched for llama.cpp's vocab-only GGUF
// files: ../shared/models/vocab, then the models folder of a llama.cpp
// checkout named by LLAMA_CPP_DIR, which has the Qwen 2 and Llama 3
// vocabularies that the shared folder lacks.
func vocabDirs() []string {
	dirs := []string{filepath.Join("..", "..", "shared", "models", "vocab")}
	if dir := os.Getenv("LLAMA_CPP_DIR"); dir != "" {
		dirs = append(dirs, filepath.Join(dir, "models"))
	}
	return dirs
}

// findVocab returns the path of a vocab-only file, skipping the test when
// no folder of vocabDirs has it.
func findVocab(t *testing.T, name string) string {
	t.Helper()
	dirs := vocabDirs()
	for _, dir := range dirs {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	t.Skipf("skipping: %s not found in %v (set LLAMA_CPP_DIR to a llama.cpp checkout to use its models folder)", name, dirs)
	return ""
}

// overriddenMetadata is a GGUF file's metadata with some boolean keys
// replaced, as a tokenizer.Metadata.
type overriddenMetadata struct {
	*gguf.File
	bools map[string]bool
}

func (m overriddenMetadata) Value(key string) (any, bool) {
	if v, ok := m.bools[key]; ok {
		return v, true
	}
	return m.File.Value(key)
}

func (m overriddenMetadata) Bool(key string) (bool, bool) {
	if v, ok := m.bools[key]; ok {
		return v, true
	}
	return m.File.Bool(key)
}

// tokenizerGolden is a file written by testdata/reference/tokenizer_goldens.py.
type tokenizerGolden struct {
	Vocab     string          `json:"vocab"`
	Overrides map[string]bool `json:"overrides"`
	Texts     []string        `json:"texts"`
	IDs       [][]int32       `json:"ids"`
}

func TestTokenizerMatchesLlamaCpp(t *testing.T) {
	for _, tc := range []struct {
		name  string // golden tokenizer-NAME.llamacpp.json
		archs string // the architectures that use this tokenizer
	}{
		{"qwen2", "qwen2, qwen3"},
		{"phi-3", "phi3"},
		{"llama-bpe", "llama (Llama 3)"},
		{"gemma-spm", "gemma2 (Llama 2's vocabulary with Gemma's add_space_prefix = false)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g tokenizerGolden
			readJSON(t, filepath.Join("..", "testdata", "reference", "golden", "tokenizer-"+tc.name+".llamacpp.json"), &g)
			f, err := gguf.Open(findVocab(t, g.Vocab))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tok, err := tokenizer.New(overriddenMetadata{f, g.Overrides})
			if err != nil {
				t.Fatalf("tokenizer for %s: %v", tc.archs, err)
			}

			for i, text := range g.Texts {
				got, err := tok.Encode(text, false)
				if err != nil {
					t.Errorf("Encode(%q): %v", text, err)
					continue
				}
				if !slices.Equal(got, g.IDs[i]) {
					t.Errorf("Encode(%q) = %v, llama.cpp gives %v", text, got, g.IDs[i])
				}
			}
		})
	}
}

// fixtureEdit changes a copy of a fixture: metadata keys to set (a nil
// value removes the key), tensors to drop, and F32 vectors to add.
type fixtureEdit struct {
	set  map[string]any
	drop []string
	add  map[string][]float32
}

// editFixture writes the edited copy of a committed fixture to a temporary
// file and returns its path.
func editFixture(t *testing.T, name string, e fixtureEdit) string {
	t.Helper()
	f, err := gguf.Open(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	w := gguf.NewWriter()
	for _, kv := range f.KV {
		value, edited := e.set[kv.Key]
		switch {
		case edited && value == nil:
			continue
		case !edited:
			value = kv.Value
		}
		if err := w.Add(kv.Key, value); err != nil {
			t.Fatal(err)
		}
	}
	for key, value := range e.set {
		if _, present := f.Value(key); !present && value != nil {
			if err := w.Add(key, value); err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, ti := range f.Tensors {
		if slices.Contains(e.drop, ti.Name) {
			continue
		}
		data, err := f.TensorBytes(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
			t.Fatal(err)
		}
	}
	for name, values := range e.add {
		if err := w.AddFloat32(name, gguf.TypeF32, []uint64{uint64(len(values))}, values); err != nil {
			t.Fatal(err)
		}
	}

	path := filepath.Join(t.TempDir(), "edited-"+name)
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadError returns the error Load gives for path, failing the test when
// Load succeeds.
func loadError(t *testing.T, path string) error {
	t.Helper()
	m, err := Load(path)
	if err == nil {
		m.Close()
		t.Fatalf("Load(%s) succeeded, want an error", path)
	}
	return err
}
