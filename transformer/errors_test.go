package transformer

import (
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/interp-go/interp/gguf"
	"github.com/interp-go/interp/hooks"
)

// rewriteFixture copies a fixture's metadata and tensors into a new file,
// letting edit change the metadata first, and returns the new path.
func rewriteFixture(t *testing.T, name string, edit func(key string, value any) (any, bool)) string {
	t.Helper()
	f, err := gguf.Open(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, kv := range f.KV {
		value, keep := edit(kv.Key, kv.Value)
		if !keep {
			continue
		}
		if err := w.Add(kv.Key, value); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range f.Tensors {
		data, err := f.TensorBytes(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "edited.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadRejects(t *testing.T) {
	cases := []struct {
		name string
		edit func(key string, value any) (any, bool)
		want []string
	}{
		{
			"unknown architecture",
			func(key string, value any) (any, bool) {
				if key == "general.architecture" {
					return "mamba", true
				}
				return value, true
			},
			[]string{`unsupported architecture "mamba"`, "gpt2, llama"},
		},
		{
			"missing block count",
			func(key string, value any) (any, bool) { return value, key != "gpt2.block_count" },
			[]string{"missing metadata key gpt2.block_count"},
		},
		{
			"negative norm epsilon",
			func(key string, value any) (any, bool) {
				if key == "gpt2.attention.layer_norm_epsilon" {
					return float32(-1), true
				}
				return value, true
			},
			[]string{"gpt2.attention.layer_norm_epsilon = -1", "must be positive"},
		},
		{
			"heads do not divide width",
			func(key string, value any) (any, bool) {
				if key == "gpt2.attention.head_count" {
					return uint32(5), true
				}
				return value, true
			},
			[]string{"gpt2.attention.head_count = 5", "must divide the embedding length 64"},
		},
		{
			"wrong tensor shape",
			func(key string, value any) (any, bool) {
				if key == "gpt2.feed_forward_length" {
					return uint32(128), true
				}
				return value, true
			},
			[]string{`tensor "blk.0.ffn_up.weight" has dimensions [64 256], want [64 128]`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := rewriteFixture(t, "gpt2-tiny.gguf", c.edit)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestRunRejects(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	long := make([]int32, m.NCtx+1)
	if _, err := m.Run(long, nil); err == nil || !strings.Contains(err.Error(), "context length") {
		t.Errorf("prompt longer than the context: err = %v", err)
	}
	if _, err := m.Run([]int32{1, int32(m.VocabSize)}, nil); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("token id past the vocabulary: err = %v", err)
	}
	if _, err := m.Run(nil, nil); err == nil {
		t.Error("empty prompt: no error")
	}
	if _, err := m.Generate(long, GenerateOptions{}); err == nil || !strings.Contains(err.Error(), "context length") {
		t.Errorf("generation from a prompt longer than the context: err = %v", err)
	}
}

func TestUnknownHookName(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	h := &hooks.Hooks{}
	h.Add("blocks.0.hook_resid_pree", hooks.Zero())
	_, err := m.Run([]int32{1, 2, 3}, &Options{Hooks: h})
	if !errors.Is(err, hooks.ErrUnknownPoint) {
		t.Fatalf("err = %v, want ErrUnknownPoint", err)
	}
	if !strings.Contains(err.Error(), "blocks.0.hook_resid_pre") {
		t.Errorf("error %q does not list the closest name", err)
	}

	// A Llama-only point is unknown on GPT-2.
	h = &hooks.Hooks{}
	h.Add("blocks.0.attn.hook_rot_q", hooks.Zero())
	if _, err := m.Run([]int32{1, 2, 3}, &Options{Hooks: h}); !errors.Is(err, hooks.ErrUnknownPoint) {
		t.Errorf("hook_rot_q on gpt2: err = %v, want ErrUnknownPoint", err)
	}
}

func TestGenerateRejectsBadSampling(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	for _, g := range []GenerateOptions{
		{Temperature: math.NaN()}, {Temperature: math.Inf(1)}, {Temperature: -1},
		{TopP: 1.5}, {TopP: math.NaN()}, {TopK: -2}, {MaxTokens: -1},
	} {
		if _, err := m.Generate([]int32{1, 2}, g); err == nil {
			t.Errorf("%+v: no error", g)
		}
	}
}

// TestGenerateStopsOnNaNLogits checks that generation fails instead of
// emitting a token when a hook makes the logits NaN.
func TestGenerateStopsOnNaNLogits(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	h := &hooks.Hooks{}
	h.Add("ln_final.hook_normalized", func(t *hooks.Tensor, _ hooks.Point) error {
		t.Data[len(t.Data)-1] = float32(math.NaN())
		return nil
	})
	out, err := m.Generate([]int32{1, 2}, GenerateOptions{MaxTokens: 3, Options: &Options{Hooks: h}})
	if err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("generated %v with error %v, want an error about NaN logits", out, err)
	}
	if len(out) != 0 {
		t.Errorf("generated %v, want no tokens", out)
	}
}

// TestFailedForwardLeavesStateUnchanged checks that a run stopped by a
// hook error leaves the KV cache's positions as they were, so the next run
// on the state gives the logits of a fresh one.
func TestFailedForwardLeavesStateUnchanged(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	ids := []int32{10, 20, 30, 40}
	st, err := m.NewState(1, 8)
	if err != nil {
		t.Fatal(err)
	}
	h := &hooks.Hooks{}
	h.Add("blocks.1.hook_resid_pre", func(*hooks.Tensor, hooks.Point) error { return errors.New("stop") })
	if _, err := m.Forward(st, Input{Tokens: [][]int32{ids}}, &Options{Hooks: h}); err == nil {
		t.Fatal("the failing hook did not stop the run")
	}
	again, err := m.Forward(st, Input{Tokens: [][]int32{ids}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := m.Run(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Logits.Data, fresh.Logits.Data) {
		t.Error("a run after a failed one differs from a fresh run")
	}
}

func TestForwardRejectsShortMask(t *testing.T) {
	m := loadModel(t, fixture(t, "gpt2-tiny.gguf"))
	st, err := m.NewState(2, 4)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Tokens: [][]int32{{1, 2}, {3, 4}}, Mask: [][]bool{{true, true}}}
	if _, err := m.Forward(st, in, nil); err == nil || !strings.Contains(err.Error(), "one row per sequence") {
		t.Errorf("err = %v", err)
	}
}
