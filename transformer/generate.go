package transformer

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// GenerateOptions configures sampling. The zero value decodes greedily.
type GenerateOptions struct {
	MaxTokens   int     // new tokens at most; 0 means until EOS or the context is full
	Temperature float64 // 0 picks the most likely token (greedy)
	TopK        int     // keep the K most likely tokens; 0 keeps all
	TopP        float64 // keep the smallest set of tokens whose probability reaches P; 0 or 1 keeps all
	Seed        uint64  // seed of the sampler's random numbers
	Options     *Options
}

// Generate continues prompt token by token with the KV cache and returns the
// new tokens, stopping after an end-of-generation token (included in the
// result) or MaxTokens tokens, or when the context is full.
func (m *Model) Generate(prompt []int32, g GenerateOptions) ([]int32, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("transformer: generation needs at least one prompt token")
	}
	if len(prompt) > m.NCtx {
		return nil, fmt.Errorf("transformer: prompt of %d tokens exceeds the context length %d", len(prompt), m.NCtx)
	}
	if err := g.check(); err != nil {
		return nil, err
	}
	limit := m.NCtx - len(prompt)
	if g.MaxTokens > 0 {
		limit = min(limit, g.MaxTokens)
	}
	st, err := m.NewState(1, len(prompt)+limit)
	if err != nil {
		return nil, err
	}
	opts := Options{}
	if g.Options != nil {
		opts = *g.Options
	}
	opts.Logits = LastLogits
	rng := rand.New(rand.NewPCG(g.Seed, 0x696e74657270)) // second word: "interp" in ASCII

	var out []int32
	next := prompt
	for len(out) < limit {
		res, err := m.Forward(st, Input{Tokens: [][]int32{next}}, &opts)
		if err != nil {
			return out, err
		}
		logits := res.Row(0, 0)
		if slices.ContainsFunc(logits, func(v float32) bool { return v != v }) {
			return out, fmt.Errorf("transformer: the logits after %d generated tokens contain NaN, so the next token is undefined; the weights or a hook produced NaN", len(out))
		}
		id := sample(logits, g, rng)
		out = append(out, id)
		if m.Tokenizer.IsEOG(id) {
			break
		}
		next = []int32{id}
	}
	return out, nil
}

// check rejects settings that would make sampling meaningless, such as a
// NaN temperature, which would turn every probability into NaN.
func (g GenerateOptions) check() error {
	switch {
	case g.MaxTokens < 0:
		return fmt.Errorf("transformer: max tokens %d must not be negative (0 means until EOS or a full context)", g.MaxTokens)
	case !(g.Temperature >= 0) || math.IsInf(g.Temperature, 1):
		return fmt.Errorf("transformer: temperature %g must be a finite number ≥ 0", g.Temperature)
	case g.TopK < 0:
		return fmt.Errorf("transformer: top-k %d must not be negative", g.TopK)
	case !(g.TopP >= 0 && g.TopP <= 1):
		return fmt.Errorf("transformer: top-p %g must be in [0, 1]", g.TopP)
	}
	return nil
}

// sample picks a token from logits: greedily at temperature 0, otherwise
// after top-k, top-p and temperature, in that order as llama.cpp's default
// sampler chain applies them.
func sample(logits []float32, g GenerateOptions, rng *rand.Rand) int32 {
	if g.Temperature <= 0 {
		return argmax(logits)
	}
	type cand struct {
		id    int32
		logit float32
	}
	cands := make([]cand, len(logits))
	for i, l := range logits {
		cands[i] = cand{int32(i), l}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(b.logit, a.logit) })
	if g.TopK > 0 && g.TopK < len(cands) {
		cands = cands[:g.TopK]
	}

	probs := make([]float64, len(cands))
	softmax := func(temp float64) {
		var sum float64
		for i, c := range cands {
			probs[i] = math.Exp(float64(c.logit-cands[0].logit) / temp)
			sum += probs[i]
		}
		for i := range probs {
			probs[i] /= sum
		}
	}
	if g.TopP > 0 && g.TopP < 1 {
		softmax(1)
		var cum float64
		for i, p := range probs {
			cum += p
			if cum >= g.TopP {
				cands, probs = cands[:i+1], probs[:i+1]
				break
			}
		}
	}
	softmax(g.Temperature)

	u := rng.Float64()
	for i, p := range probs {
		u -= p
		if u < 0 {
			return cands[i].id
		}
	}
	return cands[len(cands)-1].id
}

// argmax returns the index of the largest logit, the lowest index on ties.
func argmax(logits []float32) int32 {
	best := 0
	for i, l := range logits {
		if l > logits[best] {
			best = i
		}
	}
	return int32(best)
}
