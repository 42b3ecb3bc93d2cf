// Package interp implements interpretability methods on top of the hook
// API of package transformer: activation patching today, and attribution
// patching, RelP, steering and SNMF features as they land.
package interp

import (
	"errors"
	"fmt"
	"slices"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// Site families that activation patching sweeps, named as in
// `interp patch --sites`.
const (
	SiteResidPre = "resid_pre" // blocks.L.hook_resid_pre at one (layer, position)
	SiteAttnOut  = "attn_out"  // blocks.L.hook_attn_out at one (layer, position)
	SiteMLPOut   = "mlp_out"   // blocks.L.hook_mlp_out at one (layer, position)
	SiteZ        = "z"         // blocks.L.attn.hook_z of one (layer, head), every position
)

// Site families that only attribution scores, because patching them one
// by one would take a forward pass per neuron or per attention entry.
const (
	// SiteMLPPost is blocks.L.mlp.hook_post by (layer, neuron), summed over
	// positions.
	SiteMLPPost = "mlp_post"
	// SitePattern is blocks.L.attn.hook_pattern by (layer, entry), one value
	// per (head, query, key) entry in row-major order: index =
	// (head·seq + query)·seq + key.
	SitePattern = "pattern"
)

// AllSites lists every site family that activation patching sweeps, in
// sweep order.
var AllSites = []string{SiteResidPre, SiteAttnOut, SiteMLPOut, SiteZ}

// AttributionSites lists every site family that Attribute scores.
var AttributionSites = []string{SiteResidPre, SiteAttnOut, SiteMLPOut, SiteZ, SiteMLPPost, SitePattern}

var siteKinds = map[string]hooks.Kind{
	SiteResidPre: hooks.ResidPre,
	SiteAttnOut:  hooks.AttnOut,
	SiteMLPOut:   hooks.MLPOut,
	SiteZ:        hooks.Z,
	SiteMLPPost:  hooks.MLPPost,
	SitePattern:  hooks.Pattern,
}

// Task is one clean/corrupted prompt pair for patching. Clean and Corrupt
// are token ids of equal length; the metric is the logit difference
// logit[Answer] − logit[Wrong] at the last position.
type Task struct {
	Clean, Corrupt []int32
	Answer, Wrong  int32
}

// PatchOptions configures ActivationPatching.
type PatchOptions struct {
	// Sites lists the site families to sweep; nil means AllSites.
	Sites []string
	// FullRecompute runs every patched pass from the embedding instead of
	// starting at the patched block from the corrupted run's residual
	// stream. Both give the same values; it exists to check that.
	FullRecompute bool
	// Progress, if set, is called after each patched forward pass.
	Progress func(done, total int)
	// Hooks, if set, are forward hooks applied to every run, clean,
	// corrupted and patched, before the method's own (for example an
	// ablation that holds throughout the experiment).
	Hooks *hooks.Hooks
}

// PatchResult is a denoising activation-patching map. Each value is
// (M_patched − M_corrupt) / (M_clean − M_corrupt): 1 where patching the clean
// activation in restores the clean behaviour, 0 where it changes nothing.
type PatchResult struct {
	CleanValue   float64 `json:"clean_value"`   // M on the clean prompt
	CorruptValue float64 `json:"corrupt_value"` // M on the corrupted prompt
	// Sites maps a family to values by layer, then by position (resid_pre,
	// attn_out, mlp_out) or by head (z).
	Sites map[string][][]float64 `json:"sites"`
}

// ErrNoEffect is returned when the clean and corrupted prompts give the same
// metric, so the normalized patching effect is undefined.
var ErrNoEffect = errors.New("clean and corrupted prompts give the same logit difference")

// Validate checks a task against the model: equal, non-zero lengths within
// the context, and ids within the vocabulary.
func (t Task) Validate(m *transformer.Model) error {
	if len(t.Clean) == 0 {
		return fmt.Errorf("interp: clean prompt has no tokens")
	}
	if len(t.Clean) != len(t.Corrupt) {
		return fmt.Errorf("interp: clean prompt has %d tokens and corrupted prompt %d; patching needs equal lengths", len(t.Clean), len(t.Corrupt))
	}
	if len(t.Clean) > m.NCtx {
		return fmt.Errorf("interp: prompt of %d tokens exceeds the context length %d", len(t.Clean), m.NCtx)
	}
	for _, id := range []int32{t.Answer, t.Wrong} {
		if id < 0 || int(id) >= m.VocabSize {
			return fmt.Errorf("interp: token id %d out of range [0, %d)", id, m.VocabSize)
		}
	}
	return nil
}

// logitDiff returns logit[answer] − logit[wrong] at the last position.
func logitDiff(out *transformer.Output, t Task) float64 {
	row := out.Row(0, 0)
	return float64(row[t.Answer]) - float64(row[t.Wrong])
}

// ActivationPatching runs denoising activation patching: for every site of
// the requested families it reruns the corrupted prompt with that site's
// clean activation written in, and reports the normalized metric. A patch at
// block L reuses the corrupted run's residual stream entering L, so each
// patched pass computes only blocks L and later.
func ActivationPatching(m *transformer.Model, task Task, opts PatchOptions) (*PatchResult, error) {
	if err := task.Validate(m); err != nil {
		return nil, err
	}
	sites, err := checkPatchSites(opts.Sites)
	if err != nil {
		return nil, err
	}
	var patterns runPatterns
	addPatchPatterns(&patterns, sites)
	runs, err := recordRuns(m, task, patterns, opts.Hooks, false)
	if err != nil {
		return nil, err
	}
	return runs.patch(m, sites, opts)
}

// checkPatchSites returns the site families to sweep, or AllSites for nil.
func checkPatchSites(sites []string) ([]string, error) {
	if sites == nil {
		return AllSites, nil
	}
	for _, s := range sites {
		if !slices.Contains(AllSites, s) {
			if slices.Contains(AttributionSites, s) {
				return nil, fmt.Errorf("interp: site %q is scored by attribution only (interp.Attribute); patching sweeps resid_pre, attn_out, mlp_out and z", s)
			}
			return nil, fmt.Errorf("interp: unknown site %q (valid: resid_pre, attn_out, mlp_out, z)", s)
		}
	}
	return sites, nil
}

// addPatchPatterns adds the points that patching reads: the sites' clean
// activations, and the corrupted residual stream where patched runs start.
func addPatchPatterns(p *runPatterns, sites []string) {
	p.add(sites, false)
	p.addCorrupt(residPrePattern)
}

// patch sweeps the sites with patched runs of the corrupted prompt, each
// with one site's clean activation written in.
func (r *taskRuns) patch(m *transformer.Model, sites []string, opts PatchOptions) (*PatchResult, error) {
	res := &PatchResult{
		CleanValue:   r.cleanValue,
		CorruptValue: r.corruptValue,
		Sites:        map[string][][]float64{},
	}
	denom := res.CleanValue - res.CorruptValue
	if denom == 0 {
		return nil, fmt.Errorf("interp: %w (%g)", ErrNoEffect, res.CleanValue)
	}

	seq := len(r.task.Clean)
	total := patchedPasses(m, sites, seq)
	done := 0
	for _, s := range sites {
		kind := siteKinds[s]
		values := make([][]float64, m.NLayers)
		for l := range m.NLayers {
			p := hooks.Point{Layer: l, Kind: kind}
			src, _ := r.clean.Get(p.Name())
			var start *hooks.Tensor
			if !opts.FullRecompute && l > 0 {
				start = r.corruptResidPre(l)
			}
			values[l] = make([]float64, width(m, s, seq))
			// Patched passes of one layer share their input, so several
			// run as one batch, whose products then run at matrix-matrix
			// speed. Extra hooks keep one pass per site, because they were
			// written for one sequence.
			batch := max(1, patchBatchTokens/seq)
			if r.extra != nil || opts.FullRecompute {
				batch = 1
			}
			for lo := 0; lo < len(values[l]); lo += batch {
				hi := min(len(values[l]), lo+batch)
				metrics, err := patchedRuns(m, r.task, p, src, start, lo, hi, r.extra)
				if err != nil {
					return nil, fmt.Errorf("interp: patching %s: %w", p.Name(), err)
				}
				for i, v := range metrics {
					values[l][lo+i] = (v - res.CorruptValue) / denom
				}
				done += hi - lo
				if opts.Progress != nil {
					opts.Progress(done, total)
				}
			}
		}
		res.Sites[s] = values
	}
	return res, nil
}

// patchedPasses returns the number of patched runs of a sweep of one task
// of seq tokens: one per site.
func patchedPasses(m *transformer.Model, sites []string, seq int) int {
	total := 0
	for _, s := range sites {
		total += m.NLayers * width(m, s, seq)
	}
	return total
}

// width returns the number of sites per layer of a family: positions, or
// heads for z.
func width(m *transformer.Model, site string, seq int) int {
	if site == SiteZ {
		return m.NHeads
	}
	return seq
}

// patchBatchTokens bounds the tokens of one batch of patched passes, so
// that a batch's buffers stay small (about 20 MB of MLP activations for
// GPT-2 small).
const patchBatchTokens = 1024

// patchedRuns runs the corrupted prompt once for each site index in
// [lo, hi) of point p, as one batch, with src's value at that index (a
// position, or a head for z) written in, and returns each run's metric.
// start, if set, is the corrupted run's residual stream entering p's block,
// where the runs then start.
func patchedRuns(m *transformer.Model, task Task, p hooks.Point, src, start *hooks.Tensor, lo, hi int, extra *hooks.Hooks) ([]float64, error) {
	n, seq := hi-lo, len(task.Corrupt)
	h := extra.Clone()
	h.Add(p.Name(), func(x *hooks.Tensor, at hooks.Point) error {
		size := len(x.Data) / n
		for b := range n {
			one := x
			if n > 1 {
				one = &hooks.Tensor{Shape: x.Shape[1:], Data: x.Data[b*size : (b+1)*size]}
			}
			patch := hooks.ReplacePosition(src, lo+b)
			if p.Kind == hooks.Z {
				patch = hooks.ReplaceHead(src, lo+b)
			}
			if err := patch(one, at); err != nil {
				return err
			}
		}
		return nil
	})

	opts := &transformer.Options{Hooks: h}
	if start != nil {
		opts.StartLayer = p.Layer
		opts.StartResid = &hooks.Tensor{Shape: []int{n, seq, m.DModel}, Data: make([]float32, 0, n*len(start.Data))}
		for range n {
			opts.StartResid.Data = append(opts.StartResid.Data, start.Data...)
		}
	}
	in := transformer.Input{Tokens: make([][]int32, n)}
	for b := range in.Tokens {
		in.Tokens[b] = task.Corrupt
	}
	st, err := m.NewState(n, seq)
	if err != nil {
		return nil, err
	}
	out, err := m.Forward(st, in, opts)
	if err != nil {
		return nil, err
	}
	metrics := make([]float64, n)
	for b := range n {
		row := out.Row(b, 0)
		metrics[b] = float64(row[task.Answer]) - float64(row[task.Wrong])
	}
	return metrics, nil
}
