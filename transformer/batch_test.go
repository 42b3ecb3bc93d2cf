package transformer

import (
	"fmt"
	"testing"
)

// fixtureModels lists the committed fixtures that batching and caching
// tests run on, one per architecture and weight layout.
var fixtureModels = []string{"gpt2-tiny.gguf", "llama-tiny.gguf", "llama-tiny-q8.gguf",
	"qwen2-tiny.gguf", "qwen3-tiny.gguf", "phi3-tiny.gguf", "gemma2-tiny.gguf", "mistral-tiny.gguf",
	"llama31-tiny.gguf"}

// loadFloatModel loads a fixture with NumericsFloat, for tests that compare
// runs of different shapes. Products of one row and of many rows sum in
// different orders (the few-row kernels differ from the packed product),
// which moves a value by about 1e-6. Where activations are rounded to F16
// or 8 bits before a product, such a difference can flip a rounding and
// move a logit by up to 1e-3 (3e-4 through gpt2-tiny's F16 unembedding on
// the AVX2 kernels). The comparison would then depend on the machine. In
// float numerics it stays at float32 rounding.
func loadFloatModel(t *testing.T, name string) *Model {
	t.Helper()
	m := loadModel(t, fixture(t, name))
	m.SetNumerics(NumericsFloat)
	return m
}

// testPrompts returns prompts of different lengths, as token ids with the
// tokenizer's BOS where the model adds one.
func testPrompts(t *testing.T, m *Model) [][]int32 {
	t.Helper()
	var out [][]int32
	for _, text := range []string{
		"The cat sat on the mat.",
		"Hello",
		"When Mary and John went to the store, John gave a drink to",
	} {
		ids, err := m.Tokenizer.Encode(text, true)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ids)
	}
	return out
}

func TestBatchMatchesSingle(t *testing.T) {
	for _, name := range fixtureModels {
		t.Run(name, func(t *testing.T) {
			m := loadFloatModel(t, name)
			prompts := testPrompts(t, m)
			batch, err := m.RunBatch(prompts, &Options{Logits: AllLogits})
			if err != nil {
				t.Fatal(err)
			}
			longest := batch.Logits.Shape[1]
			for b, ids := range prompts {
				single, err := m.Run(ids, &Options{Logits: AllLogits})
				if err != nil {
					t.Fatal(err)
				}
				pad := longest - len(ids)
				for i := range ids {
					if d, at := maxAbsDiff(batch.Row(b, pad+i), single.Row(0, i)); d > 1e-4 {
						t.Errorf("sequence %d position %d: batched and single logits differ by %.2g at token %d", b, i, d, at)
					}
				}
			}
		})
	}
}

// TestBatchedGreedyMatchesSingle decodes a left-padded batch step by step
// with the KV cache and checks every sequence's tokens against greedy
// generation of that sequence alone.
func TestBatchedGreedyMatchesSingle(t *testing.T) {
	const steps = 6
	for _, name := range fixtureModels {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, fixture(t, name))
			prompts := testPrompts(t, m)
			in := LeftPad(prompts, 0)
			st, err := m.NewState(len(prompts), len(in.Tokens[0])+steps)
			if err != nil {
				t.Fatal(err)
			}
			got := make([][]int32, len(prompts))
			for step := range steps {
				out, err := m.Forward(st, in, nil)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				in = Input{Tokens: make([][]int32, len(prompts))}
				for b := range prompts {
					id := argmax(out.Row(b, 0))
					got[b] = append(got[b], id)
					in.Tokens[b] = []int32{id}
				}
			}
			for b, ids := range prompts {
				want, err := m.Generate(ids, GenerateOptions{MaxTokens: steps})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got[b][:len(want)]) != fmt.Sprint(want) {
					t.Errorf("sequence %d: batched greedy %v, single %v", b, got[b], want)
				}
			}
		})
	}
}

func TestIncrementalMatchesFull(t *testing.T) {
	for _, name := range fixtureModels {
		t.Run(name, func(t *testing.T) {
			m := loadFloatModel(t, name)
			ids := testPrompts(t, m)[2]
			full, err := m.Run(ids, &Options{Logits: AllLogits})
			if err != nil {
				t.Fatal(err)
			}
			st, err := m.NewState(1, len(ids))
			if err != nil {
				t.Fatal(err)
			}
			// Chunks of 3 tokens, then one at a time.
			for start := 0; start < len(ids); {
				n := 1
				if start == 0 {
					n = 3
				}
				out, err := m.Forward(st, Input{Tokens: [][]int32{ids[start : start+n]}}, &Options{Logits: AllLogits})
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					if d, at := maxAbsDiff(out.Row(0, i), full.Row(0, start+i)); d > 1e-4 {
						t.Errorf("position %d: cached and full logits differ by %.2g at token %d", start+i, d, at)
					}
				}
				start += n
			}
		})
	}
}
