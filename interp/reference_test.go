package interp

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
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
