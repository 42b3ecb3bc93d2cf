package interp

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interp-go/interp/transformer"
)

func loadFixture(t *testing.T, name string) *transformer.Model {
	t.Helper()
	m, err := transformer.Load(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	// The references compute with float activations; llama.cpp's rounding
	// before quantized and F16 products would also make the path from a
	// site to the logits nonlinear.
	m.SetFloatActivations(true)
	return m
}

// demoTask reads the bundled demo task's token ids.
func demoTask(t *testing.T) Task {
	t.Helper()
	var d struct {
		CleanIDs   []int32 `json:"clean_ids"`
		CorruptIDs []int32 `json:"corrupt_ids"`
		AnswerID   int32   `json:"answer_id"`
		WrongID    int32   `json:"wrong_id"`
	}
	data, err := os.ReadFile(filepath.Join("..", "testdata", "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return Task{Clean: d.CleanIDs, Corrupt: d.CorruptIDs, Answer: d.AnswerID, Wrong: d.WrongID}
}

// TestPatchReuseMatchesFullRecompute checks that starting each patched pass
// at the patched block from the corrupted run's residual stream gives the
// values of patched passes run from the embedding.
func TestPatchReuseMatchesFullRecompute(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	task := demoTask(t)
	fast, err := ActivationPatching(m, task, PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	full, err := ActivationPatching(m, task, PatchOptions{FullRecompute: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, site := range AllSites {
		for l := range full.Sites[site] {
			for i, want := range full.Sites[site][l] {
				if got := fast.Sites[site][l][i]; math.Abs(got-want) > 1e-5 {
					t.Errorf("%s layer %d index %d: reused %.6f, full %.6f", site, l, i, got, want)
				}
			}
		}
	}
}

// TestPatchEndpoints checks values that hold for any model. The demo
// prompts differ only at position 9, so patching the residual stream
// entering block 0 there turns the corrupted run into the clean one (1),
// and patching a position where both prompts agree changes nothing (0).
func TestPatchEndpoints(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	task := demoTask(t)
	res, err := ActivationPatching(m, task, PatchOptions{Sites: []string{SiteResidPre}})
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Sites[SiteResidPre][0][0]; math.Abs(v) > 1e-5 {
		t.Errorf("resid_pre layer 0 position 0 (same token in both prompts) = %g, want 0", v)
	}
	// The prompts differ only at position 9, so patching it in block 0
	// turns the corrupted run into the clean one.
	if v := res.Sites[SiteResidPre][0][9]; math.Abs(v-1) > 1e-4 {
		t.Errorf("resid_pre layer 0 position 9 (the only differing token) = %g, want 1", v)
	}
	if len(res.Sites) != 1 {
		t.Errorf("sites %v, want only resid_pre", res.Sites)
	}
}

func TestPatchShapes(t *testing.T) {
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
			res, err := ActivationPatching(m, task, PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, site := range AllSites {
				layers := res.Sites[site]
				if len(layers) != m.NLayers {
					t.Fatalf("%s: %d layers, want %d", site, len(layers), m.NLayers)
				}
				want := len(clean)
				if site == SiteZ {
					want = m.NHeads
				}
				for l, row := range layers {
					if len(row) != want {
						t.Errorf("%s layer %d: %d values, want %d", site, l, len(row), want)
					}
				}
			}
		})
	}
}

func TestPatchRejects(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	task := demoTask(t)
	cases := []struct {
		name string
		edit func(*Task)
		opts PatchOptions
		want string
	}{
		{"length mismatch", func(t *Task) { t.Corrupt = t.Corrupt[1:] }, PatchOptions{}, "equal lengths"},
		{"empty", func(t *Task) { t.Clean, t.Corrupt = nil, nil }, PatchOptions{}, "no tokens"},
		{"answer out of range", func(t *Task) { t.Answer = -1 }, PatchOptions{}, "out of range"},
		{"unknown site", func(*Task) {}, PatchOptions{Sites: []string{"resid_post"}}, `unknown site "resid_post"`},
		{"same prompts", func(t *Task) { t.Corrupt = t.Clean }, PatchOptions{}, "same logit difference"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := task
			c.edit(&bad)
			_, err := ActivationPatching(m, bad, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := ActivationPatching(m, Task{Clean: task.Clean, Corrupt: task.Clean, Answer: 1, Wrong: 2}, PatchOptions{}); !errors.Is(err, ErrNoEffect) {
		t.Errorf("identical prompts: err = %v, want ErrNoEffect", err)
	}
}

func TestPatchDatasetAlignsAtEnd(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	long := demoTask(t)
	short := Task{Clean: long.Clean[2:], Corrupt: long.Corrupt[2:], Answer: long.Answer, Wrong: long.Wrong}
	opts := PatchOptions{Sites: []string{SiteMLPOut, SiteZ}}
	a, err := ActivationPatching(m, long, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ActivationPatching(m, short, opts)
	if err != nil {
		t.Fatal(err)
	}
	avg, err := PatchDataset(m, []Task{long, short}, opts)
	if err != nil {
		t.Fatal(err)
	}
	row := avg.Sites[SiteMLPOut][0]
	if len(row) != len(long.Clean) {
		t.Fatalf("mlp_out row has %d values, want %d", len(row), len(long.Clean))
	}
	// Positions 0 and 1 exist only in the long task.
	if want := a.Sites[SiteMLPOut][0][1]; math.Abs(row[1]-want) > 1e-9 {
		t.Errorf("position 1 = %g, want the long task's %g", row[1], want)
	}
	last := len(row) - 1
	if want := (a.Sites[SiteMLPOut][0][last] + b.Sites[SiteMLPOut][0][last-2]) / 2; math.Abs(row[last]-want) > 1e-9 {
		t.Errorf("last position = %g, want the mean %g", row[last], want)
	}
	if want := (a.Sites[SiteZ][1][0] + b.Sites[SiteZ][1][0]) / 2; math.Abs(avg.Sites[SiteZ][1][0]-want) > 1e-9 {
		t.Errorf("z layer 1 head 0 = %g, want the mean %g", avg.Sites[SiteZ][1][0], want)
	}
	if want := (a.CleanValue + b.CleanValue) / 2; math.Abs(avg.CleanValue-want) > 1e-9 {
		t.Errorf("clean value = %g, want the mean %g", avg.CleanValue, want)
	}
}

func TestDatasetErrorNamesTask(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	good := demoTask(t)
	bad := Task{Clean: good.Clean, Corrupt: good.Clean, Answer: good.Answer, Wrong: good.Wrong}
	_, err := PatchDataset(m, []Task{good, bad}, PatchOptions{Sites: []string{SiteZ}})
	if !errors.Is(err, ErrNoEffect) {
		t.Fatalf("err = %v, want ErrNoEffect", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "interp: task 2: ") || strings.Count(msg, "interp:") != 1 {
		t.Errorf("error %q should name task 2 once, with one package prefix", msg)
	}
}
