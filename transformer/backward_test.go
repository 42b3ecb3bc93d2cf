package transformer

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/interp-go/interp/hooks"
)

// logitDiffGrad returns the gradient of logit[answer] − logit[wrong] at the
// last position with respect to LastLogits output of one sequence.
func logitDiffGrad(vocab int, answer, wrong int32) *hooks.Tensor {
	d := hooks.NewTensor(1, 1, vocab)
	d.Data[answer] = 1
	d.Data[wrong] = -1
	return d
}

// backwardGradients runs ids forward with a tape and backward from the
// logit difference, and returns every hook point's gradient and the weight
// gradients.
func backwardGradients(t *testing.T, m *Model, ids []int32, answer, wrong int32, rules RelPRules) (*hooks.Cache, *Gradients) {
	t.Helper()
	tape := NewTape()
	if _, err := m.Run(ids, &Options{Tape: tape}); err != nil {
		t.Fatal(err)
	}
	cache := hooks.NewCache("*")
	bh := &hooks.Hooks{}
	cache.Attach(bh)
	grads, err := m.Backward(tape, logitDiffGrad(m.VocabSize, answer, wrong), &BackwardOptions{Hooks: bh, Rules: rules, Params: true})
	if err != nil {
		t.Fatal(err)
	}
	return cache, grads
}

// relDiff returns max |a − b| over max |b|, with b the reference.
func relDiff(a, b []float32) float64 {
	worst, scale := 0.0, 0.0
	for i := range b {
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	if scale == 0 {
		return worst
	}
	return worst / scale
}

// TestBackwardMatchesPyTorch compares every hook point's gradient, the
// RelP coefficients and some weight gradients with PyTorch's float64
// autograd (testdata/reference/grads.py), on two fixtures and on the
// trained stories260K model when the shared model folder is present.
func TestBackwardMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"gpt2-tiny", "llama-tiny", "shared-stories260K"} {
		t.Run(name, func(t *testing.T) {
			var m *Model
			if model, ok := strings.CutPrefix(name, "shared-"); ok {
				m = loadModel(t, sharedModel(t, model+".gguf"))
			} else {
				m = loadModel(t, fixture(t, name+".gguf"))
			}
			g := openGolden(t, name+".grads.npz")
			ids := g.ids("ids")
			answer, wrong := g.ids("answer")[0], g.ids("wrong")[0]
			for _, c := range []struct {
				prefix string
				rules  RelPRules
			}{{"grad.", RelPRules{}}, {"relp.", AllRelPRules()}} {
				cache, grads := backwardGradients(t, m, ids, answer, wrong, c.rules)
				checked := 0
				for _, key := range g.r.Keys() {
					key = strings.TrimSuffix(key, ".npy")
					point, ok := strings.CutPrefix(key, c.prefix)
					if !ok {
						continue
					}
					want, _ := g.floats(key)
					got, ok := cache.Get(point)
					if !ok {
						t.Errorf("%s: no gradient at %s", c.prefix, point)
						continue
					}
					if d := relDiff(got.Data, want); d > 1e-4 {
						t.Errorf("%s%s: relative difference %.2g, want ≤ 1e-4", c.prefix, point, d)
					}
					checked++
				}
				t.Logf("%s: %d hook gradients checked", c.prefix, checked)
				if c.prefix != "grad." {
					continue
				}
				for _, key := range g.r.Keys() {
					key = strings.TrimSuffix(key, ".npy")
					tensor, ok := strings.CutPrefix(key, "param.")
					if !ok {
						continue
					}
					want, _ := g.floats(key)
					got := grads.Params[tensor]
					if len(got) != len(want) {
						t.Errorf("param %s: %d values, want %d", tensor, len(got), len(want))
						continue
					}
					if d := relDiff(got, want); d > 1e-4 {
						t.Errorf("param %s: relative difference %.2g, want ≤ 1e-4", tensor, d)
					}
				}
			}
		})
	}
}

// TestIdentityBackwardHooksChangeNothing checks that backward hooks that
// leave the gradient alone give bit-identical weight gradients.
func TestIdentityBackwardHooksChangeNothing(t *testing.T) {
	for _, name := range []string{"gpt2-tiny.gguf", "llama-tiny.gguf"} {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, fixture(t, name))
			ids := testPrompts(t, m)[0]
			run := func(h *hooks.Hooks) *Gradients {
				tape := NewTape()
				if _, err := m.Run(ids, &Options{Tape: tape}); err != nil {
					t.Fatal(err)
				}
				grads, err := m.Backward(tape, logitDiffGrad(m.VocabSize, 5, 7), &BackwardOptions{Hooks: h, Params: true})
				if err != nil {
					t.Fatal(err)
				}
				return grads
			}
			plain := run(nil)
			h := &hooks.Hooks{}
			h.Add("*", func(*hooks.Tensor, hooks.Point) error { return nil })
			hooked := run(h)
			for name, want := range plain.Params {
				if !slices.Equal(hooked.Params[name], want) {
					t.Errorf("%s: identity backward hooks changed the gradient", name)
				}
			}
		})
	}
}

// metricAt runs ids with a hook that adds h·dir to the activation at point
// and returns logit[answer] − logit[wrong] at the last position.
func metricAt(t *testing.T, m *Model, ids []int32, point string, dir []float32, h float32, answer, wrong int32) float64 {
	t.Helper()
	hk := &hooks.Hooks{}
	hk.Add(point, func(x *hooks.Tensor, _ hooks.Point) error {
		for i := range x.Data {
			x.Data[i] += h * dir[i]
		}
		return nil
	})
	out, err := m.Run(ids, &Options{Hooks: hk})
	if err != nil {
		t.Fatal(err)
	}
	row := out.Row(0, 0)
	return float64(row[answer]) - float64(row[wrong])
}

// TestBackwardMatchesFiniteDifferences checks, on every architecture's
// fixture, that the gradient at a selection of hook points predicts the
// change of the metric along a random direction, measured by central
// differences of forward runs.
func TestBackwardMatchesFiniteDifferences(t *testing.T) {
	points := []string{
		"hook_embed", "blocks.0.hook_resid_pre", "blocks.0.attn.hook_q", "blocks.0.attn.hook_k",
		"blocks.0.attn.hook_v", "blocks.0.attn.hook_pattern", "blocks.1.attn.hook_z",
		"blocks.0.ln2.hook_scale", "blocks.1.mlp.hook_pre", "blocks.1.mlp.hook_post", "ln_final.hook_normalized",
	}
	for _, name := range fixtureModels {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, fixture(t, name))
			// Finite differences need a smooth forward pass: llama.cpp's
			// rounding of activations before quantized products is a step
			// function.
			m.SetFloatActivations(true)
			ids := testPrompts(t, m)[0]
			const answer, wrong = 5, 7
			cache, _ := backwardGradients(t, m, ids, answer, wrong, RelPRules{})
			rng := rand.New(rand.NewPCG(1, 1))
			for _, point := range points {
				grad, ok := cache.Get(point)
				if !ok {
					t.Errorf("no gradient at %s", point)
					continue
				}
				// A random direction of unit norm, so the step stays small.
				dir := make([]float32, len(grad.Data))
				var norm float64
				for i := range dir {
					dir[i] = float32(rng.NormFloat64())
					norm += float64(dir[i]) * float64(dir[i])
				}
				var predicted float64
				for i := range dir {
					dir[i] /= float32(math.Sqrt(norm))
					predicted += float64(dir[i]) * float64(grad.Data[i])
				}
				const h = 1e-2
				numeric := (metricAt(t, m, ids, point, dir, h, answer, wrong) - metricAt(t, m, ids, point, dir, -h, answer, wrong)) / (2 * h)
				if d := math.Abs(numeric - predicted); d > 2e-3+1e-2*math.Abs(numeric) {
					t.Errorf("%s: gradient predicts %.5f along a random direction, finite differences give %.5f", point, predicted, numeric)
				}
			}
		})
	}
}

// TestRelPConservesRelevance checks layer-wise relevance conservation on a
// Llama model, which has no biases. Under every RelP rule the network is
// linear in each block's residual stream input. So Σ over positions and
// dimensions of resid_pre_L · coefficient_L equals the metric for every L.
func TestRelPConservesRelevance(t *testing.T) {
	m := loadModel(t, fixture(t, "llama-tiny.gguf"))
	ids := testPrompts(t, m)[2]
	const answer, wrong = 5, 7

	fwd := hooks.NewCache("blocks.*.hook_resid_pre")
	fh := &hooks.Hooks{}
	fwd.Attach(fh)
	tape := NewTape()
	out, err := m.Run(ids, &Options{Hooks: fh, Tape: tape})
	if err != nil {
		t.Fatal(err)
	}
	metric := float64(out.Row(0, 0)[answer]) - float64(out.Row(0, 0)[wrong])

	coef := hooks.NewCache("blocks.*.hook_resid_pre")
	bh := &hooks.Hooks{}
	coef.Attach(bh)
	if _, err := m.Backward(tape, logitDiffGrad(m.VocabSize, answer, wrong), &BackwardOptions{Hooks: bh, Rules: AllRelPRules()}); err != nil {
		t.Fatal(err)
	}

	for l := range m.NLayers {
		name := hooks.Point{Layer: l, Kind: hooks.ResidPre}.Name()
		a, _ := fwd.Get(name)
		c, _ := coef.Get(name)
		var sum float64
		for i := range a.Data {
			sum += float64(a.Data[i]) * float64(c.Data[i])
		}
		if math.Abs(sum-metric) > 1e-4*math.Max(1, math.Abs(metric)) {
			t.Errorf("block %d: relevance sums to %.6f, metric is %.6f", l, sum, metric)
		}
	}
}
