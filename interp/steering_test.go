package interp

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// architectureFixtures has one fixture model per supported architecture
// (mistral-tiny is a llama file with Mistral's settings).
var architectureFixtures = []string{"gpt2-tiny", "llama-tiny", "qwen2-tiny", "qwen3-tiny", "phi3-tiny", "gemma2-tiny", "mistral-tiny"}

// steeringGolden is testdata/steering/llama-tiny.references.json, written
// by testdata/reference/steering.py from the PyTorch reference (float64);
// testdata/steering/README.md gives the command.
type steeringGolden struct {
	PositiveIDs [][]int32   `json:"positive_ids"`
	NegativeIDs [][]int32   `json:"negative_ids"`
	MeanDiff    [][]float64 `json:"mean_diff"`
	PCA         [][]float64 `json:"pca"`
	AUSteer     map[string]struct {
		Beta    [][]float64 `json:"beta"`
		Tie     [][]bool    `json:"tie"`
		MinDiff [][]float64 `json:"min_diff"`
		Top8    []Unit      `json:"top8"`
	} `json:"austeer"`
}

func readSteeringGolden(t *testing.T) (*steeringGolden, Contrast) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "steering", "llama-tiny.references.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g steeringGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return &g, Contrast{Positive: g.PositiveIDs, Negative: g.NegativeIDs}
}

// recorder keeps a copy of the tensor of every forward call it sees.
type recorder struct{ calls []*hooks.Tensor }

func (r *recorder) record(t *hooks.Tensor, p hooks.Point) error {
	r.calls = append(r.calls, t.Clone())
	return nil
}

// generateAround generates 4 tokens after a 5-token prompt with attach's
// hooks registered between two recorders at the named point, so that the
// recordings show each forward call's activation before and after the
// steering hook. It checks that every call, prefill and decoding, passed
// through the point.
func generateAround(t *testing.T, m *transformer.Model, name string, attach func(h *hooks.Hooks)) (before, after *recorder) {
	t.Helper()
	before, after = &recorder{}, &recorder{}
	h := &hooks.Hooks{}
	h.Add(name, before.record)
	attach(h)
	h.Add(name, after.record)
	prompt := []int32{1, 2, 3, 4, 5}
	out, err := m.Generate(prompt, transformer.GenerateOptions{MaxTokens: 4, Options: &transformer.Options{Hooks: h}})
	if err != nil {
		t.Fatal(err)
	}
	if len(before.calls) != len(out) || len(after.calls) != len(out) {
		t.Fatalf("%s was reached in %d and %d forward calls, want one per generated token (%d)", name, len(before.calls), len(after.calls), len(out))
	}
	if rows := before.calls[0].Shape[0]; rows != len(prompt) {
		t.Fatalf("prefill call has %d positions, want %d", rows, len(prompt))
	}
	return before, after
}

func randomDirection(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func TestVectorAddedEveryArchitecture(t *testing.T) {
	for _, name := range architectureFixtures {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, name+".gguf")
			rng := rand.New(rand.NewPCG(1, 2))
			v := &Vector{Method: SteerMeanDiff, Point: hooks.ResidPost, Directions: map[int][]float32{
				0: randomDirection(rng, m.DModel),
				1: randomDirection(rng, m.DModel),
			}}
			if err := v.Validate(m); err != nil {
				t.Fatal(err)
			}
			const strength = 1.5
			for _, l := range v.Layers() {
				name := hooks.Point{Layer: l, Kind: hooks.ResidPost}.Name()
				before, after := generateAround(t, m, name, func(h *hooks.Hooks) { v.Attach(h, strength) })
				for c := range before.calls {
					b, a := before.calls[c].Data, after.calls[c].Data
					for i := range b {
						want := b[i] + float32(strength*float64(v.Directions[l][i%m.DModel]))
						if a[i] != want {
							t.Fatalf("%s, call %d, element %d: %g after steering, want %g + %g·direction", name, c, i, a[i], b[i], strength)
						}
					}
				}
			}

			h := &hooks.Hooks{}
			v.Attach(h, strength)
			plain, err := m.Run([]int32{1, 2, 3}, nil)
			if err != nil {
				t.Fatal(err)
			}
			steered, err := m.Run([]int32{1, 2, 3}, &transformer.Options{Hooks: h})
			if err != nil {
				t.Fatal(err)
			}
			if maxAbsDiff(plain.Row(0, 0), steered.Row(0, 0)) < 1e-3 {
				t.Errorf("steering left the logits unchanged")
			}
		})
	}
}

func TestUnitMaskScalesEveryArchitecture(t *testing.T) {
	for _, name := range architectureFixtures {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, name+".gguf")
			for _, block := range Blocks {
				kind, err := BlockKind(block)
				if err != nil {
					t.Fatal(err)
				}
				width, err := pointWidth(m, kind)
				if err != nil {
					t.Fatal(err)
				}
				mask := &UnitMask{Block: block, Units: []Unit{
					{Layer: 1, Dim: width - 1, Score: -0.75},
					{Layer: 1, Dim: 3, Score: 1},
					{Layer: 0, Dim: 0, Score: 0.5},
				}}
				if err := mask.Validate(m); err != nil {
					t.Fatal(err)
				}
				const alpha = 4.0
				for _, l := range mask.Layers() {
					factors := map[int]float32{}
					for _, u := range mask.Units {
						if u.Layer == l {
							factors[u.Dim] = float32(1 + alpha*u.Score)
						}
					}
					name := hooks.Point{Layer: l, Kind: kind}.Name()
					before, after := generateAround(t, m, name, func(h *hooks.Hooks) { mask.Attach(h, alpha) })
					for c := range before.calls {
						b, a := before.calls[c].Data, after.calls[c].Data
						for i := range b {
							want := b[i]
							if f, ok := factors[i%width]; ok {
								want *= f
							}
							if a[i] != want {
								t.Fatalf("%s, call %d, element %d (unit %d): %g after steering, want %g", name, c, i, i%width, a[i], want)
							}
						}
					}
				}
			}
		})
	}
}

func maxAbsDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst
}

func TestMeanDifferenceMatchesReference(t *testing.T) {
	g, c := readSteeringGolden(t)
	m := loadFixture(t, "llama-tiny.gguf")
	v, err := MeanDifference(m, c, ContrastOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Point != hooks.ResidPost || len(v.Directions) != m.NLayers {
		t.Fatalf("vector at %s with %d directions, want hook_resid_post with %d", v.Point, len(v.Directions), m.NLayers)
	}
	for l, want := range g.MeanDiff {
		for j, w := range want {
			if d := math.Abs(float64(v.Directions[l][j]) - w); d > 1e-5 {
				t.Errorf("block %d, dim %d: %g, reference %g", l, j, v.Directions[l][j], w)
			}
		}
	}
}

func TestMeanDifferenceSwapAndIdentical(t *testing.T) {
	_, c := readSteeringGolden(t)
	m := loadFixture(t, "llama-tiny.gguf")
	opts := ContrastOptions{Layers: []int{1}, Positions: AllPositions}
	v, err := MeanDifference(m, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	swapped, err := MeanDifference(m, Contrast{Positive: c.Negative, Negative: c.Positive}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for j, x := range v.Directions[1] {
		if swapped.Directions[1][j] != -x {
			t.Fatalf("dim %d: %g after swapping, want %g", j, swapped.Directions[1][j], -x)
		}
	}
	same, err := MeanDifference(m, Contrast{Positive: c.Positive, Negative: c.Positive}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := same.Norms()[0]; n != 0 {
		t.Errorf("identical examples give a vector of norm %g, want 0", n)
	}
}

func TestPCAMatchesReference(t *testing.T) {
	g, c := readSteeringGolden(t)
	m := loadFixture(t, "llama-tiny.gguf")
	v, err := PCA(m, c, ContrastOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for l, want := range g.PCA {
		dot := 0.0
		for j, w := range want {
			dot += float64(v.Directions[l][j]) * w
		}
		if n := v.Norms()[l]; math.Abs(n-1) > 1e-5 {
			t.Errorf("block %d: norm %g, want 1", l, n)
		}
		if dot < 0.9999 {
			t.Errorf("block %d: cosine with the reference component %.6f, want 1 (same direction and sign)", l, dot)
		}
	}
}

func TestPrincipalComponentSign(t *testing.T) {
	// Rows spread along u around a mean along −u: the component is ±u and
	// the mean's projection fixes it to −u.
	u := []float64{0.6, 0.8, 0}
	var rows [][]float64
	for _, s := range []float64{-3, -2.5, -1, -0.5} {
		rows = append(rows, []float64{s * u[0], s * u[1], 0.01 * s * s})
	}
	pc, err := firstPrincipalComponent(rows)
	if err != nil {
		t.Fatal(err)
	}
	dot := pc[0]*u[0] + pc[1]*u[1] + pc[2]*u[2]
	if dot > -0.99 {
		t.Errorf("component %v has cosine %.4f with u, want about −1", pc, dot)
	}

	_, err = firstPrincipalComponent([][]float64{{1, 2, 3}, {1, 2, 3}, {1, 2, 3}})
	if err == nil || !strings.Contains(err.Error(), "do not vary") {
		t.Errorf("identical rows: error %v, want one saying the differences do not vary", err)
	}
}

func TestContrastRejects(t *testing.T) {
	m := loadFixture(t, "llama-tiny.gguf")
	long := make([]int32, m.NCtx+1)
	tests := []struct {
		name  string
		build func() error
		want  string
	}{
		{"no negatives", func() error {
			_, err := MeanDifference(m, Contrast{Positive: [][]int32{{1, 2}}}, ContrastOptions{})
			return err
		}, "at least one positive and one negative"},
		{"unpaired pca", func() error {
			_, err := PCA(m, Contrast{Positive: [][]int32{{1, 2}, {1, 3}}, Negative: [][]int32{{1, 4}}}, ContrastOptions{})
			return err
		}, "2 positive and 1 negative"},
		{"one pair pca", func() error {
			_, err := PCA(m, Contrast{Positive: [][]int32{{1, 2}}, Negative: [][]int32{{1, 4}}}, ContrastOptions{})
			return err
		}, "at least 2 pairs"},
		{"empty example", func() error {
			_, err := MeanDifference(m, Contrast{Positive: [][]int32{{}}, Negative: [][]int32{{1}}}, ContrastOptions{})
			return err
		}, "positive example 1 has no tokens"},
		{"example too long", func() error {
			_, err := MeanDifference(m, Contrast{Positive: [][]int32{{1}}, Negative: [][]int32{long}}, ContrastOptions{})
			return err
		}, "more than the context length"},
		{"layer out of range", func() error {
			_, err := MeanDifference(m, Contrast{Positive: [][]int32{{1}}, Negative: [][]int32{{2}}}, ContrastOptions{Layers: []int{2}})
			return err
		}, "block 2 out of range"},
		{"vector width", func() error {
			return (&Vector{Point: hooks.ResidPost, Directions: map[int][]float32{1: {1, 2}}}).Validate(m)
		}, "has 2 values, but hook_resid_post of this model has width 64"},
		{"vector at a per-head point", func() error {
			return (&Vector{Point: hooks.Z, Directions: map[int][]float32{1: {1}}}).Validate(m)
		}, "per-position hook point"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.build()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
