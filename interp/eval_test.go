package interp

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/interp-go/interp/hooks"
)

// evalGolden is testdata/steering/llama-tiny.eval.llamacpp.json, written by
// testdata/reference/steering.py: llama.cpp's option log-likelihoods for
// testdata/steering/eval.jsonl without and with a control vector.
type evalGolden struct {
	ControlVectors []struct {
		Path     string  `json:"path"`
		Strength float64 `json:"strength"`
	} `json:"control_vectors"`
	Items []struct {
		PromptIDs []int32   `json:"prompt_ids"`
		OptionIDs [][]int32 `json:"option_ids"`
		Answer    int       `json:"answer"`
		Unsteered []float64 `json:"unsteered"`
		Steered   []float64 `json:"steered"`
	} `json:"items"`
}

func TestEvaluateChoicesMatchesLlamaCpp(t *testing.T) {
	data, err := os.ReadFile(steeringData("llama-tiny.eval.llamacpp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g evalGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	m := loadFixture(t, "llama-tiny.gguf")
	var files []ControlVectorFile
	for _, cv := range g.ControlVectors {
		files = append(files, ControlVectorFile{steeringData(cv.Path), cv.Strength})
	}
	v, err := LoadControlVectors(m, files)
	if err != nil {
		t.Fatal(err)
	}
	h := &hooks.Hooks{}
	v.Attach(h, 1)

	items := make([]ChoiceItem, len(g.Items))
	for i, it := range g.Items {
		items[i] = ChoiceItem{Prompt: it.PromptIDs, Options: it.OptionIDs, Answer: it.Answer}
	}
	for _, steered := range []bool{false, true} {
		var hk *hooks.Hooks
		if steered {
			hk = h
		}
		res, err := EvaluateChoices(m, items, hk, nil)
		if err != nil {
			t.Fatal(err)
		}
		correct, worst := 0, 0.0
		for i, score := range res.Items {
			want := g.Items[i].Unsteered
			if steered {
				want = g.Items[i].Steered
			}
			best := 0
			for o, w := range want {
				d := math.Abs(score.LogLikelihoods[o] - w)
				worst = math.Max(worst, d)
				if d > 1e-3 {
					t.Errorf("steered %v, item %d, option %d: log-likelihood %.5f, llama.cpp %.5f", steered, i, o, score.LogLikelihoods[o], w)
				}
				if w > want[best] {
					best = o
				}
			}
			if score.Choice != best {
				t.Errorf("steered %v, item %d: choice %d, llama.cpp's likelihoods pick %d", steered, i, score.Choice, best)
			}
			if best == items[i].Answer {
				correct++
			}
		}
		t.Logf("steered %v: max |Δ| to llama.cpp's log-likelihoods %.2g", steered, worst)
		if res.Correct != correct || res.Accuracy != float64(correct)/float64(len(items)) {
			t.Errorf("steered %v: %d correct, accuracy %g; want %d of %d", steered, res.Correct, res.Accuracy, correct, len(items))
		}
	}
}

func TestEvaluateChoicesRejects(t *testing.T) {
	m := loadFixture(t, "llama-tiny.gguf")
	tests := []struct {
		name string
		item ChoiceItem
		want string
	}{
		{"one option", ChoiceItem{Prompt: []int32{1}, Options: [][]int32{{2}}}, "1 options"},
		{"answer out of range", ChoiceItem{Prompt: []int32{1}, Options: [][]int32{{2}, {3}}, Answer: 2}, "answer index 2"},
		{"empty option", ChoiceItem{Prompt: []int32{1}, Options: [][]int32{{2}, {}}}, "option 1 has no tokens"},
		{"empty prompt", ChoiceItem{Options: [][]int32{{2}, {3}}}, "prompt has no tokens"},
		{"too long", ChoiceItem{Prompt: make([]int32, m.NCtx), Options: [][]int32{{2}, {3}}}, "more than the context length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EvaluateChoices(m, []ChoiceItem{tc.item}, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
