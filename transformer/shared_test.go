package transformer

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// llamacppGolden is a golden made by testdata/reference/shared_models.py.
type llamacppGolden struct {
	Prompt    string      `json:"prompt"`
	IDs       []int32     `json:"ids"`
	Logits    [][]float32 `json:"logits"`
	GreedyIDs []int32     `json:"greedy_ids"`
}

func TestStories260KLogitsMatchLlamaCpp(t *testing.T) {
	m := loadModel(t, sharedModel(t, "stories260K.gguf"))
	var g llamacppGolden
	readJSON(t, "../testdata/reference/golden/shared-stories260K.llamacpp.json", &g)

	ids, err := m.Tokenizer.Encode(g.Prompt, true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, g.IDs) {
		t.Fatalf("tokens of %q = %v, llama.cpp gives %v", g.Prompt, ids, g.IDs)
	}
	out, err := m.Run(ids, &Options{Logits: AllLogits})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range g.Logits {
		if d, at := maxAbsDiff(out.Row(0, i), want); d > 1e-3 {
			t.Errorf("position %d: max |Δlogit| = %.2g at token %d, want ≤ 1e-3", i, d, at)
		}
	}
}

func TestStories260KGreedyMatchesLlamaCpp(t *testing.T) {
	m := loadModel(t, sharedModel(t, "stories260K.gguf"))
	want, err := os.ReadFile(sharedModel(t, "stories260K.llamacpp-greedy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := m.Tokenizer.Encode("Once upon a time", true)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := m.Generate(ids, GenerateOptions{MaxTokens: 64})
	if err != nil {
		t.Fatal(err)
	}
	text, err := m.Tokenizer.Decode(append(ids[1:], gen...))
	if err != nil {
		t.Fatal(err)
	}
	// The file is llama-simple's output: the prompt and continuation, with
	// the BOS piece printed first.
	wantText := strings.TrimPrefix(string(want), "<s>")
	wantText = strings.TrimPrefix(wantText, " ")
	if strings.TrimSpace(text) != strings.TrimSpace(wantText) {
		t.Errorf("greedy text differs from llama.cpp's\n got: %q\nwant: %q", text, wantText)
	}
}
