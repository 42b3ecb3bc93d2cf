package transformer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/interp-go/interp/hooks"
)

// wantShape returns the shape DESIGN's table gives a point for one sequence
// of seq tokens.
func wantShape(m *Model, p hooks.Point, seq int) []int {
	switch p.Kind {
	case hooks.Ln1Scale, hooks.Ln2Scale, hooks.LnFinalScale:
		return []int{seq, 1}
	case hooks.Q, hooks.RotQ, hooks.Z:
		return []int{seq, m.NHeads, m.DHead}
	case hooks.K, hooks.V, hooks.RotK:
		return []int{seq, m.NKVHeads, m.DHead}
	case hooks.AttnScores, hooks.Pattern:
		return []int{m.NHeads, seq, seq}
	case hooks.MLPPre, hooks.MLPPreLinear, hooks.MLPPost:
		return []int{seq, m.DMLP}
	}
	return []int{seq, m.DModel}
}

func TestEveryPointFiresWithItsShape(t *testing.T) {
	for _, name := range fixtureModels {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, fixture(t, name))
			ids := testPrompts(t, m)[0]
			var seen []string
			h := &hooks.Hooks{}
			h.Add("*", func(x *hooks.Tensor, p hooks.Point) error {
				seen = append(seen, p.Name())
				if want := wantShape(m, p, len(ids)); !slices.Equal(x.Shape, want) {
					t.Errorf("%s: shape %v, want %v", p.Name(), x.Shape, want)
				}
				if len(x.Data) != x.Len() {
					t.Errorf("%s: %d elements for shape %v", p.Name(), len(x.Data), x.Shape)
				}
				return nil
			})
			if _, err := m.Run(ids, &Options{Hooks: h}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seen, m.HookNames()) {
				t.Errorf("hooks fired in order\n%v\nwant\n%v", seen, m.HookNames())
			}
		})
	}
}

func TestBatchedHooksHaveBatchAxis(t *testing.T) {
	m := loadModel(t, fixture(t, "llama-tiny.gguf"))
	prompts := testPrompts(t, m)[:2]
	longest := max(len(prompts[0]), len(prompts[1]))
	h := &hooks.Hooks{}
	h.Add("blocks.0.*", func(x *hooks.Tensor, p hooks.Point) error {
		want := append([]int{2}, wantShape(m, p, longest)...)
		if !slices.Equal(x.Shape, want) {
			t.Errorf("%s: shape %v, want %v", p.Name(), x.Shape, want)
		}
		return nil
	})
	if _, err := m.RunBatch(prompts, &Options{Hooks: h}); err != nil {
		t.Fatal(err)
	}
}

func TestIdentityHooksChangeNothing(t *testing.T) {
	for _, name := range fixtureModels {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, fixture(t, name))
			ids := testPrompts(t, m)[2]
			plain, err := m.Run(ids, &Options{Logits: AllLogits})
			if err != nil {
				t.Fatal(err)
			}
			h := &hooks.Hooks{}
			h.Add("*", func(*hooks.Tensor, hooks.Point) error { return nil })
			hooked, err := m.Run(ids, &Options{Logits: AllLogits, Hooks: h})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(plain.Logits.Data, hooked.Logits.Data) {
				t.Error("identity hooks changed the logits")
			}
		})
	}
}

func TestHookEditsReachLogits(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	ids := testPrompts(t, m)[0]
	plain, err := m.Run(ids, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Zeroing the last block's MLP output, in place and by replacing the
	// slice, must give the same logits, which differ from the plain run's.
	last := fmt.Sprintf("blocks.%d.hook_mlp_out", m.NLayers-1)
	inPlace := &hooks.Hooks{}
	inPlace.Add(last, hooks.Zero())
	a, err := m.Run(ids, &Options{Hooks: inPlace})
	if err != nil {
		t.Fatal(err)
	}
	replaced := &hooks.Hooks{}
	replaced.Add(last, func(x *hooks.Tensor, _ hooks.Point) error {
		x.Data = make([]float32, len(x.Data))
		return nil
	})
	b, err := m.Run(ids, &Options{Hooks: replaced})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.Logits.Data, plain.Logits.Data) {
		t.Error("zeroing the MLP output left the logits unchanged")
	}
	if !slices.Equal(a.Logits.Data, b.Logits.Data) {
		t.Error("replacing the tensor's slice and zeroing in place disagree")
	}
}

func TestHookErrorStopsRun(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	boom := errors.New("boom")
	h := &hooks.Hooks{}
	h.Add("blocks.1.hook_resid_mid", func(*hooks.Tensor, hooks.Point) error { return boom })
	_, err := m.Run([]int32{1, 2}, &Options{Hooks: h})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "blocks.1.hook_resid_mid") {
		t.Errorf("err = %v, want boom naming blocks.1.hook_resid_mid", err)
	}
}

func TestCacheRecordsOnlySelected(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	c := hooks.NewCache("blocks.*.hook_resid_pre", "ln_final.hook_scale")
	h := &hooks.Hooks{}
	c.Attach(h)
	if _, err := m.Run([]int32{1, 2, 3}, &Options{Hooks: h}); err != nil {
		t.Fatal(err)
	}
	want := []string{"blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "ln_final.hook_scale"}
	if !slices.Equal(c.Names(), want) {
		t.Errorf("cached %v, want %v", c.Names(), want)
	}
}

func TestUnhookedPointsDoNotAllocate(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	r := &run{m: m, batch: 1, seq: 3}
	buf := make([]float32, 3*m.DModel)
	allocs := testing.AllocsPerRun(100, func() {
		r.hook(0, hooks.ResidPre, buf, r.seq, m.DModel)
	})
	if allocs != 0 {
		t.Errorf("an unhooked point allocates %v times per call", allocs)
	}
}

// TestScaleHookReachesNormalized doubles ln1's scale and checks that the
// normalized values halve, for LayerNorm and RMSNorm models.
func TestScaleHookReachesNormalized(t *testing.T) {
	for _, name := range []string{"gpt2-tiny.gguf", "llama-tiny.gguf"} {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, fixture(t, name))
			ids := testPrompts(t, m)[0]
			plain := hooks.NewCache("blocks.0.ln1.hook_normalized")
			h := &hooks.Hooks{}
			plain.Attach(h)
			if _, err := m.Run(ids, &Options{Hooks: h}); err != nil {
				t.Fatal(err)
			}
			scaled := hooks.NewCache("blocks.0.ln1.hook_normalized")
			h = &hooks.Hooks{}
			h.Add("blocks.0.ln1.hook_scale", hooks.Scale(2))
			scaled.Attach(h)
			if _, err := m.Run(ids, &Options{Hooks: h}); err != nil {
				t.Fatal(err)
			}
			a, _ := plain.Get("blocks.0.ln1.hook_normalized")
			b, _ := scaled.Get("blocks.0.ln1.hook_normalized")
			for i := range a.Data {
				if d := math.Abs(float64(a.Data[i]/2 - b.Data[i])); d > 1e-6 {
					t.Fatalf("element %d: %g after doubling the scale, want %g", i, b.Data[i], a.Data[i]/2)
				}
			}
		})
	}
}
