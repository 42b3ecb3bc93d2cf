package transformer

import (
	"math/rand/v2"
	"testing"

	"github.com/interp-go/interp/hooks"
)

// The last position's logits of a run must equal Unembed of the residual
// stream leaving the last block there.
func TestUnembedMatchesRunLogits(t *testing.T) {
	for _, name := range append(fixtureModels, "float activations") {
		t.Run(name, func(t *testing.T) {
			var m *Model
			if name == "float activations" {
				m = loadModel(t, fixture(t, "llama-tiny-q8.gguf"))
				m.SetFloatActivations(true)
			} else {
				m = loadModel(t, fixture(t, name))
			}
			ids := testPrompts(t, m)[0]
			last := hooks.Point{Layer: m.NLayers - 1, Kind: hooks.ResidPost}.Name()
			cache := hooks.NewCache(last)
			h := &hooks.Hooks{}
			cache.Attach(h)
			out, err := m.Run(ids, &Options{Hooks: h})
			if err != nil {
				t.Fatal(err)
			}
			resid, _ := cache.Get(last)
			x := resid.Data[(len(ids)-1)*m.DModel:]

			got, err := m.Unembed(x)
			if err != nil {
				t.Fatal(err)
			}
			want := out.Row(0, 0)
			if len(got) != len(want) {
				t.Fatalf("Unembed returned %d logits, want %d", len(got), len(want))
			}
			if d, at := maxAbsDiff(got, want); d > 1e-5 {
				t.Errorf("logit %d differs by %g: got %g, want %g", at, d, got[at], want[at])
			}
		})
	}
}

// MLPDown(z) must equal what a block adds to the residual stream when its
// MLP hidden activation is z, less what it adds for a zero activation. That
// difference removes the down projection's bias, and gemma2's post-norm
// maps a zero activation to zero.
func TestMLPDownMatchesBlockOutput(t *testing.T) {
	for _, name := range append(fixtureModels, "float activations") {
		t.Run(name, func(t *testing.T) {
			var m *Model
			if name == "float activations" {
				m = loadModel(t, fixture(t, "llama-tiny-q8.gguf"))
				m.SetFloatActivations(true)
			} else {
				m = loadModel(t, fixture(t, name))
			}
			ids := testPrompts(t, m)[1]
			layer := m.NLayers - 1
			rng := rand.New(rand.NewPCG(3, 4))
			z := make([]float32, m.DMLP)
			for i := range z {
				z[i] = float32(rng.NormFloat64())
			}

			withZ := mlpOutWithHidden(t, m, ids, layer, z)
			withZero := mlpOutWithHidden(t, m, ids, layer, make([]float32, m.DMLP))
			want := make([]float32, m.DModel)
			for i := range want {
				want[i] = withZ[i] - withZero[i]
			}
			got, err := m.MLPDown(layer, z)
			if err != nil {
				t.Fatal(err)
			}
			if d, at := maxAbsDiff(got, want); d > 1e-4 {
				t.Errorf("element %d differs by %g: got %g, want %g", at, d, got[at], want[at])
			}
		})
	}
}

// mlpOutWithHidden runs ids with blocks.layer.mlp.hook_post set to z at
// every position and returns hook_mlp_out at the first position.
func mlpOutWithHidden(t *testing.T, m *Model, ids []int32, layer int, z []float32) []float32 {
	t.Helper()
	h := &hooks.Hooks{}
	h.Add(hooks.Point{Layer: layer, Kind: hooks.MLPPost}.Name(), func(x *hooks.Tensor, p hooks.Point) error {
		for off := 0; off < len(x.Data); off += len(z) {
			copy(x.Data[off:], z)
		}
		return nil
	})
	out := hooks.Point{Layer: layer, Kind: hooks.MLPOut}.Name()
	cache := hooks.NewCache(out)
	cache.Attach(h)
	if _, err := m.Run(ids, &Options{Hooks: h, Logits: NoLogits}); err != nil {
		t.Fatal(err)
	}
	act, _ := cache.Get(out)
	return act.Data[:m.DModel]
}

func TestUnembedAndMLPDownRejectBadInput(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	if _, err := m.Unembed(make([]float32, m.DModel+1)); err == nil {
		t.Error("Unembed accepted a vector longer than d_model")
	}
	if _, err := m.MLPDown(m.NLayers, make([]float32, m.DMLP)); err == nil {
		t.Error("MLPDown accepted a block past the last")
	}
	if _, err := m.MLPDown(-1, make([]float32, m.DMLP)); err == nil {
		t.Error("MLPDown accepted block -1")
	}
	if _, err := m.MLPDown(0, make([]float32, m.DMLP-1)); err == nil {
		t.Error("MLPDown accepted a vector shorter than d_mlp")
	}
}
