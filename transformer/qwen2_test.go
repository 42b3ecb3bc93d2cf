package transformer

import (
	"strings"
	"testing"
)

func TestQwen2RequiresQKVBiases(t *testing.T) {
	path := editFixture(t, "qwen2-tiny.gguf", fixtureEdit{drop: []string{"blk.1.attn_k.bias"}})
	err := loadError(t, path)
	if !strings.Contains(err.Error(), `"blk.1.attn_k.bias"`) {
		t.Errorf("error %q does not name the missing bias blk.1.attn_k.bias", err)
	}
}

// TestLinearRopeScalingScalesPositions checks rope.scaling.type = linear
// with factor 2: RoPE turns by half the angle, so positions 0, 2, 4, …
// give the logits that positions 0, 1, 2, … give without scaling.
func TestLinearRopeScalingScalesPositions(t *testing.T) {
	plain := loadModel(t, fixture(t, "qwen2-tiny.gguf"))
	scaled := loadModel(t, editFixture(t, "qwen2-tiny.gguf", fixtureEdit{set: map[string]any{
		"qwen2.rope.scaling.type":   "linear",
		"qwen2.rope.scaling.factor": float32(2),
	}}))
	ids := []int32{72, 101, 108, 108, 111}
	positions := make([]int32, len(ids))
	for i := range positions {
		positions[i] = int32(2 * i)
	}

	want, err := plain.Run(ids, &Options{Logits: AllLogits})
	if err != nil {
		t.Fatal(err)
	}
	st, err := scaled.NewState(1, 2*len(ids))
	if err != nil {
		t.Fatal(err)
	}
	got, err := scaled.Forward(st, Input{Tokens: [][]int32{ids}, Positions: [][]int32{positions}}, &Options{Logits: AllLogits})
	if err != nil {
		t.Fatal(err)
	}
	if d, at := maxAbsDiff(got.Logits.Data, want.Logits.Data); d > 1e-4 {
		t.Errorf("scaled logits at doubled positions differ from unscaled ones by %.2g at %d", d, at)
	}
}

func TestUnsupportedRopeScalingRejected(t *testing.T) {
	path := editFixture(t, "qwen2-tiny.gguf", fixtureEdit{set: map[string]any{
		"qwen2.rope.scaling.type":   "yarn",
		"qwen2.rope.scaling.factor": float32(4),
	}})
	err := loadError(t, path)
	for _, want := range []string{"qwen2.rope.scaling.type", `"yarn"`, "linear"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// TestMistralStyleLlama checks that a llama file with Mistral's settings
// (4 query heads per KV head, and a head width from attention.key_length
// with n_heads·d_head ≠ d_model, as in Mistral Nemo) loads with that shape.
// Its logits are checked against llama.cpp in reference_test.go.
func TestMistralStyleLlama(t *testing.T) {
	m := loadModel(t, fixture(t, "mistral-tiny.gguf"))
	if m.NHeads != 8 || m.NKVHeads != 2 || m.DHead != 16 || m.DModel != 64 {
		t.Errorf("heads %d, KV heads %d, d_head %d, d_model %d; want 8, 2, 16, 64", m.NHeads, m.NKVHeads, m.DHead, m.DModel)
	}
	if m.RopeNeox {
		t.Error("a llama file uses NEOX RoPE, want llama.cpp's NORM type")
	}
}
