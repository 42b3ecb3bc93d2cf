package interp

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// Defaults of ReportOptions, also those of `interp snmf`.
const (
	DefaultReportContexts      = 10
	DefaultReportContextTokens = 12
	DefaultReportLogits        = 10
)

// ReportOptions configures InterpretSNMF. Zero fields take their defaults.
type ReportOptions struct {
	// Contexts is the number of top activating tokens shown per feature.
	Contexts int
	// ContextTokens is the number of tokens shown before each activating
	// token, within the sequence the model saw.
	ContextTokens int
	// Logits is the number of top tokens of each feature's output-side
	// projection onto the vocabulary.
	Logits int
}

func (o ReportOptions) withDefaults() ReportOptions {
	if o.Contexts == 0 {
		o.Contexts = DefaultReportContexts
	}
	if o.ContextTokens == 0 {
		o.ContextTokens = DefaultReportContextTokens
	}
	if o.Logits == 0 {
		o.Logits = DefaultReportLogits
	}
	return o
}

// SNMFReport describes SNMF features for people and programs. Its JSON form
// is what `interp snmf --json` prints and what a .json --out file contains.
type SNMFReport struct {
	Layer  int `json:"layer"`
	K      int `json:"k"`
	DMLP   int `json:"d_mlp"`
	Tokens int `json:"tokens"`
	// Loss is ‖A − Z·Y‖²_F after each iteration.
	Loss []float64 `json:"loss"`
	// RelativeError is ‖A − Z·Y‖_F / ‖A‖_F of the kept factors, those of
	// BestIteration (counting from 1).
	RelativeError float64         `json:"relative_error"`
	BestIteration int             `json:"best_iteration"`
	Interrupted   bool            `json:"interrupted,omitempty"`
	Normalized    bool            `json:"normalized,omitempty"`
	Features      []FeatureReport `json:"features"`
}

// FeatureReport describes one feature: column Index of Z and row Index of Y.
type FeatureReport struct {
	Index int `json:"index"`
	// Neurons lists every non-zero entry of the feature's column of Z,
	// largest magnitude first, so the feature can be rebuilt from the
	// report (see LoadFeature).
	Neurons []NeuronWeight `json:"neurons"`
	// TopContexts are the tokens with the largest coefficients in Y.
	TopContexts []FeatureContext `json:"top_contexts"`
	// TopLogits are the tokens that the feature's output, W_down·z read
	// through the final norm and unembedding, raises most.
	TopLogits []TokenLogit `json:"top_logits"`
}

// NeuronWeight is one entry of a feature. Its JSON form is [neuron, weight].
type NeuronWeight struct {
	Neuron int
	Weight float64
}

// MarshalJSON writes [neuron, weight].
func (n NeuronWeight) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{n.Neuron, n.Weight})
}

// UnmarshalJSON reads [neuron, weight].
func (n *NeuronWeight) UnmarshalJSON(data []byte) error {
	var pair []float64
	if err := json.Unmarshal(data, &pair); err != nil || len(pair) != 2 || pair[0] != math.Trunc(pair[0]) || pair[0] < 0 {
		return fmt.Errorf("neuron entry %s is not a pair [neuron, weight]", data)
	}
	n.Neuron, n.Weight = int(pair[0]), pair[1]
	return nil
}

// FeatureContext is one activating token with the text before it.
type FeatureContext struct {
	// Text is the decoded context, ending with the token.
	Text string `json:"text"`
	// Token is the activating token's text.
	Token string `json:"token"`
	// Coefficient is the token's entry in the feature's row of Y.
	Coefficient float64 `json:"coefficient"`
	// TokenIndex is the token's column of Y and row of the activation
	// matrix.
	TokenIndex int `json:"token_index"`
}

// TokenLogit is a token and its logit. Its JSON form is ["token", logit].
type TokenLogit struct {
	Token string
	Logit float64
}

// MarshalJSON writes ["token", logit].
func (t TokenLogit) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{t.Token, t.Logit})
}

// UnmarshalJSON reads ["token", logit].
func (t *TokenLogit) UnmarshalJSON(data []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(data, &pair); err != nil || len(pair) != 2 {
		return fmt.Errorf("logit entry %s is not a pair [token, logit]", data)
	}
	if err := json.Unmarshal(pair[0], &t.Token); err != nil {
		return fmt.Errorf("logit entry %s: %w", data, err)
	}
	return json.Unmarshal(pair[1], &t.Logit)
}

// InterpretSNMF describes each feature of res, a factorization of acts,
// with its neurons, its top activating contexts and its top logits.
func InterpretSNMF(m *transformer.Model, acts *Activations, res *SNMFResult, opts ReportOptions) (*SNMFReport, error) {
	opts = opts.withDefaults()
	d, k := res.Z.Dims()
	_, n := res.Y.Dims()
	if d != m.DMLP || n != len(acts.IDs) {
		return nil, fmt.Errorf("interp: factors of %d neurons and %d tokens do not match d_mlp %d and %d collected tokens", d, n, m.DMLP, len(acts.IDs))
	}
	report := &SNMFReport{
		Layer: acts.Layer, K: k, DMLP: d, Tokens: n,
		Loss: slices.Clone(res.Loss), RelativeError: res.RelativeError, BestIteration: res.BestIteration,
		Interrupted: res.Interrupted, Normalized: acts.Normalized,
	}
	for j := range k {
		f := FeatureReport{Index: j}
		z := make([]float32, d)
		for i := range d {
			w := res.Z.At(i, j)
			z[i] = float32(w)
			if w != 0 {
				f.Neurons = append(f.Neurons, NeuronWeight{Neuron: i, Weight: w})
			}
		}
		slices.SortStableFunc(f.Neurons, func(a, b NeuronWeight) int {
			return compareDescending(math.Abs(a.Weight), math.Abs(b.Weight))
		})

		var err error
		if f.TopContexts, err = topContexts(m, acts, res.Y.RawRowView(j), opts); err != nil {
			return nil, fmt.Errorf("interp: feature %d: %w", j, err)
		}
		if f.TopLogits, err = featureLogits(m, acts.Layer, z, opts.Logits); err != nil {
			return nil, fmt.Errorf("interp: feature %d: %w", j, err)
		}
		report.Features = append(report.Features, f)
	}
	return report, nil
}

func compareDescending(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// topContexts returns the tokens with the largest positive coefficients,
// each with the text before it.
func topContexts(m *transformer.Model, acts *Activations, coefficients []float64, opts ReportOptions) ([]FeatureContext, error) {
	order := make([]int, len(coefficients))
	for t := range order {
		order[t] = t
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareDescending(coefficients[a], coefficients[b]) })

	var out []FeatureContext
	for _, t := range order[:min(opts.Contexts, len(order))] {
		if coefficients[t] <= 0 {
			break
		}
		text, err := m.Tokenizer.Decode(acts.Context(t, opts.ContextTokens))
		if err != nil {
			return nil, err
		}
		token, err := m.Tokenizer.Pieces(acts.IDs[t : t+1])
		if err != nil {
			return nil, err
		}
		out = append(out, FeatureContext{
			Text: strings.ToValidUTF8(text, "\uFFFD"), Token: strings.ToValidUTF8(token[0], "\uFFFD"),
			Coefficient: coefficients[t], TokenIndex: t,
		})
	}
	return out, nil
}

// featureLogits returns the n tokens with the largest logits of the
// feature's MLP output W_down·z, read through the final norm and the
// unembedding (see transformer.Model.MLPDown and Unembed).
func featureLogits(m *transformer.Model, layer int, z []float32, n int) ([]TokenLogit, error) {
	out, err := m.MLPDown(layer, z)
	if err != nil {
		return nil, err
	}
	logits, err := m.Unembed(out)
	if err != nil {
		return nil, err
	}
	order := make([]int, len(logits))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareDescending(float64(logits[a]), float64(logits[b])) })

	top := make([]TokenLogit, 0, n)
	for _, id := range order[:min(n, len(order))] {
		piece, err := m.Tokenizer.Pieces([]int32{int32(id)})
		if err != nil {
			return nil, err
		}
		top = append(top, TokenLogit{Token: strings.ToValidUTF8(piece[0], "\uFFFD"), Logit: float64(logits[id])})
	}
	return top, nil
}

// hookName returns the hook point whose activations the report's features
// decompose.
func (r *SNMFReport) hookName() string {
	return hooks.Point{Layer: r.Layer, Kind: hooks.MLPPost}.Name()
}

// summary returns the report's one-line description.
func (r *SNMFReport) summary() string {
	s := fmt.Sprintf("%d features of %s (d_mlp %d) over %d tokens; relative error %.4f at iteration %d of %d",
		r.K, r.hookName(), r.DMLP, r.Tokens, r.RelativeError, r.BestIteration, len(r.Loss))
	if r.Normalized {
		s += "; token vectors scaled to unit norm"
	}
	if r.Interrupted {
		s += "; interrupted before the last iteration"
	}
	return s
}

// reportNeurons is the number of neurons that the markdown and HTML
// reports list per feature. The JSON form lists all.
const reportNeurons = 10

// WriteMarkdown writes the report as a markdown document: for each feature,
// its strongest neurons, its top logits and a table of its top contexts
// with the activating token in bold.
func (r *SNMFReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# SNMF features of %s\n\n%s.\n", r.hookName(), r.summary())
	for _, f := range r.Features {
		fmt.Fprintf(&b, "\n## Feature %d\n\n", f.Index)
		fmt.Fprintf(&b, "Neurons (%d non-zero): %s\n\n", len(f.Neurons), neuronList(f.Neurons))
		var logits []string
		for _, l := range f.TopLogits {
			logits = append(logits, fmt.Sprintf("`%s` %.2f", markdownCode(l.Token), l.Logit))
		}
		fmt.Fprintf(&b, "Top logits: %s\n\n", strings.Join(logits, ", "))
		b.WriteString("| coefficient | context |\n|---:|---|\n")
		for _, c := range f.TopContexts {
			before, token := splitContext(c)
			fmt.Fprintf(&b, "| %.4f | %s**%s** |\n", c.Coefficient, markdownCell(before), markdownCell(token))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// neuronList formats the strongest neurons as "12 (+0.531), 97 (−0.412)".
func neuronList(neurons []NeuronWeight) string {
	var parts []string
	for _, n := range neurons[:min(reportNeurons, len(neurons))] {
		parts = append(parts, fmt.Sprintf("%d (%+.3f)", n.Neuron, n.Weight))
	}
	if len(neurons) > reportNeurons {
		parts = append(parts, "…")
	}
	return strings.Join(parts, ", ")
}

// splitContext splits a context's text into the text before the token and
// the token itself. A text that does not end with the token's text (a
// SentencePiece context of one token loses its leading space) is all token.
func splitContext(c FeatureContext) (before, token string) {
	if strings.HasSuffix(c.Text, c.Token) {
		return strings.TrimSuffix(c.Text, c.Token), c.Token
	}
	return "", c.Text
}

// markdownCell escapes text for a markdown table cell and shows line
// breaks as ⏎.
func markdownCell(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "⏎")
	s = strings.ReplaceAll(s, "\n", "⏎")
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|#", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// markdownCode makes text safe inside a one-backtick code span.
func markdownCode(s string) string {
	s = strings.ReplaceAll(s, "\n", "⏎")
	return strings.ReplaceAll(s, "`", "'")
}

var reportHTML = template.Must(template.New("report").Funcs(template.FuncMap{
	"split": func(c FeatureContext) []string {
		before, token := splitContext(c)
		return []string{before, token}
	},
	"neurons": neuronList,
	"lines":   func(s string) string { return strings.ReplaceAll(s, "\n", "⏎") },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SNMF features of {{.Report.HookName}}</title>
<style>
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; }
table { border-collapse: collapse; }
td { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.context { font-family: monospace; white-space: pre-wrap; }
mark { background: #ffd54f; }
code { background: #f2f2f2; padding: 0 0.2em; }
</style>
</head>
<body>
<h1>SNMF features of {{.Report.HookName}}</h1>
<p>{{.Summary}}.</p>
{{range .Report.Features}}
<h2 id="feature-{{.Index}}">Feature {{.Index}}</h2>
<p>Neurons ({{len .Neurons}} non-zero): {{neurons .Neurons}}</p>
<p>Top logits:{{range $i, $l := .TopLogits}}{{if $i}},{{end}} <code>{{lines $l.Token}}</code> {{printf "%.2f" $l.Logit}}{{end}}</p>
<table>
<tr><th>coefficient</th><th>context</th></tr>
{{range .TopContexts}}{{$parts := split .}}<tr><td class="num">{{printf "%.4f" .Coefficient}}</td><td class="context">{{index $parts 0}}<mark>{{index $parts 1}}</mark></td></tr>
{{end}}</table>
{{end}}
</body>
</html>
`))

// WriteHTML writes the report as a self-contained HTML page with the same
// content as WriteMarkdown, the activating tokens highlighted.
func (r *SNMFReport) WriteHTML(w io.Writer) error {
	return reportHTML.Execute(w, struct {
		Report  htmlReport
		Summary string
	}{htmlReport{r}, r.summary()})
}

// htmlReport exposes the hook point name to the template.
type htmlReport struct{ *SNMFReport }

func (r htmlReport) HookName() string { return r.hookName() }
