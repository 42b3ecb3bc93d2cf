package interp

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"gonum.org/v1/gonum/mat"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

const collectText = "When Mary and John went to the store, John gave a drink to Mary. " +
	"Then the cat sat on the mat and looked at the birds outside the window.\n"

// hiddenOf runs ids alone and returns blocks.layer.mlp.hook_post [seq, d_mlp].
func hiddenOf(t *testing.T, m *transformer.Model, ids []int32, layer int) []float32 {
	t.Helper()
	name := hooks.Point{Layer: layer, Kind: hooks.MLPPost}.Name()
	cache := hooks.NewCache(name)
	h := &hooks.Hooks{}
	cache.Attach(h)
	if _, err := m.Run(ids, &transformer.Options{Hooks: h, Logits: transformer.NoLogits}); err != nil {
		t.Fatal(err)
	}
	act, _ := cache.Get(name)
	return act.Data
}

func collect(t *testing.T, m *transformer.Model, corpus string, opts CollectOptions) *Activations {
	t.Helper()
	acts, err := CollectMLPActivations(context.Background(), m, strings.NewReader(corpus), opts)
	if err != nil {
		t.Fatal(err)
	}
	return acts
}

// checkRows compares the matrix rows from row on with want [tokens, d_mlp].
func checkRows(t *testing.T, acts *Activations, row int, want []float32, d int) {
	t.Helper()
	for i := 0; i < len(want)/d; i++ {
		got := acts.Matrix.RawRowView(row + i)
		for j, v := range want[i*d : (i+1)*d] {
			if got[j] != float64(v) {
				t.Fatalf("row %d, neuron %d: collected %g, a run of the sequence alone gives %g", row+i, j, got[j], v)
			}
		}
	}
}

func TestCollectMatchesSequenceRuns(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	ids, err := m.Tokenizer.Encode(collectText, false)
	if err != nil {
		t.Fatal(err)
	}
	const seq, maxTokens = 8, 20
	acts := collect(t, m, collectText, CollectOptions{Layer: 1, MaxTokens: maxTokens, SequenceTokens: seq})

	if len(acts.IDs) != maxTokens {
		t.Fatalf("collected %d tokens, want %d", len(acts.IDs), maxTokens)
	}
	if !slices.Equal(acts.IDs, ids[:maxTokens]) {
		t.Errorf("ids %v, want %v", acts.IDs, ids[:maxTokens])
	}
	if want := []int{0, 8, 16}; !slices.Equal(acts.SequenceStarts, want) {
		t.Errorf("sequence starts %v, want %v", acts.SequenceStarts, want)
	}
	if r, c := acts.Matrix.Dims(); r != maxTokens || c != m.DMLP {
		t.Errorf("matrix is %d × %d, want %d × %d", r, c, maxTokens, m.DMLP)
	}
	for start := 0; start < maxTokens; start += seq {
		end := min(start+seq, maxTokens)
		checkRows(t, acts, start, hiddenOf(t, m, ids[start:end], 1), m.DMLP)
	}
}

// TestCollectGrowsToTheCorpus checks that a bound far above the corpus
// allocates only what the corpus fills, past the first growth of the
// matrix, and gives the same matrix as a bound of exactly its tokens.
func TestCollectGrowsToTheCorpus(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	text := strings.Repeat(collectText+"\n", initialRows/8)
	huge := collect(t, m, text, CollectOptions{Layer: 1, MaxTokens: 1 << 40, SequenceTokens: 64})
	n := len(huge.IDs)
	if n <= initialRows {
		t.Fatalf("corpus gave %d tokens; the test needs more than %d", n, initialRows)
	}
	exact := collect(t, m, text, CollectOptions{Layer: 1, MaxTokens: n, SequenceTokens: 64})
	if !mat.Equal(huge.Matrix, exact.Matrix) {
		t.Error("the matrix under a bound of 2⁴⁰ tokens differs from the one under a bound of the corpus's tokens")
	}
}

func TestCollectSkipsBOS(t *testing.T) {
	m := loadFixture(t, "llama-tiny.gguf")
	if !m.Tokenizer.AddBOS() {
		t.Fatal("llama-tiny's tokenizer should add BOS")
	}
	ids, err := m.Tokenizer.Encode(collectText, false)
	if err != nil {
		t.Fatal(err)
	}
	acts := collect(t, m, collectText, CollectOptions{Layer: 0, MaxTokens: 10, SequenceTokens: 6})
	if slices.Contains(acts.IDs, m.Tokenizer.BOS()) {
		t.Errorf("collected ids %v include BOS %d", acts.IDs, m.Tokenizer.BOS())
	}
	if want := []int{0, 5}; !slices.Equal(acts.SequenceStarts, want) {
		t.Errorf("sequence starts %v, want %v (5 tokens after BOS per sequence)", acts.SequenceStarts, want)
	}
	for _, start := range []int{0, 5} {
		seq := append([]int32{m.Tokenizer.BOS()}, ids[start:start+5]...)
		hidden := hiddenOf(t, m, seq, 0)
		checkRows(t, acts, start, hidden[m.DMLP:], m.DMLP)
	}
}

func TestCollectNormalizesTokens(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	acts := collect(t, m, collectText, CollectOptions{Layer: 0, MaxTokens: 12, Normalize: true})
	if !acts.Normalized {
		t.Error("Normalized not set")
	}
	for r := range len(acts.IDs) {
		row := acts.Matrix.RawRowView(r)
		if norm := math.Sqrt(dot64(row, row)); math.Abs(norm-1) > 1e-12 {
			t.Errorf("row %d has norm %g, want 1", r, norm)
		}
	}
}

func TestCollectJSONLStartsEachDocument(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	corpus := `{"text": "When Mary and John went", "id": 1}` + "\n\n" +
		`{"text": "to the store, John gave a drink to Mary"}` + "\n"
	first, _ := m.Tokenizer.Encode("When Mary and John went", false)
	second, _ := m.Tokenizer.Encode("to the store, John gave a drink to Mary", false)
	acts := collect(t, m, corpus, CollectOptions{Layer: 1, MaxTokens: 100, SequenceTokens: 6, Format: CorpusJSONL})

	if want := append(slices.Clone(first), second...); !slices.Equal(acts.IDs, want) {
		t.Errorf("ids %v, want %v", acts.IDs, want)
	}
	// The first document fills one sequence of 5 tokens. The second takes
	// 6, then the rest.
	if want := []int{0, len(first), len(first) + 6}; !slices.Equal(acts.SequenceStarts, want) {
		t.Errorf("sequence starts %v, want %v", acts.SequenceStarts, want)
	}
	checkRows(t, acts, len(first), hiddenOf(t, m, second[:6], 1), m.DMLP)
}

func TestCollectJSONLErrorsNameTheLine(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	for _, tc := range []struct {
		corpus, field, want string
	}{
		{`{"text": "fine"}` + "\n" + `{"body": "x"}`, "", `line 2 has no field "text"`},
		{`{"text": "fine"}` + "\n" + `not json`, "", "line 2: invalid JSON"},
		{`{"text": 3}`, "", `line 1: field "text" is not a string`},
		{`{"body": "fine"}`, "body", ""},
	} {
		_, err := CollectMLPActivations(context.Background(), m, strings.NewReader(tc.corpus),
			CollectOptions{MaxTokens: 10, Format: CorpusJSONL, TextField: tc.field})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.corpus, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: got error %v, want one containing %q", tc.corpus, err, tc.want)
		}
	}
}

func TestCollectRejectsInvalidInput(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	for _, tc := range []struct {
		name   string
		corpus string
		opts   CollectOptions
		want   string
	}{
		{"block past the last", collectText, CollectOptions{Layer: 2, MaxTokens: 10}, "block 2 out of range"},
		{"no tokens allowed", collectText, CollectOptions{MaxTokens: 0}, "positive count"},
		{"sequence too long", collectText, CollectOptions{MaxTokens: 10, SequenceTokens: m.NCtx + 1}, "sequences of"},
		{"empty corpus", "", CollectOptions{MaxTokens: 10}, "no tokens"},
		{"invalid UTF-8", "abc\xffdef", CollectOptions{MaxTokens: 10}, "byte 3 is not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CollectMLPActivations(context.Background(), m, strings.NewReader(tc.corpus), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCollectStopsWhenCancelled(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	opts := CollectOptions{MaxTokens: 100, SequenceTokens: 4, Progress: func(int) { cancel() }}
	_, err := CollectMLPActivations(ctx, m, strings.NewReader(collectText), opts)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got error %v, want context.Canceled", err)
	}
}

func TestActivationsContextStaysInSequence(t *testing.T) {
	a := &Activations{IDs: []int32{10, 11, 12, 13, 14, 15, 16}, SequenceStarts: []int{0, 3}}
	for _, tc := range []struct {
		token, before int
		want          []int32
	}{
		{0, 5, []int32{10}},
		{2, 1, []int32{11, 12}},
		{4, 5, []int32{13, 14}},
		{6, 2, []int32{14, 15, 16}},
	} {
		if got := a.Context(tc.token, tc.before); !slices.Equal(got, tc.want) {
			t.Errorf("Context(%d, %d) = %v, want %v", tc.token, tc.before, got, tc.want)
		}
	}
}

func TestSplitTextBlocks(t *testing.T) {
	line := strings.Repeat("word ", 99) + "end\n" // 499 bytes
	lines := strings.Repeat(line, 200)
	noBreak := strings.Repeat("é", textBlockBytes) // two bytes per character
	for _, tc := range []struct {
		name string
		text string
	}{
		{"lines", lines},
		{"no line break", noBreak},
		{"short", "a few words"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.text)
			var blocks []string
			for len(data) > 0 {
				advance, block, err := splitTextBlocks(data, true)
				if err != nil || advance == 0 {
					t.Fatalf("advance %d, error %v", advance, err)
				}
				blocks = append(blocks, string(block))
				data = data[advance:]
			}
			if joined := strings.Join(blocks, ""); joined != tc.text {
				t.Fatal("the blocks do not join to the text")
			}
			for i, b := range blocks {
				if len(b) > textBlockBytes {
					t.Errorf("block %d has %d bytes, more than %d", i, len(b), textBlockBytes)
				}
				if !utf8.ValidString(b) {
					t.Errorf("block %d splits a character", i)
				}
				if tc.name == "lines" && i < len(blocks)-1 && !strings.HasSuffix(b, "\n") {
					t.Errorf("block %d does not end at a line break", i)
				}
			}
		})
	}
}
