package interp

import (
	"fmt"
	"math"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// ChoiceItem is a multiple-choice item as token ids: a prompt, the tokens
// that each option appends to it, and the index of the correct option.
type ChoiceItem struct {
	Prompt  []int32
	Options [][]int32
	Answer  int
}

// ChoiceScore is the model's verdict on one item.
type ChoiceScore struct {
	// LogLikelihoods holds, per option, the sum of the natural-log
	// probabilities of its tokens after the prompt.
	LogLikelihoods []float64 `json:"log_likelihoods"`
	// Choice is the option of highest log-likelihood, the first on ties.
	Choice  int  `json:"choice"`
	Correct bool `json:"correct"`
}

// ChoiceResult is the outcome of EvaluateChoices.
type ChoiceResult struct {
	Accuracy float64       `json:"accuracy"` // fraction of items answered correctly
	Correct  int           `json:"correct"`
	Items    []ChoiceScore `json:"items"`
}

// EvaluateChoices scores multiple-choice items by option likelihood, as
// AUSteer evaluates BoolQ- and COPA-style tasks: the model's answer is the
// option whose tokens have the highest total log-probability after the
// prompt. h, if not nil, holds forward hooks applied to every run, such as
// a steering vector. progress, if not nil, is called after each item.
func EvaluateChoices(m *transformer.Model, items []ChoiceItem, h *hooks.Hooks, progress func(done, total int)) (*ChoiceResult, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("interp: no multiple-choice items")
	}
	res := &ChoiceResult{Items: make([]ChoiceScore, len(items))}
	for i, item := range items {
		if err := item.validate(m); err != nil {
			return nil, fmt.Errorf("interp: item %d: %w", i+1, err)
		}
		score := ChoiceScore{LogLikelihoods: make([]float64, len(item.Options))}
		for o, option := range item.Options {
			ll, err := optionLogLikelihood(m, item.Prompt, option, h)
			if err != nil {
				return nil, fmt.Errorf("interp: item %d, option %d: %w", i+1, o, err)
			}
			score.LogLikelihoods[o] = ll
			if ll > score.LogLikelihoods[score.Choice] {
				score.Choice = o
			}
		}
		score.Correct = score.Choice == item.Answer
		if score.Correct {
			res.Correct++
		}
		res.Items[i] = score
		if progress != nil {
			progress(i+1, len(items))
		}
	}
	res.Accuracy = float64(res.Correct) / float64(len(items))
	return res, nil
}

// validate checks an item's shape and lengths against the model.
func (c ChoiceItem) validate(m *transformer.Model) error {
	if len(c.Prompt) == 0 {
		return fmt.Errorf("prompt has no tokens")
	}
	if len(c.Options) < 2 {
		return fmt.Errorf("%d options; give at least 2", len(c.Options))
	}
	if c.Answer < 0 || c.Answer >= len(c.Options) {
		return fmt.Errorf("answer index %d out of range [0, %d)", c.Answer, len(c.Options))
	}
	for o, option := range c.Options {
		if len(option) == 0 {
			return fmt.Errorf("option %d has no tokens", o)
		}
		if n := len(c.Prompt) + len(option); n > m.NCtx {
			return fmt.Errorf("prompt and option %d have %d tokens, more than the context length %d", o, n, m.NCtx)
		}
	}
	return nil
}

// optionLogLikelihood returns Σ log p(option[k] | prompt, option[:k]).
func optionLogLikelihood(m *transformer.Model, prompt, option []int32, h *hooks.Hooks) (float64, error) {
	ids := append(append([]int32(nil), prompt...), option...)
	out, err := m.Run(ids, &transformer.Options{Hooks: h, Logits: transformer.AllLogits})
	if err != nil {
		return 0, err
	}
	total := 0.0
	for k, id := range option {
		total += logProb(out.Row(0, len(prompt)+k-1), id)
	}
	return total, nil
}

// logProb returns log softmax(logits)[id], computed in float64.
func logProb(logits []float32, id int32) float64 {
	peak := math.Inf(-1)
	for _, l := range logits {
		peak = math.Max(peak, float64(l))
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l) - peak)
	}
	return float64(logits[id]) - peak - math.Log(sum)
}
