package transformer

import (
	"fmt"
	"math"
	"testing"

	"github.com/interp-go/interp/hooks"
)

func TestGemma2Config(t *testing.T) {
	m := loadModel(t, fixture(t, "gemma2-tiny.gguf"))
	if m.AttnSoftCap != 5 || m.FinalSoftCap != 10 {
		t.Errorf("soft caps %g (attention) and %g (logits), want 5 and 10", m.AttnSoftCap, m.FinalSoftCap)
	}
	if want := float32(1 / math.Sqrt(32)); m.AttnScale != want {
		t.Errorf("attention scale %g, want 1/sqrt(d_head) = %g", m.AttnScale, want)
	}
	if m.SlidingWindow != 4 || !m.SlidingLayer(0) || m.SlidingLayer(1) {
		t.Errorf("window %d on blocks 0 %v and 1 %v, want 4 on block 0 only", m.SlidingWindow, m.SlidingLayer(0), m.SlidingLayer(1))
	}
}

// TestGemma2Defaults checks llama.cpp's defaults for a file without the
// soft-capping and window keys: caps 50 and 30, a window of 4096.
func TestGemma2Defaults(t *testing.T) {
	path := editFixture(t, "gemma2-tiny.gguf", fixtureEdit{set: map[string]any{
		"gemma2.attn_logit_softcapping":   nil,
		"gemma2.final_logit_softcapping":  nil,
		"gemma2.attention.sliding_window": nil,
	}})
	m := loadModel(t, path)
	if m.AttnSoftCap != 50 || m.FinalSoftCap != 30 || m.SlidingWindow != 4096 {
		t.Errorf("caps %g and %g, window %d; want 50, 30 and 4096", m.AttnSoftCap, m.FinalSoftCap, m.SlidingWindow)
	}
}

func TestGemma2SoftCapBoundsLogits(t *testing.T) {
	m := loadModel(t, fixture(t, "gemma2-tiny.gguf"))
	out, err := m.Run(testPrompts(t, m)[2], &Options{Logits: AllLogits})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out.Logits.Data {
		if math.Abs(float64(v)) >= 10 {
			t.Fatalf("logit %d = %g, outside the soft cap ±10", i, v)
		}
	}
}

// TestGemma2SlidingWindowMasks checks the attention pattern: block 0 (a
// sliding-window block) gives no weight to keys 4 or more positions back,
// and block 1 (global) does.
func TestGemma2SlidingWindowMasks(t *testing.T) {
	m := loadModel(t, fixture(t, "gemma2-tiny.gguf"))
	ids := []int32{72, 101, 108, 108, 111, 32, 119, 111}
	seq := len(ids)
	cache := hooks.NewCache("blocks.*.attn.hook_pattern")
	h := &hooks.Hooks{}
	cache.Attach(h)
	if _, err := m.Run(ids, &Options{Hooks: h}); err != nil {
		t.Fatal(err)
	}
	for l, wantMasked := range []bool{true, false} {
		pattern, _ := cache.Get(fmt.Sprintf("blocks.%d.attn.hook_pattern", l))
		far := 0.0 // attention weight on keys at distance ≥ 4
		for head := range m.NHeads {
			for q := range seq {
				for k := 0; k <= q-4; k++ {
					far += float64(pattern.Data[(head*seq+q)*seq+k])
				}
			}
		}
		if wantMasked && far != 0 {
			t.Errorf("block %d: weight %g on keys outside the 4-token window, want 0", l, far)
		}
		if !wantMasked && far == 0 {
			t.Errorf("block %d: no weight on keys 4 or more back, want global attention", l)
		}
	}
}
