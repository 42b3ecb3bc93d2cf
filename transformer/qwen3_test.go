package transformer

import (
	"slices"
	"strings"
	"testing"

	"github.com/interp-go/interp/hooks"
)

func TestQwen3HeadWidthFromKeyLength(t *testing.T) {
	m := loadModel(t, fixture(t, "qwen3-tiny.gguf"))
	if m.DHead != 32 || m.NHeads*m.DHead == m.DModel {
		t.Errorf("d_head %d with %d heads and d_model %d; want d_head 32 from qwen3.attention.key_length", m.DHead, m.NHeads, m.DModel)
	}
}

// TestQwen3HookQIsNormalized checks that hook_q and hook_k come after the
// per-head norms and right before RoPE: RoPE leaves position 0 unchanged,
// so there hook_rot_q must equal hook_q, and hook_rot_k hook_k.
func TestQwen3HookQIsNormalized(t *testing.T) {
	m := loadModel(t, fixture(t, "qwen3-tiny.gguf"))
	cache := hooks.NewCache("blocks.0.attn.*")
	h := &hooks.Hooks{}
	cache.Attach(h)
	if _, err := m.Run([]int32{72, 105, 33}, &Options{Hooks: h}); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{"hook_q", "hook_rot_q"}, {"hook_k", "hook_rot_k"}} {
		before, _ := cache.Get("blocks.0.attn." + pair[0])
		after, _ := cache.Get("blocks.0.attn." + pair[1])
		width := before.Shape[1] * before.Shape[2]
		if !slices.Equal(before.Data[:width], after.Data[:width]) {
			t.Errorf("at position 0, %s differs from %s", pair[0], pair[1])
		}
		if slices.Equal(before.Data[width:], after.Data[width:]) {
			t.Errorf("after position 0, %s equals %s: RoPE did nothing", pair[0], pair[1])
		}
	}
}

func TestQwen3RequiresQKNorms(t *testing.T) {
	path := editFixture(t, "qwen3-tiny.gguf", fixtureEdit{drop: []string{"blk.0.attn_q_norm.weight"}})
	err := loadError(t, path)
	if !strings.Contains(err.Error(), `"blk.0.attn_q_norm.weight"`) {
		t.Errorf("error %q does not name the missing tensor blk.0.attn_q_norm.weight", err)
	}
}

func TestValueLengthMustEqualKeyLength(t *testing.T) {
	path := editFixture(t, "qwen3-tiny.gguf", fixtureEdit{set: map[string]any{"qwen3.attention.value_length": uint32(16)}})
	err := loadError(t, path)
	if !strings.Contains(err.Error(), "qwen3.attention.value_length = 16") {
		t.Errorf("error %q does not name qwen3.attention.value_length = 16", err)
	}
}
