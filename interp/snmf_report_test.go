package interp

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/interp-go/interp/transformer"
)

// factorFixture collects gpt2-tiny's block 1 activations over a short text
// and factors them into k features.
func factorFixture(t *testing.T, k int) (*transformer.Model, *Activations, *SNMFResult) {
	t.Helper()
	m := loadFixture(t, "gpt2-tiny.gguf")
	acts := collect(t, m, strings.Repeat(collectText, 3), CollectOptions{Layer: 1, MaxTokens: 90, SequenceTokens: 32})
	res, err := SNMF(context.Background(), acts.Matrix.T(), SNMFOptions{K: k, Sparsity: 0.05, Iters: 20})
	if err != nil {
		t.Fatal(err)
	}
	return m, acts, res
}

func TestInterpretSNMF(t *testing.T) {
	m, acts, res := factorFixture(t, 4)
	report, err := InterpretSNMF(m, acts, res, ReportOptions{Contexts: 5, ContextTokens: 4, Logits: 7})
	if err != nil {
		t.Fatal(err)
	}
	if report.Layer != 1 || report.K != 4 || report.DMLP != m.DMLP || report.Tokens != 90 {
		t.Errorf("layer %d, k %d, d_mlp %d, tokens %d; want 1, 4, %d, 90", report.Layer, report.K, report.DMLP, report.Tokens, m.DMLP)
	}
	if len(report.Features) != 4 {
		t.Fatalf("%d features, want 4", len(report.Features))
	}
	for _, f := range report.Features {
		nonZeros := 0
		for i := range m.DMLP {
			if res.Z.At(i, f.Index) != 0 {
				nonZeros++
			}
		}
		if len(f.Neurons) != nonZeros {
			t.Errorf("feature %d lists %d neurons, Z has %d non-zeros", f.Index, len(f.Neurons), nonZeros)
		}
		for i, n := range f.Neurons {
			if n.Weight != res.Z.At(n.Neuron, f.Index) {
				t.Errorf("feature %d: neuron %d weight %g, Z has %g", f.Index, n.Neuron, n.Weight, res.Z.At(n.Neuron, f.Index))
			}
			if i > 0 && math.Abs(n.Weight) > math.Abs(f.Neurons[i-1].Weight) {
				t.Errorf("feature %d: neurons not ordered by magnitude at %d", f.Index, i)
			}
		}

		if len(f.TopContexts) == 0 || len(f.TopContexts) > 5 {
			t.Errorf("feature %d has %d contexts, want 1 to 5", f.Index, len(f.TopContexts))
		}
		y := res.Y.RawRowView(f.Index)
		for i, c := range f.TopContexts {
			if c.Coefficient != y[c.TokenIndex] {
				t.Errorf("feature %d: context coefficient %g, Y has %g", f.Index, c.Coefficient, y[c.TokenIndex])
			}
			if i > 0 && c.Coefficient > f.TopContexts[i-1].Coefficient {
				t.Errorf("feature %d: contexts not ordered by coefficient at %d", f.Index, i)
			}
			if !strings.HasSuffix(c.Text, c.Token) {
				t.Errorf("feature %d: context %q does not end with its token %q", f.Index, c.Text, c.Token)
			}
			want, _ := m.Tokenizer.Decode(acts.Context(c.TokenIndex, 4))
			if c.Text != want {
				t.Errorf("feature %d: context %q, want %q", f.Index, c.Text, want)
			}
		}
		// Every larger coefficient must be among the contexts.
		if last := f.TopContexts[len(f.TopContexts)-1].Coefficient; len(f.TopContexts) == 5 {
			larger := 0
			for _, v := range y {
				if v > last {
					larger++
				}
			}
			if larger > 4 {
				t.Errorf("feature %d: %d coefficients exceed the fifth context's %g", f.Index, larger, last)
			}
		}

		if len(f.TopLogits) != 7 {
			t.Errorf("feature %d has %d top logits, want 7", f.Index, len(f.TopLogits))
		}
		for i := 1; i < len(f.TopLogits); i++ {
			if f.TopLogits[i].Logit > f.TopLogits[i-1].Logit {
				t.Errorf("feature %d: logits not in decreasing order at %d", f.Index, i)
			}
		}
	}
}

// The top logit is the largest logit of the feature's MLP output W_down·z
// read through the final norm and unembedding.
func TestInterpretSNMFLogitsMatchUnembedding(t *testing.T) {
	m, acts, res := factorFixture(t, 2)
	report, err := InterpretSNMF(m, acts, res, ReportOptions{Logits: 3})
	if err != nil {
		t.Fatal(err)
	}
	z := make([]float32, m.DMLP)
	for i := range z {
		z[i] = float32(res.Z.At(i, 0))
	}
	out, _ := m.MLPDown(1, z)
	logits, _ := m.Unembed(out)
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	piece, _ := m.Tokenizer.Pieces([]int32{int32(best)})
	if got := report.Features[0].TopLogits[0]; got.Token != piece[0] || got.Logit != float64(logits[best]) {
		t.Errorf("top logit %q %g, want %q %g", got.Token, got.Logit, piece[0], logits[best])
	}
}

func TestSNMFReportJSONLayout(t *testing.T) {
	m, acts, res := factorFixture(t, 2)
	report, err := InterpretSNMF(m, acts, res, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"layer", "k", "loss", "relative_error", "features"} {
		if _, ok := generic[key]; !ok {
			t.Errorf("no key %q in %s", key, data[:min(len(data), 200)])
		}
	}
	feature := generic["features"].([]any)[0].(map[string]any)
	neuron := feature["neurons"].([]any)[0].([]any)
	if _, ok := neuron[0].(float64); !ok || len(neuron) != 2 {
		t.Errorf("neuron entry %v is not [neuron, weight]", neuron)
	}
	logit := feature["top_logits"].([]any)[0].([]any)
	if _, ok := logit[0].(string); !ok || len(logit) != 2 {
		t.Errorf("logit entry %v is not [token, logit]", logit)
	}
	context := feature["top_contexts"].([]any)[0].(map[string]any)
	for _, key := range []string{"text", "token", "coefficient"} {
		if _, ok := context[key]; !ok {
			t.Errorf("context %v has no key %q", context, key)
		}
	}

	var back SNMFReport
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Features[1].Neurons, report.Features[1].Neurons) {
		t.Error("neurons differ after a JSON round trip")
	}
	if !slices.Equal(back.Features[1].TopLogits, report.Features[1].TopLogits) {
		t.Error("top logits differ after a JSON round trip")
	}
}

func testReport() *SNMFReport {
	return &SNMFReport{
		Layer: 3, K: 1, DMLP: 8, Tokens: 100, Loss: []float64{2, 1}, RelativeError: 0.25, BestIteration: 2,
		Features: []FeatureReport{{
			Index:       0,
			Neurons:     []NeuronWeight{{5, -0.75}, {2, 0.5}},
			TopContexts: []FeatureContext{{Text: "a | b\n<c>", Token: "<c>", Coefficient: 0.5}},
			TopLogits:   []TokenLogit{{" the", 3.25}, {"`x`", 1}},
		}},
	}
}

func TestSNMFReportMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"# SNMF features of blocks.3.mlp.hook_post",
		"relative error 0.2500 at iteration 2 of 2",
		"## Feature 0",
		"5 (-0.750), 2 (+0.500)",
		"` the` 3.25",
		`| 0.5000 | a \| b⏎**\<c\>** |`,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestSNMFReportHTML(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"<h1>SNMF features of blocks.3.mlp.hook_post</h1>",
		`<h2 id="feature-0">Feature 0</h2>`,
		"a | b\n<mark>&lt;c&gt;</mark>",
		"<code> the</code> 3.25",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<c>") {
		t.Error("HTML contains the unescaped token <c>")
	}
}

func TestInterpretSNMFRejectsMismatchedFactors(t *testing.T) {
	m, acts, res := factorFixture(t, 2)
	short := &SNMFResult{Z: res.Z, Y: mat.DenseCopyOf(res.Y.Slice(0, 2, 0, 10))}
	if _, err := InterpretSNMF(m, acts, short, ReportOptions{}); err == nil {
		t.Error("accepted a Y of 10 tokens for 90 collected ones")
	}
}
