package interp

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/interp-go/interp/gguf"
	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/internal/synth"
	"github.com/interp-go/interp/transformer"
)

// steeringData returns the path of a file in testdata/steering.
func steeringData(name string) string {
	return filepath.Join("..", "testdata", "steering", name)
}

// storiesModel is the trained stories260K model, present in development
// checkouts only.
var storiesModel = filepath.Join("..", "..", "shared", "models", "stories260K.gguf")

// writeGGUF writes a GGUF file built by fill into a temporary folder.
func writeGGUF(t *testing.T, fill func(w *gguf.Writer) error) string {
	t.Helper()
	w := gguf.NewWriter()
	if err := fill(w); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cv.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestControlVectorRoundTrip(t *testing.T) {
	v := &Vector{Method: SteerMeanDiff, Point: hooks.ResidPost, Directions: map[int][]float32{
		3: {0.5, -1, 2, 0},
		1: {1, 2, 3, 4},
	}}
	path := filepath.Join(t.TempDir(), "v.gguf")
	if err := WriteControlVector(path, v, "llama"); err != nil {
		t.Fatal(err)
	}

	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	arch, _ := f.Value("general.architecture")
	hint, _ := f.Value("controlvector.model_hint")
	count, _ := f.Value("controlvector.layer_count")
	if arch != "controlvector" || hint != "llama" || count != int32(2) {
		t.Errorf("metadata %v, %v, %v (%T), want controlvector, llama, int32 2", arch, hint, count, count)
	}
	var names []string
	for _, info := range f.Tensors {
		names = append(names, info.Name)
		if info.Type != gguf.TypeF32 || !slices.Equal(info.Dims, []uint64{4}) {
			t.Errorf("tensor %s: %s %v, want F32 [4]", info.Name, info.Type, info.Dims)
		}
	}
	f.Close()
	if !slices.Equal(names, []string{"direction.1", "direction.3"}) {
		t.Errorf("tensors %v, want direction.1, direction.3", names)
	}

	cv, err := ReadControlVector(path)
	if err != nil {
		t.Fatal(err)
	}
	if cv.ModelHint != "llama" || cv.Method != SteerControlVector || cv.Point != hooks.ResidPost {
		t.Errorf("read hint %q, method %q, point %s", cv.ModelHint, cv.Method, cv.Point)
	}
	for l, dir := range v.Directions {
		if !slices.Equal(cv.Directions[l], dir) {
			t.Errorf("block %d: read %v, wrote %v", l, cv.Directions[l], dir)
		}
	}
}

func TestControlVectorLayerCountTypes(t *testing.T) {
	for _, count := range []any{int32(1), uint32(1), int64(1), uint64(1), uint16(1), int8(1)} {
		path := writeGGUF(t, func(w *gguf.Writer) error {
			if err := w.Add("general.architecture", "controlvector"); err != nil {
				return err
			}
			if err := w.Add("controlvector.layer_count", count); err != nil {
				return err
			}
			return w.AddFloat32("direction.1", gguf.TypeF32, []uint64{2}, []float32{1, 2})
		})
		if _, err := ReadControlVector(path); err != nil {
			t.Errorf("layer_count of type %T: %v", count, err)
		}
	}
}

func TestReadControlVectorRejects(t *testing.T) {
	eight := make([]float32, 8)
	tensor := func(name string, typ gguf.Type, dims []uint64) func(w *gguf.Writer) error {
		return func(w *gguf.Writer) error {
			n := 1
			for _, d := range dims {
				n *= int(d)
			}
			return w.AddFloat32(name, typ, dims, make([]float32, n))
		}
	}
	tests := []struct {
		name string
		fill []func(w *gguf.Writer) error
		want string
	}{
		{"direction 0", []func(*gguf.Writer) error{tensor("direction.0", gguf.TypeF32, []uint64{8})}, `"direction.0" is invalid`},
		{"F16 tensor", []func(*gguf.Writer) error{tensor("direction.1", gguf.TypeF16, []uint64{8})}, "type F16, want F32"},
		{"2-D tensor", []func(*gguf.Writer) error{tensor("direction.1", gguf.TypeF32, []uint64{8, 2})}, "want one dimension"},
		{"lengths differ", []func(*gguf.Writer) error{tensor("direction.1", gguf.TypeF32, []uint64{8}), tensor("direction.2", gguf.TypeF32, []uint64{4})}, "has 4 values, but the tensors before it have 8"},
		{"other tensor name", []func(*gguf.Writer) error{tensor("dir.1", gguf.TypeF32, []uint64{8})}, "not named direction.N"},
		{"non-numeric block", []func(*gguf.Writer) error{tensor("direction.x", gguf.TypeF32, []uint64{8})}, "not named direction.N"},
		{"model file", []func(*gguf.Writer) error{
			func(w *gguf.Writer) error { return w.Add("general.architecture", "llama") },
			tensor("direction.1", gguf.TypeF32, []uint64{8}),
		}, `general.architecture is "llama"`},
		{"no tensors", []func(*gguf.Writer) error{
			func(w *gguf.Writer) error { return w.Add("general.architecture", "controlvector") },
		}, "no direction tensors"},
		{"layer count not an integer", []func(*gguf.Writer) error{
			func(w *gguf.Writer) error { return w.Add("controlvector.layer_count", float32(1)) },
			func(w *gguf.Writer) error { return w.AddFloat32("direction.1", gguf.TypeF32, []uint64{8}, eight) },
		}, "want an integer"},
		{"hint not a string", []func(*gguf.Writer) error{
			func(w *gguf.Writer) error { return w.Add("controlvector.model_hint", uint32(7)) },
			tensor("direction.1", gguf.TypeF32, []uint64{8}),
		}, "want a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeGGUF(t, func(w *gguf.Writer) error {
				for _, fill := range tc.fill {
					if err := fill(w); err != nil {
						return err
					}
				}
				return nil
			})
			_, err := ReadControlVector(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestWriteControlVectorRejects(t *testing.T) {
	tests := []struct {
		name string
		v    Vector
		want string
	}{
		{"block 0", Vector{Point: hooks.ResidPost, Directions: map[int][]float32{0: {1}, 1: {1}}}, "cannot steer block 0"},
		{"not finite", Vector{Point: hooks.ResidPost, Directions: map[int][]float32{2: {1, float32(math.NaN())}}}, "value NaN at index 1"},
		{"other point", Vector{Point: hooks.MLPOut, Directions: map[int][]float32{2: {1}}}, "hook_resid_post"},
		{"no directions", Vector{Point: hooks.ResidPost}, "no directions"},
		{"widths differ", Vector{Point: hooks.ResidPost, Directions: map[int][]float32{1: {1}, 2: {1, 2}}}, "lengths 1 and 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "v.gguf")
			err := WriteControlVector(path, &tc.v, "llama")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if _, statErr := os.Stat(path); statErr == nil {
				t.Errorf("a rejected vector left the file %s", path)
			}
		})
	}
}

func TestLoadControlVectorsSums(t *testing.T) {
	path := filepath.Join(t.TempDir(), "three-blocks.gguf")
	if err := synth.Write(path, synth.Options{Arch: synth.ArchLlama, NLayers: 3, DModel: 64, NHeads: 4, NCtx: 16, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	m, err := transformer.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a1, a2, b2, b2again := make([]float32, 64), make([]float32, 64), make([]float32, 64), make([]float32, 64)
	for j := range 64 {
		a1[j], a2[j], b2[j], b2again[j] = float32(j), float32(j)/3, 1-float32(j), 0.25
	}
	first := writeGGUF(t, func(w *gguf.Writer) error {
		if err := w.AddFloat32("direction.1", gguf.TypeF32, []uint64{64}, a1); err != nil {
			return err
		}
		return w.AddFloat32("direction.2", gguf.TypeF32, []uint64{64}, a2)
	})
	// Two tensors for one block, as llama.cpp's parser allows with a
	// leading zero, are summed too.
	second := writeGGUF(t, func(w *gguf.Writer) error {
		if err := w.AddFloat32("direction.2", gguf.TypeF32, []uint64{64}, b2); err != nil {
			return err
		}
		return w.AddFloat32("direction.02", gguf.TypeF32, []uint64{64}, b2again)
	})

	v, err := LoadControlVectors(m, []ControlVectorFile{{first, 0.5}, {second, -2}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.Layers(), []int{1, 2}) {
		t.Fatalf("blocks %v, want [1 2]", v.Layers())
	}
	for j := range 64 {
		want1 := a1[j] * 0.5
		want2 := a2[j]*0.5 + (b2[j]+b2again[j])*-2
		if v.Directions[1][j] != want1 || math.Abs(float64(v.Directions[2][j]-want2)) > 1e-6 {
			t.Fatalf("dim %d: %g, %g, want %g, %g", j, v.Directions[1][j], v.Directions[2][j], want1, want2)
		}
	}
}

func TestLoadControlVectorsMismatch(t *testing.T) {
	m := loadFixture(t, "llama-tiny.gguf")
	short := writeGGUF(t, func(w *gguf.Writer) error {
		return w.AddFloat32("direction.1", gguf.TypeF32, []uint64{32}, make([]float32, 32))
	})
	_, err := LoadControlVectors(m, []ControlVectorFile{{short, 1}})
	if err == nil || !strings.Contains(err.Error(), "length 32, but the model's d_model is 64") {
		t.Errorf("error %v, want one naming both sizes", err)
	}
	deep := writeGGUF(t, func(w *gguf.Writer) error {
		return w.AddFloat32("direction.5", gguf.TypeF32, []uint64{64}, make([]float32, 64))
	})
	_, err = LoadControlVectors(m, []ControlVectorFile{{deep, 1}})
	if err == nil || !strings.Contains(err.Error(), "direction.5, but the model has blocks 0 to 1") {
		t.Errorf("error %v, want one naming the missing block", err)
	}
}

// llamaCppGolden is a testdata/steering/*.llamacpp.npz file written by
// testdata/reference/steering.py: llama.cpp's logits and greedy tokens for
// a prompt without and with control vectors.
type llamaCppGolden struct {
	ids                            []int32
	unsteered, steered             []float32
	greedyUnsteered, greedySteered []int32
	strengths                      []float64
}

func readLlamaCppGolden(t *testing.T, name string) *llamaCppGolden {
	t.Helper()
	r, err := npz.Open(steeringData(name))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	has := func(key string) bool { return slices.Contains(r.Keys(), key+".npy") }
	read := func(key string, v any) {
		if err := r.Read(key+".npy", v); err != nil {
			t.Fatalf("golden %s, array %s: %v", name, key, err)
		}
	}
	ids := func(key string) []int32 {
		var v []int64
		read(key, &v)
		out := make([]int32, len(v))
		for i, x := range v {
			out[i] = int32(x)
		}
		return out
	}
	g := &llamaCppGolden{ids: ids("ids")}
	read("logits_unsteered", &g.unsteered)
	read("logits_steered", &g.steered)
	read("strengths", &g.strengths)
	if has("greedy_steered") {
		g.greedyUnsteered = ids("greedy_unsteered")
		g.greedySteered = ids("greedy_steered")
	}
	return g
}

// TestControlVectorMatchesLlamaCpp applies control-vector files written by
// interp (*.mean-diff.gguf, *.dog.gguf) and by the oracle's own GGUF writer
// (*.oracle.gguf), and compares the last-position logits, and on
// stories260K the greedy continuation, with llama.cpp's for the same files.
func TestControlVectorMatchesLlamaCpp(t *testing.T) {
	tests := []struct {
		golden string
		model  string
		files  []ControlVectorFile
	}{
		{"llama-tiny.mean-diff.llamacpp.npz", filepath.Join("..", "testdata", "llama-tiny.gguf"),
			[]ControlVectorFile{{steeringData("llama-tiny.mean-diff.gguf"), 1.5}}},
		{"llama-tiny.oracle.llamacpp.npz", filepath.Join("..", "testdata", "llama-tiny.gguf"),
			[]ControlVectorFile{{steeringData("llama-tiny.oracle.gguf"), 0.75}, {steeringData("llama-tiny.mean-diff.gguf"), -0.5}}},
		{"stories260K.dog.llamacpp.npz", storiesModel,
			[]ControlVectorFile{{steeringData("stories260K.dog.gguf"), 3}}},
		{"stories260K.oracle.llamacpp.npz", storiesModel,
			[]ControlVectorFile{{steeringData("stories260K.oracle.gguf"), 1}}},
	}
	for _, tc := range tests {
		t.Run(strings.TrimSuffix(tc.golden, ".llamacpp.npz"), func(t *testing.T) {
			if _, err := os.Stat(tc.model); err != nil {
				t.Skipf("skipping: %s not found (../shared/models is only present in CI and development checkouts)", tc.model)
			}
			g := readLlamaCppGolden(t, tc.golden)
			for i, f := range tc.files {
				if g.strengths[i] != f.Strength {
					t.Fatalf("file %d: strength %g, golden made with %g", i, f.Strength, g.strengths[i])
				}
			}
			m, err := transformer.Load(tc.model)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			v, err := LoadControlVectors(m, tc.files)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Validate(m); err != nil {
				t.Fatal(err)
			}
			h := &hooks.Hooks{}
			v.Attach(h, 1)

			plain, err := m.Run(g.ids, nil)
			if err != nil {
				t.Fatal(err)
			}
			steered, err := m.Run(g.ids, &transformer.Options{Hooks: h})
			if err != nil {
				t.Fatal(err)
			}
			shift := maxAbsDiff(g.unsteered, g.steered)
			dPlain := maxAbsDiff(plain.Row(0, 0), g.unsteered)
			dSteered := maxAbsDiff(steered.Row(0, 0), g.steered)
			t.Logf("max |Δ| to llama.cpp: %.2g unsteered, %.2g steered; llama.cpp's steering shift %.3g", dPlain, dSteered, shift)
			if shift < 0.1 {
				t.Fatalf("the golden's steering moves the logits by %g only, too little to test", shift)
			}
			if dSteered > 1e-3 {
				t.Errorf("steered logits differ from llama.cpp's by %g, want ≤ 1e-3", dSteered)
			}
			if dPlain > 1e-3 {
				t.Errorf("unsteered logits differ from llama.cpp's by %g, want ≤ 1e-3", dPlain)
			}

			if g.greedySteered == nil {
				return
			}
			out, err := m.Generate(g.ids, transformer.GenerateOptions{MaxTokens: len(g.greedySteered), Options: &transformer.Options{Hooks: h}})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out, g.greedySteered) {
				t.Errorf("steered greedy tokens\n%v\nllama.cpp's\n%v", out, g.greedySteered)
			}
			if slices.Equal(g.greedySteered, g.greedyUnsteered) {
				t.Errorf("the golden's steering leaves the greedy continuation unchanged")
			}
		})
	}
}

// TestSavedMeanDiffIsCurrent checks that the committed
// llama-tiny.mean-diff.gguf is the mean difference of testdata/steering's
// pairs at block 1, so that the llama.cpp goldens made from it test the
// vector this code builds.
func TestSavedMeanDiffIsCurrent(t *testing.T) {
	_, c := readSteeringGolden(t)
	m := loadFixture(t, "llama-tiny.gguf")
	v, err := MeanDifference(m, c, ContrastOptions{Layers: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	saved, err := ReadControlVector(steeringData("llama-tiny.mean-diff.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if saved.ModelHint != "llama" {
		t.Errorf("model hint %q, want llama", saved.ModelHint)
	}
	if !slices.Equal(saved.Layers(), []int{1}) {
		t.Fatalf("saved blocks %v, want [1]", saved.Layers())
	}
	if d := maxAbsDiff(saved.Directions[1], v.Directions[1]); d > 1e-6 {
		t.Errorf("saved vector differs from a fresh build by %g; rerun testdata/steering/make_goldens.sh", d)
	}
}
