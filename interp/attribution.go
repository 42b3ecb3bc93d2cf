package interp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// Attribution methods, named as in `interp attribute --method`.
const (
	// MethodAtP is attribution patching: the gradient of the metric on the
	// corrupted run, times the clean-minus-corrupted activation.
	MethodAtP = "atp"
	// MethodRelP is Relevance Patching: AtP with the gradient replaced by
	// the coefficients of a backward pass under the LRP rules of
	// transformer.RelPRules.
	MethodRelP = "relp"
	// MethodIG is integrated gradients along the straight path from the
	// corrupted to the clean activation of each site family and layer.
	MethodIG = "ig"
)

// AttributeOptions configures Attribute.
type AttributeOptions struct {
	// Method is MethodAtP, MethodRelP or MethodIG.
	Method string
	// Sites lists the site families, from AttributionSites; nil means
	// AllSites.
	Sites []string
	// Rules are the RelP rules for MethodRelP; nil means all of them.
	// Other methods ignore it.
	Rules *transformer.RelPRules
	// Steps is the number of points of the integral for MethodIG (midpoint
	// rule); 0 means 20.
	Steps int
	// Progress, if set, is called after each forward-and-backward pass.
	Progress func(done, total int)
	// Hooks, if set, are forward hooks applied to every run before the
	// method's own, as in PatchOptions.
	Hooks *hooks.Hooks
}

// AttributionResult holds estimated patching effects, unnormalized: each
// site's score estimates M_patched − M_corrupt, where M is the logit
// difference at the last position.
type AttributionResult struct {
	Method       string                 `json:"method"`
	CleanValue   float64                `json:"clean_value"`
	CorruptValue float64                `json:"corrupt_value"`
	Sites        map[string][][]float64 `json:"sites"`
	// Passes counts the forward and backward passes the method ran.
	ForwardPasses  int `json:"forward_passes"`
	BackwardPasses int `json:"backward_passes"`
}

// Attribute estimates the activation-patching effect of every site of the
// requested families from a few forward and backward passes. AtP and RelP
// take one clean forward pass, one corrupted forward pass and one backward
// pass. A site's score is Σ (a_clean − a_corrupt)·c over its dimensions
// (and, for z, over the head's positions). c is the gradient of M on the
// corrupted run (AtP) or the RelP coefficient. IG averages the gradient
// over Steps points between the corrupted and clean activations of each
// family and layer, patching all positions of that layer's site together.
func Attribute(m *transformer.Model, task Task, opts AttributeOptions) (*AttributionResult, error) {
	if err := task.Validate(m); err != nil {
		return nil, err
	}
	sites, err := checkAttribution(opts)
	if err != nil {
		return nil, err
	}
	var patterns runPatterns
	addAttributionPatterns(&patterns, sites, opts.Method)
	runs, err := recordRuns(m, task, patterns, opts.Hooks, needsTape(opts.Method))
	if err != nil {
		return nil, err
	}
	return runs.attribute(m, sites, opts)
}

// checkAttribution checks the method and its steps, and returns the site
// families to score.
func checkAttribution(opts AttributeOptions) ([]string, error) {
	switch opts.Method {
	case MethodAtP, MethodRelP:
	case MethodIG:
		if opts.Steps < 0 {
			return nil, fmt.Errorf("interp: integrated gradients need a positive number of steps, got %d", opts.Steps)
		}
	default:
		return nil, fmt.Errorf("interp: unknown attribution method %q (valid: atp, relp, ig)", opts.Method)
	}
	return checkSites(opts.Sites)
}

// needsTape reports whether a method takes its gradient from a tape of
// the corrupted run, rather than from runs of its own.
func needsTape(method string) bool {
	return method == MethodAtP || method == MethodRelP
}

// addAttributionPatterns adds the points that a method reads from the
// clean and corrupted runs: the sites' activations in both, and for
// integrated gradients the corrupted residual stream where its runs start.
func addAttributionPatterns(p *runPatterns, sites []string, method string) {
	p.add(sites, true)
	if method == MethodIG {
		p.addCorrupt(residPrePattern)
	}
}

// attribute scores the sites from the recorded runs. The clean and
// corrupted runs count as two of the result's forward passes.
func (r *taskRuns) attribute(m *transformer.Model, sites []string, opts AttributeOptions) (*AttributionResult, error) {
	res := &AttributionResult{
		Method:        opts.Method,
		CleanValue:    r.cleanValue,
		CorruptValue:  r.corruptValue,
		Sites:         map[string][][]float64{},
		ForwardPasses: 2,
	}
	var err error
	switch opts.Method {
	case MethodAtP, MethodRelP:
		var rules transformer.RelPRules
		if opts.Method == MethodRelP {
			rules = transformer.AllRelPRules()
			if opts.Rules != nil {
				rules = *opts.Rules
			}
		}
		err = r.gradientScores(m, sites, rules, res)
		if opts.Progress != nil {
			opts.Progress(1, 1)
		}
	case MethodIG:
		err = r.integratedGradients(m, sites, opts, res)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// attributionPasses returns the number of Progress steps of a method:
// one for AtP and RelP, one per step, family and layer for IG.
func attributionPasses(m *transformer.Model, sites []string, opts AttributeOptions) int {
	if opts.Method != MethodIG {
		return 1
	}
	return len(sites) * m.NLayers * igSteps(opts)
}

// igSteps returns the number of integration steps, with 0 meaning 20.
func igSteps(opts AttributeOptions) int {
	if opts.Steps == 0 {
		return 20
	}
	return opts.Steps
}

// checkSites returns the requested site families, or AllSites for nil.
func checkSites(sites []string) ([]string, error) {
	if sites == nil {
		return AllSites, nil
	}
	for _, s := range sites {
		if !slices.Contains(AttributionSites, s) {
			return nil, fmt.Errorf("interp: unknown site %q (valid: %s)", s, strings.Join(AttributionSites, ", "))
		}
	}
	return sites, nil
}

// sitePatterns returns the hook name patterns of the site families.
func sitePatterns(sites []string) []string {
	patterns := make([]string, len(sites))
	for i, s := range sites {
		patterns[i] = "blocks.*." + siteKinds[s].String()
	}
	return patterns
}

// metricGrad returns dM/dlogits for a run's LastLogits output.
func metricGrad(m *transformer.Model, task Task) *hooks.Tensor {
	d := hooks.NewTensor(1, 1, m.VocabSize)
	d.Data[task.Answer] += 1
	d.Data[task.Wrong] -= 1
	return d
}

// gradientScores runs the backward pass of the taped corrupted run once
// and scores every site from the clean and corrupted activations and the
// backward coefficients at the sites.
func (r *taskRuns) gradientScores(m *transformer.Model, sites []string, rules transformer.RelPRules, res *AttributionResult) error {
	grads := hooks.NewCache(sitePatterns(sites)...)
	bwd := &hooks.Hooks{}
	grads.Attach(bwd)
	if _, err := m.Backward(r.tape, metricGrad(m, r.task), &transformer.BackwardOptions{Hooks: bwd, Rules: rules}); err != nil {
		return fmt.Errorf("interp: backward pass: %w", err)
	}
	res.BackwardPasses++
	// The tape holds every hook point of the run. Patching does not need
	// it, so let it go before a sweep.
	r.tape = nil

	seq := len(r.task.Clean)
	for _, s := range sites {
		values := make([][]float64, m.NLayers)
		for l := range m.NLayers {
			a, b := r.activations(s, l)
			g, _ := grads.Get(hooks.Point{Layer: l, Kind: siteKinds[s]}.Name())
			values[l] = siteScores(m, s, seq, a.Data, b.Data, g.Data)
		}
		res.Sites[s] = values
	}
	return nil
}

// siteScores returns Σ (clean − corrupt)·coef per site of one layer's
// activation: per position of [seq, width], per head of z [seq, heads,
// d_head], per neuron of mlp_post [seq, d_mlp], or per entry of the pattern
// [heads, seq, seq].
func siteScores(m *transformer.Model, site string, seq int, clean, corrupt, coef []float32) []float64 {
	switch site {
	case SitePattern:
		out := make([]float64, len(clean))
		for i := range clean {
			out[i] = (float64(clean[i]) - float64(corrupt[i])) * float64(coef[i])
		}
		return out
	case SiteMLPPost:
		out := make([]float64, m.DMLP)
		for i := range clean {
			out[i%m.DMLP] += (float64(clean[i]) - float64(corrupt[i])) * float64(coef[i])
		}
		return out
	}
	if site == SiteZ {
		out := make([]float64, m.NHeads)
		dh := m.DHead
		for i := range clean {
			head := (i / dh) % m.NHeads
			out[head] += (float64(clean[i]) - float64(corrupt[i])) * float64(coef[i])
		}
		return out
	}
	out := make([]float64, seq)
	width := len(clean) / seq
	for i := range clean {
		out[i/width] += (float64(clean[i]) - float64(corrupt[i])) * float64(coef[i])
	}
	return out
}

// integratedGradients computes IG scores: for each family and layer, the
// site's activation at every position is set to corrupt + α·(clean −
// corrupt) for α at the midpoints of Steps equal intervals, and the
// gradients there are averaged. A run starts at the site's block from the
// corrupted residual stream, since the earlier blocks do not change.
func (r *taskRuns) integratedGradients(m *transformer.Model, sites []string, opts AttributeOptions, res *AttributionResult) error {
	steps := igSteps(opts)
	seq := len(r.task.Clean)
	total := attributionPasses(m, sites, opts)
	done := 0
	for _, s := range sites {
		values := make([][]float64, m.NLayers)
		for l := range m.NLayers {
			name := hooks.Point{Layer: l, Kind: siteKinds[s]}.Name()
			a, b := r.activations(s, l)
			mean := make([]float32, len(a.Data))
			for k := range steps {
				alpha := (float32(k) + 0.5) / float32(steps)
				g, err := r.gradientAt(m, l, name, func(x *hooks.Tensor, _ hooks.Point) error {
					for i := range x.Data {
						x.Data[i] = b.Data[i] + alpha*(a.Data[i]-b.Data[i])
					}
					return nil
				})
				if err != nil {
					return err
				}
				for i, v := range g {
					mean[i] += v / float32(steps)
				}
				res.ForwardPasses++
				res.BackwardPasses++
				done++
				if opts.Progress != nil {
					opts.Progress(done, total)
				}
			}
			values[l] = siteScores(m, s, seq, a.Data, b.Data, mean)
		}
		res.Sites[s] = values
	}
	return nil
}

// gradientAt runs the corrupted prompt from block layer with set applied at
// the named point, and returns the metric's gradient there.
func (r *taskRuns) gradientAt(m *transformer.Model, layer int, name string, set hooks.Func) ([]float32, error) {
	fwd := r.extra.Clone()
	fwd.Add(name, set)
	tape := transformer.NewTape()
	opts := &transformer.Options{Hooks: fwd, Tape: tape}
	if layer > 0 {
		opts.StartLayer = layer
		opts.StartResid = r.corruptResidPre(layer)
	}
	if _, err := m.Run(r.task.Corrupt, opts); err != nil {
		return nil, fmt.Errorf("interp: integrated gradients at %s: %w", name, err)
	}
	grad := hooks.NewCache(name)
	bwd := &hooks.Hooks{}
	grad.Attach(bwd)
	if _, err := m.Backward(tape, metricGrad(m, r.task), &transformer.BackwardOptions{Hooks: bwd}); err != nil {
		return nil, fmt.Errorf("interp: integrated gradients at %s: %w", name, err)
	}
	g, _ := grad.Get(name)
	return g.Data, nil
}
