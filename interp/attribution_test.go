package interp

import (
	"math"
	"strings"
	"testing"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// TestAtPExactWhereLinear checks that gradient attribution equals
// activation patching where the path from the site to the metric is
// linear. With the final norm's divisor held fixed (by a forward hook, and
// by the Norm rule in the backward pass, which treats forward hooks as the
// identity), the last block's MLP output reaches the logits through the
// residual sum, the centering (or nothing, for RMSNorm), the norm weight
// and the unembedding: all linear maps.
func TestAtPExactWhereLinear(t *testing.T) {
	for _, name := range []string{"gpt2-tiny.gguf", "llama-tiny.gguf"} {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, name)
			clean, err := m.Tokenizer.Encode("The cat sat on the mat", true)
			if err != nil {
				t.Fatal(err)
			}
			corrupt := append([]int32(nil), clean...)
			corrupt[len(corrupt)-1] = clean[1]
			task := Task{Clean: clean, Corrupt: corrupt, Answer: clean[2], Wrong: clean[3]}
			frozen := &hooks.Hooks{}
			frozen.Add("ln_final.hook_scale", func(x *hooks.Tensor, _ hooks.Point) error {
				for i := range x.Data {
					x.Data[i] = 3
				}
				return nil
			})
			sites := []string{SiteMLPOut}
			patch, err := ActivationPatching(m, task, PatchOptions{Sites: sites, Hooks: frozen})
			if err != nil {
				t.Fatal(err)
			}
			atp, err := Attribute(m, task, AttributeOptions{Method: MethodRelP, Rules: &transformer.RelPRules{Norm: true}, Sites: sites, Hooks: frozen})
			if err != nil {
				t.Fatal(err)
			}
			last := m.NLayers - 1
			denom := patch.CleanValue - patch.CorruptValue
			for i, v := range patch.Sites[SiteMLPOut][last] {
				effect := v * denom
				got := atp.Sites[SiteMLPOut][last][i]
				if math.Abs(got-effect) > 1e-4*(1+math.Abs(effect)) {
					t.Errorf("position %d: AtP %.6f, patching effect %.6f", i, got, effect)
				}
			}
			if e := atp.Sites[SiteMLPOut][last][len(clean)-1]; e == 0 {
				t.Error("the last position's score is 0, so the test checks nothing")
			}
		})
	}
}

// TestIGCompleteness checks integrated gradients' completeness: patching
// every position of block 0's residual stream turns the corrupted run into
// the clean one, so the scores of those sites sum to M_clean − M_corrupt.
func TestIGCompleteness(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	task := demoTask(t)
	res, err := Attribute(m, task, AttributeOptions{Method: MethodIG, Sites: []string{SiteResidPre}, Steps: 32})
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, v := range res.Sites[SiteResidPre][0] {
		sum += v
	}
	want := res.CleanValue - res.CorruptValue
	if math.Abs(sum-want) > 2e-3*math.Max(1, math.Abs(want)) {
		t.Errorf("IG scores of resid_pre at block 0 sum to %.5f, want M_clean − M_corrupt = %.5f", sum, want)
	}
	if res.ForwardPasses != 2+32*m.NLayers || res.BackwardPasses != 32*m.NLayers {
		t.Errorf("passes: %d forward, %d backward", res.ForwardPasses, res.BackwardPasses)
	}
}

func TestAttributeRejects(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	task := demoTask(t)
	if _, err := Attribute(m, task, AttributeOptions{Method: "shap"}); err == nil {
		t.Error("unknown method: no error")
	}
	if _, err := Attribute(m, task, AttributeOptions{Method: MethodAtP, Sites: []string{"resid_post"}}); err == nil {
		t.Error("unknown site: no error")
	}
	if _, err := Attribute(m, task, AttributeOptions{Method: MethodIG, Steps: -1}); err == nil {
		t.Error("negative steps: no error")
	}
}

func TestCorrelationAndTopSites(t *testing.T) {
	attr := &AttributionResult{Sites: map[string][][]float64{SiteZ: {{1, 2}, {3, -8}}}}
	// Effects are values × (clean − corrupt) = values × −2.
	patch := &PatchResult{CleanValue: 0, CorruptValue: 2, Sites: map[string][][]float64{SiteZ: {{-0.5, -1}, {-1.5, 4}}}}
	r := Correlation(attr, patch)
	if math.Abs(r[SiteZ]-1) > 1e-12 {
		t.Errorf("correlation = %g, want 1", r[SiteZ])
	}
	top := TopSitesOf(attr.Sites, SiteZ, 2)
	if len(top) != 2 || top[0] != (SiteScore{SiteZ, 1, 1, -8}) || top[1] != (SiteScore{SiteZ, 1, 0, 3}) {
		t.Errorf("top sites = %+v", top)
	}
	flat := &AttributionResult{Sites: map[string][][]float64{SiteZ: {{1, 1}, {1, 1}}}}
	if r := Correlation(flat, patch); r[SiteZ] != 0 {
		t.Errorf("correlation of constant scores = %g, want 0", r[SiteZ])
	}
}

// TestAttributeDatasetOfOneTask checks that a dataset of one task gives
// that task's scores, since the normalization cancels.
func TestAttributeDatasetOfOneTask(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	task := demoTask(t)
	opts := AttributeOptions{Method: MethodAtP, Sites: []string{SiteZ}}
	one, err := Attribute(m, task, opts)
	if err != nil {
		t.Fatal(err)
	}
	set, err := AttributeDataset(m, []Task{task}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for l, row := range one.Sites[SiteZ] {
		for i, v := range row {
			if got := set.Sites[SiteZ][l][i]; math.Abs(got-v) > 1e-9*(1+math.Abs(v)) {
				t.Errorf("z layer %d head %d: dataset %g, task %g", l, i, got, v)
			}
		}
	}
}

// TestAttributeNeuronAndPatternSites checks the shapes of the
// attribution-only families (a value per neuron, a value per head, query
// and key), that masked pattern entries score 0, and that patching rejects
// them.
func TestAttributeNeuronAndPatternSites(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	task := demoTask(t)
	res, err := Attribute(m, task, AttributeOptions{Method: MethodAtP, Sites: []string{SiteMLPPost, SitePattern}})
	if err != nil {
		t.Fatal(err)
	}
	seq := len(task.Clean)
	for l := range m.NLayers {
		if got := len(res.Sites[SiteMLPPost][l]); got != m.DMLP {
			t.Errorf("mlp_post layer %d: %d values, want d_mlp %d", l, got, m.DMLP)
		}
		if got := len(res.Sites[SitePattern][l]); got != m.NHeads*seq*seq {
			t.Errorf("pattern layer %d: %d values, want %d", l, got, m.NHeads*seq*seq)
		}
		// Masked entries (key after query) are 0 in both runs, so they
		// score 0.
		for h := range m.NHeads {
			if v := res.Sites[SitePattern][l][(h*seq+0)*seq+1]; v != 0 {
				t.Errorf("pattern layer %d head %d: masked entry (0, 1) scores %g", l, h, v)
			}
		}
	}
	var neurons float64
	for _, v := range res.Sites[SiteMLPPost][0] {
		neurons += v
	}
	if neurons == 0 {
		t.Error("every neuron of block 0 scores 0")
	}
	if _, err := ActivationPatching(m, task, PatchOptions{Sites: []string{SiteMLPPost}}); err == nil || !strings.Contains(err.Error(), "attribution only") {
		t.Errorf("patching mlp_post: err = %v", err)
	}
}
