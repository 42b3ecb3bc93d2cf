package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/interp-go/interp/gguf"
)

func TestTokenizeJSON(t *testing.T) {
	requireFile(t, llamaTiny)
	// The ids are llama.cpp's: for GPT-2 from testdata/demo.json, for
	// Llama-2 from llama.cpp's test vectors of ggml-vocab-llama-spm.gguf.
	// The SentencePiece vocabulary adds BOS (id 1) unless --no-bos.
	tests := []struct {
		name       string
		args       []string
		wantIDs    []int32
		wantPieces []string
	}{
		{"gpt2", []string{"When Mary and John"}, []int32{2215, 5335, 290, 1757}, []string{"When", " Mary", " and", " John"}},
		{"gpt2 no-bos changes nothing", []string{"--no-bos", "When Mary"}, []int32{2215, 5335}, []string{"When", " Mary"}},
		{"llama adds BOS", []string{"--model", llamaTiny, "Hello world"}, []int32{1, 15043, 3186}, []string{"<s>", " Hello", " world"}},
		{"llama no-bos", []string{"--model", llamaTiny, "--no-bos", "Hello world"}, []int32{15043, 3186}, []string{" Hello", " world"}},
		{"empty text", []string{""}, []int32{}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got tokenizeResult
			mustRunJSON(t, &got, append([]string{"tokenize"}, tc.args...)...)
			if !slices.Equal(got.IDs, tc.wantIDs) {
				t.Errorf("ids = %v, want %v", got.IDs, tc.wantIDs)
			}
			if !slices.Equal(got.Pieces, tc.wantPieces) {
				t.Errorf("pieces = %q, want %q", got.Pieces, tc.wantPieces)
			}
		})
	}
}

func TestTokenizeEmptyTextIsJSONArray(t *testing.T) {
	out := mustRun(t, "tokenize", "--json", "")
	if out != `{"ids":[],"pieces":[]}`+"\n" {
		t.Errorf("output = %q, want empty arrays rather than null", out)
	}
}

// TestTokenizeVocabularyOnlyFile tokenizes with llama.cpp's Llama-2
// vocabulary file, which has no tensors: the ids are those of its test
// vectors, as for llama-tiny above.
func TestTokenizeVocabularyOnlyFile(t *testing.T) {
	vocab := filepath.Join("..", "..", "..", "shared", "models", "vocab", "ggml-vocab-llama-spm.gguf")
	if _, err := os.Stat(vocab); err != nil {
		t.Skipf("skipping: %s not found (../shared/models is only present in CI and development checkouts)", vocab)
	}
	var got tokenizeResult
	mustRunJSON(t, &got, "tokenize", "--model", vocab, "Hello world")
	if want := []int32{1, 15043, 3186}; !slices.Equal(got.IDs, want) {
		t.Errorf("ids = %v, want %v", got.IDs, want)
	}
}

// TestModelCommandsRejectVocabularyOnlyFile checks that commands that run
// the model name the missing tensors of a GGUF file without any.
func TestModelCommandsRejectVocabularyOnlyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	w := gguf.NewWriter()
	if err := w.Add("general.architecture", "gpt2"); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"inspect", "--model", path},
		{"logits", "--model", path, "--prompt", "Hi"},
	} {
		_, _, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), "has no tensors") {
			t.Errorf("%v: error %v, want one saying the file has no tensors", args, err)
		}
	}
}
