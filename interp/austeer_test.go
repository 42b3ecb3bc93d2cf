package interp

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestPairScoresCounts(t *testing.T) {
	// Five pairs, one layer, five units. Unit 0 is above in 4 pairs, unit
	// 1 below in 4, unit 2 above in 2 and below in 1, unit 3 equal in all,
	// and unit 4 above in 2 and below in 2 (a tie).
	pos := [][][]float32{{{1, 0, 1, 5, 1}}, {{1, 0, 1, 5, 1}}, {{1, 0, 0, 5, 0}}, {{1, 1, 0, 5, 0}}, {{0, 0, -1, 5, 0}}}
	neg := [][][]float32{{{0, 1, 0, 5, 0}}, {{0, 1, 0, 5, 0}}, {{0, 1, 0, 5, 1}}, {{0, 0, 0, 5, 1}}, {{0, 1, 0, 5, 0}}}
	scores, err := PairScores(pos, neg)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{4.0 / 5, -4.0 / 5, 2.0 / 5, 0, 0}
	if !slices.Equal(scores[0], want) {
		t.Errorf("scores %v, want %v", scores[0], want)
	}
}

func TestPairScoresAntisymmetric(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	random := func() [][][]float32 {
		pairs := make([][][]float32, 7)
		for p := range pairs {
			pairs[p] = [][]float32{randomDirection(rng, 16), randomDirection(rng, 16)}
		}
		return pairs
	}
	pos, neg := random(), random()
	scores, err := PairScores(pos, neg)
	if err != nil {
		t.Fatal(err)
	}
	swapped, err := PairScores(neg, pos)
	if err != nil {
		t.Fatal(err)
	}
	same, err := PairScores(pos, pos)
	if err != nil {
		t.Fatal(err)
	}
	for l := range scores {
		for j, b := range scores[l] {
			if swapped[l][j] != -b {
				t.Errorf("layer %d, unit %d: %g, swapped %g, want its negation", l, j, b, swapped[l][j])
			}
			if same[l][j] != 0 {
				t.Errorf("layer %d, unit %d: identical data score %g, want 0", l, j, same[l][j])
			}
		}
	}
}

func TestScoreUnitsAntisymmetricOnModel(t *testing.T) {
	_, c := readSteeringGolden(t)
	m := loadFixture(t, "llama-tiny.gguf")
	s, err := ScoreUnits(m, c, BlockAttn, ContrastOptions{})
	if err != nil {
		t.Fatal(err)
	}
	swapped, err := ScoreUnits(m, Contrast{Positive: c.Negative, Negative: c.Positive}, BlockAttn, ContrastOptions{})
	if err != nil {
		t.Fatal(err)
	}
	same, err := ScoreUnits(m, Contrast{Positive: c.Positive, Negative: c.Positive}, BlockAttn, ContrastOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for l := range s.Scores {
		for j, b := range s.Scores[l] {
			if swapped.Scores[l][j] != -b {
				t.Errorf("block %d, unit %d: %g, swapped %g, want its negation", l, j, b, swapped.Scores[l][j])
			}
			if same.Scores[l][j] != 0 {
				t.Errorf("block %d, unit %d: identical data score %g, want 0", l, j, same.Scores[l][j])
			}
		}
	}
	if top := same.Top(10); len(top) != 0 {
		t.Errorf("identical data keeps units %v, want none", top)
	}
}

// TestScoreUnitsMatchesReference compares with ref_steer.py's scores and
// top units. A unit whose smallest paired difference is below 1e-4 of the
// largest activation is skipped, because float32 and float64 may order
// such a pair differently.
func TestScoreUnitsMatchesReference(t *testing.T) {
	g, c := readSteeringGolden(t)
	m := loadFixture(t, "llama-tiny.gguf")
	for _, block := range Blocks {
		t.Run(block, func(t *testing.T) {
			want := g.AUSteer[block]
			s, err := ScoreUnits(m, c, block, ContrastOptions{})
			if err != nil {
				t.Fatal(err)
			}
			compared := 0
			for l := range want.Beta {
				for j, b := range want.Beta[l] {
					if want.Tie[l][j] || want.MinDiff[l][j] < 1e-4 {
						continue
					}
					compared++
					if s.Scores[l][j] != b && abs(s.Scores[l][j]-b) > 1e-12 {
						t.Errorf("block %d, unit %d: β = %g, reference %g", l, j, s.Scores[l][j], b)
					}
				}
			}
			t.Logf("compared %d of %d units", compared, len(want.Beta)*len(want.Beta[0]))

			top := s.Top(8)
			if len(top) != len(want.Top8) {
				t.Fatalf("top 8 has %d units, reference %d", len(top), len(want.Top8))
			}
			for i, u := range top {
				w := want.Top8[i]
				if u.Layer != w.Layer || u.Dim != w.Dim || abs(u.Score-w.Score) > 1e-12 {
					t.Errorf("top unit %d: %+v, reference %+v", i, u, w)
				}
			}
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestTopUnitsOrder(t *testing.T) {
	s := &UnitScores{Block: BlockMLP, Layers: []int{2, 5}, Scores: [][]float64{
		{0.5, -1, 0, 0.5},
		{-0.5, 1, 0, 0},
	}}
	got := s.Top(10)
	want := []Unit{{2, 1, -1}, {5, 1, 1}, {2, 0, 0.5}, {2, 3, 0.5}, {5, 0, -0.5}}
	if !slices.Equal(got, want) {
		t.Errorf("Top(10) = %v, want %v (zero scores left out, ties by block then dim)", got, want)
	}
	if got := s.Top(2); !slices.Equal(got, want[:2]) {
		t.Errorf("Top(2) = %v, want %v", got, want[:2])
	}
}

func TestUnitMaskRejects(t *testing.T) {
	m := loadFixture(t, "llama-tiny.gguf")
	tests := []struct {
		name string
		mask UnitMask
		want string
	}{
		{"unknown block", UnitMask{Block: "ffn"}, `unknown AUSteer block "ffn"`},
		{"block out of range", UnitMask{Block: BlockMLP, Units: []Unit{{Layer: 2, Dim: 0, Score: 1}}}, "blocks 0 to 1"},
		{"dim out of range", UnitMask{Block: BlockAttn, Units: []Unit{{Layer: 0, Dim: 64, Score: 1}}}, "width 64"},
		{"repeated unit", UnitMask{Block: BlockResid, Units: []Unit{{0, 3, 1}, {0, 3, -1}}}, "appears twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.mask.Validate(m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := ScoreUnits(m, Contrast{Positive: [][]int32{{1}}, Negative: [][]int32{{2}, {3}}}, BlockMLP, ContrastOptions{}); err == nil {
		t.Errorf("ScoreUnits accepted 1 positive and 2 negative examples")
	}
}
