package interp

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/interp-go/interp/transformer"
)

// patchGolden is a patching golden made by testdata/reference/reference.py
// (NumPy, float64); testdata/reference/README.md gives the command.
type patchGolden struct {
	CleanIDs     []int32                `json:"clean_ids"`
	CorruptIDs   []int32                `json:"corrupt_ids"`
	AnswerID     int32                  `json:"answer_id"`
	WrongID      int32                  `json:"wrong_id"`
	CleanValue   float64                `json:"clean_value"`
	CorruptValue float64                `json:"corrupt_value"`
	Sites        map[string][][]float64 `json:"sites"`
}

func TestPatchingMatchesReference(t *testing.T) {
	for _, name := range []string{"gpt2-tiny", "llama-tiny", "llama-tiny-q8"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "testdata", "reference", "golden", name+".patch.json"))
			if err != nil {
				t.Fatal(err)
			}
			var g patchGolden
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			m := loadFixture(t, name+".gguf")
			task := Task{Clean: g.CleanIDs, Corrupt: g.CorruptIDs, Answer: g.AnswerID, Wrong: g.WrongID}
			res, err := ActivationPatching(m, task, PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(res.CleanValue - g.CleanValue); d > 1e-3 {
				t.Errorf("clean value %g, golden %g", res.CleanValue, g.CleanValue)
			}
			if d := math.Abs(res.CorruptValue - g.CorruptValue); d > 1e-3 {
				t.Errorf("corrupt value %g, golden %g", res.CorruptValue, g.CorruptValue)
			}
			worst := 0.0
			for _, site := range AllSites {
				want := g.Sites[site]
				if len(res.Sites[site]) != len(want) {
					t.Fatalf("%s: %d layers, golden %d", site, len(res.Sites[site]), len(want))
				}
				for l := range want {
					for i := range want[l] {
						d := math.Abs(res.Sites[site][l][i] - want[l][i])
						worst = math.Max(worst, d)
						if d > 1e-3 {
							t.Errorf("%s layer %d index %d: %.6f, golden %.6f", site, l, i, res.Sites[site][l][i], want[l][i])
						}
					}
				}
			}
			t.Logf("max |Δ| over all sites: %.2g", worst)
		})
	}
}

// TestPatchingMatchesPyTorchOnTrainedModel checks the first IOI pair of
// the trained toy GPT-2 against the PyTorch reference's patching (float64),
// whose output testdata/reference/golden/shared-toy-gpt2-ioi.patch.json
// keeps with its command.
func TestPatchingMatchesPyTorchOnTrainedModel(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "models", "toy-gpt2-ioi.gguf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: %s not found (../shared/models is only present in CI and development checkouts)", path)
	}
	data, err := os.ReadFile(filepath.Join("..", "testdata", "reference", "golden", "shared-toy-gpt2-ioi.patch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g patchGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	m, err := transformer.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := ActivationPatching(m, Task{Clean: g.CleanIDs, Corrupt: g.CorruptIDs, Answer: g.AnswerID, Wrong: g.WrongID}, PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(res.CleanValue - g.CleanValue); d > 1e-3 {
		t.Errorf("clean value %g, PyTorch %g", res.CleanValue, g.CleanValue)
	}
	worst := 0.0
	for _, site := range AllSites {
		for l := range g.Sites[site] {
			for i, want := range g.Sites[site][l] {
				worst = math.Max(worst, math.Abs(res.Sites[site][l][i]-want))
			}
		}
	}
	t.Logf("max |Δ| over all sites: %.2g", worst)
	if worst > 1e-3 {
		t.Errorf("patching differs from PyTorch's by up to %.2g, want ≤ 1e-3", worst)
	}
	// The trained model routes the name through the S2 position: patching
	// the residual stream there restores most of the clean logit difference.
	if v := res.Sites[SiteResidPre][0][11]; v < 0.8 {
		t.Errorf("resid_pre layer 0 at S2 (position 11) = %.2f, want close to 1", v)
	}
}

// TestAttributionMatchesReference compares AtP and RelP scores with the
// PyTorch reference's (testdata/reference/attribution.py) within 1e-3 of
// the largest score of each family.
func TestAttributionMatchesReference(t *testing.T) {
	for _, name := range []string{"gpt2-tiny", "llama-tiny"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "testdata", "reference", "golden", name+".attribution.json"))
			if err != nil {
				t.Fatal(err)
			}
			var g struct {
				patchGolden
				AtP  struct{ Sites map[string][][]float64 } `json:"atp"`
				RelP struct{ Sites map[string][][]float64 } `json:"relp"`
			}
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			m := loadFixture(t, name+".gguf")
			task := Task{Clean: g.CleanIDs, Corrupt: g.CorruptIDs, Answer: g.AnswerID, Wrong: g.WrongID}
			for method, want := range map[string]map[string][][]float64{MethodAtP: g.AtP.Sites, MethodRelP: g.RelP.Sites} {
				res, err := Attribute(m, task, AttributeOptions{Method: method})
				if err != nil {
					t.Fatal(err)
				}
				for _, site := range AllSites {
					largest := 0.0
					for _, row := range want[site] {
						for _, v := range row {
							largest = math.Max(largest, math.Abs(v))
						}
					}
					worst := 0.0
					for l, row := range want[site] {
						for i, v := range row {
							worst = math.Max(worst, math.Abs(res.Sites[site][l][i]-v))
						}
					}
					if worst > 1e-3*largest {
						t.Errorf("%s %s: max |Δ| %.2g, largest score %.2g", method, site, worst, largest)
					}
				}
			}
		})
	}
}
