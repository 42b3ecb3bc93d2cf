package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"
)

// steeringData returns the path of a file in testdata/steering.
func steeringData(name string) string {
	return filepath.Join("..", "..", "testdata", "steering", name)
}

// steerJSON decodes `interp steer --json` with the field names that the
// output promises.
type steerJSON struct {
	Unsteered *generateResult `json:"unsteered"`
	Steered   *generateResult `json:"steered"`
	Vector    struct {
		Method   string    `json:"method"`
		Point    string    `json:"point"`
		Layers   []int     `json:"layers"`
		Norms    []float64 `json:"norms"`
		Strength *float64  `json:"strength"`
		Alpha    *float64  `json:"alpha"`
	} `json:"vector"`
	Units []struct {
		Layer int     `json:"layer"`
		Dim   int     `json:"dim"`
		Score float64 `json:"score"`
	} `json:"units"`
	LogitShift []logitShift `json:"logit_shift"`
	Eval       *struct {
		Items     int        `json:"items"`
		Unsteered choiceJSON `json:"unsteered"`
		Steered   choiceJSON `json:"steered"`
	} `json:"eval"`
}

// choiceJSON is the evaluation of multiple-choice items without or with
// steering.
type choiceJSON struct {
	Accuracy float64 `json:"accuracy"`
	Correct  int     `json:"correct"`
	Items    []struct {
		LogLikelihoods []float64 `json:"log_likelihoods"`
		Choice         int       `json:"choice"`
		Correct        bool      `json:"correct"`
	} `json:"items"`
}

// runSteerJSON runs `interp steer ... --json` and decodes its output
// strictly, so that a renamed field fails the test.
func runSteerJSON(t *testing.T, args ...string) steerJSON {
	t.Helper()
	stdout := mustRun(t, append([]string{"steer"}, append(args, "--json")...)...)
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var res steerJSON
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("steer output does not decode: %v\n%s", err, stdout)
	}
	return res
}

func TestSteerMeanDiffJSON(t *testing.T) {
	res := runSteerJSON(t, "--positive", "I love this, it is wonderful", "--negative", "I hate this, it is terrible",
		"--prompt", "When Mary and John", "--max-tokens", "4", "--strength", "8")
	if res.Unsteered == nil || res.Steered == nil || len(res.Unsteered.IDs) != 4 || len(res.Steered.IDs) != 4 {
		t.Fatalf("continuations %+v and %+v, want 4 tokens each", res.Unsteered, res.Steered)
	}
	v := res.Vector
	if v.Method != "mean-diff" || v.Point != "blocks.L.hook_resid_post" || !slices.Equal(v.Layers, []int{1}) {
		t.Errorf("vector %+v, want mean-diff at blocks.L.hook_resid_post, block 1 (the middle of 2)", v)
	}
	if len(v.Norms) != 1 || !(v.Norms[0] > 0) || v.Strength == nil || *v.Strength != 8 {
		t.Errorf("norms %v and strength %v, want one positive norm and strength 8", v.Norms, v.Strength)
	}
	if len(res.LogitShift) < 5 {
		t.Fatalf("logit shift lists %d tokens, want at least 5", len(res.LogitShift))
	}
	moved := false
	for _, s := range res.LogitShift {
		if s.Shift != s.Steered-s.Unsteered {
			t.Errorf("token %d: shift %g, want steered − unsteered = %g", s.ID, s.Shift, s.Steered-s.Unsteered)
		}
		moved = moved || s.Shift != 0
	}
	if !moved {
		t.Errorf("steering shifted no logit")
	}
}

func TestSteerSavedVectorAppliesTheSame(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.gguf")
	built := runSteerJSON(t, "--model", llamaTiny, "--pairs", steeringData("pairs.jsonl"), "--layer", "1",
		"--strength", "3", "--prompt", "Once upon a time", "--max-tokens", "6", "--save", path)
	loaded := runSteerJSON(t, "--model", llamaTiny, "--control-vector", path+":3",
		"--prompt", "Once upon a time", "--max-tokens", "6")
	if loaded.Vector.Method != "control-vector" || !slices.Equal(loaded.Vector.Layers, []int{1}) {
		t.Errorf("loaded vector %+v, want a control-vector at block 1", loaded.Vector)
	}
	if !slices.Equal(built.Steered.IDs, loaded.Steered.IDs) {
		t.Errorf("steered ids %v with the built vector, %v with the saved file", built.Steered.IDs, loaded.Steered.IDs)
	}
	for i, s := range built.LogitShift {
		if d := math.Abs(float64(s.Steered - loaded.LogitShift[i].Steered)); d > 1e-5 {
			t.Errorf("token %d: steered logit %g built, %g from the file", s.ID, s.Steered, loaded.LogitShift[i].Steered)
		}
	}
}

func TestSteerAUSteerJSON(t *testing.T) {
	res := runSteerJSON(t, "--model", llamaTiny, "--method", "austeer", "--pairs", steeringData("pairs.jsonl"),
		"--k", "5", "--alpha", "10", "--block", "attn", "--prompt", "Once upon a time", "--max-tokens", "3")
	if len(res.Units) != 5 {
		t.Fatalf("%d units, want 5", len(res.Units))
	}
	layers := []int{}
	for i, u := range res.Units {
		if i > 0 && math.Abs(u.Score) > math.Abs(res.Units[i-1].Score) {
			t.Errorf("unit %d has |β| %g above the previous unit's %g", i, math.Abs(u.Score), math.Abs(res.Units[i-1].Score))
		}
		layers = append(layers, u.Layer)
	}
	slices.Sort(layers)
	layers = slices.Compact(layers)
	v := res.Vector
	if v.Method != "austeer" || v.Point != "blocks.L.attn.hook_z" || v.Alpha == nil || *v.Alpha != 10 || v.Strength != nil {
		t.Errorf("vector %+v, want austeer at blocks.L.attn.hook_z with alpha 10 and no strength", v)
	}
	if !slices.Equal(v.Layers, layers) || len(v.Norms) != len(layers) {
		t.Errorf("layers %v with norms %v, want the units' blocks %v", v.Layers, v.Norms, layers)
	}
}

// TestSteerEvalMatchesLlamaCpp scores testdata/steering/eval.jsonl with the
// command's own tokenization and compares with llama.cpp's option
// log-likelihoods (testdata/steering/llama-tiny.eval.llamacpp.json).
func TestSteerEvalMatchesLlamaCpp(t *testing.T) {
	data, err := os.ReadFile(steeringData("llama-tiny.eval.llamacpp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Items []struct {
			Unsteered []float64 `json:"unsteered"`
			Steered   []float64 `json:"steered"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	res := runSteerJSON(t, "--model", llamaTiny, "--control-vector", steeringData("llama-tiny.mean-diff.gguf")+":2",
		"--eval", steeringData("eval.jsonl"))
	if res.Steered != nil || res.Eval == nil || res.Eval.Items != len(g.Items) {
		t.Fatalf("eval output %+v, want %d items and no continuation", res.Eval, len(g.Items))
	}
	for i, item := range g.Items {
		for o := range item.Unsteered {
			got := res.Eval.Unsteered.Items[i].LogLikelihoods[o]
			if math.Abs(got-item.Unsteered[o]) > 1e-3 {
				t.Errorf("item %d, option %d: unsteered log-likelihood %.5f, llama.cpp %.5f", i, o, got, item.Unsteered[o])
			}
			got = res.Eval.Steered.Items[i].LogLikelihoods[o]
			if math.Abs(got-item.Steered[o]) > 1e-3 {
				t.Errorf("item %d, option %d: steered log-likelihood %.5f, llama.cpp %.5f", i, o, got, item.Steered[o])
			}
		}
	}
}

// TestSteerStories260K builds a dog-versus-cat vector from story openings
// on the trained stories260K model and checks that it changes the greedy
// continuation exactly as llama.cpp's does with the saved vector
// (testdata/steering/stories260K.dog.llamacpp.npz).
func TestSteerStories260K(t *testing.T) {
	model := filepath.Join("..", "..", "..", "shared", "models", "stories260K.gguf")
	if _, err := os.Stat(model); err != nil {
		t.Skipf("skipping: %s not found (../shared/models is only present in CI and development checkouts)", model)
	}
	res := runSteerJSON(t, "--model", model, "--positive", "@"+steeringData("stories-dog.txt"), "--negative", "@"+steeringData("stories-cat.txt"),
		"--positions", "all", "--layer", "3", "--strength", "3", "--prompt", "Once upon a time", "--max-tokens", "48")
	t.Logf("unsteered: %q", res.Unsteered.Text)
	t.Logf("steered:   %q", res.Steered.Text)
	if res.Unsteered.Text == res.Steered.Text {
		t.Errorf("steering left the continuation unchanged")
	}

	r, err := npz.Open(steeringData("stories260K.dog.llamacpp.npz"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var greedy []int64
	if err := r.Read("greedy_steered.npy", &greedy); err != nil {
		t.Fatal(err)
	}
	want := make([]int32, len(greedy))
	for i, id := range greedy {
		want[i] = int32(id)
	}
	if !slices.Equal(res.Steered.IDs, want) {
		t.Errorf("steered ids\n%v\nllama.cpp's with the saved vector\n%v", res.Steered.IDs, want)
	}
}

func TestSteerTable(t *testing.T) {
	stdout := mustRun(t, "steer", "--model", llamaTiny, "--method", "austeer", "--pairs", steeringData("pairs.jsonl"),
		"--k", "3", "--prompt", "The weather today is", "--max-tokens", "4", "--eval", steeringData("eval.jsonl"))
	for _, want := range []string{"austeer at blocks.L.hook_mlp_out", "unsteered", "│ steered", "logits at the first generated position",
		"AUSteer units", "multiple choice: 5 items"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestWrapText(t *testing.T) {
	got := wrapText("one two three\nfour abcdefghij", 9)
	want := []string{"one two", "three", "four", "abcdefghi", "j"}
	if !slices.Equal(got, want) {
		t.Errorf("wrapText = %q, want %q", got, want)
	}
}

func TestSteerErrors(t *testing.T) {
	requireFile(t, llamaTiny)
	dir := t.TempDir()
	badPairs := filepath.Join(dir, "bad.jsonl")
	badEval := filepath.Join(dir, "eval.jsonl")
	if err := os.WriteFile(badPairs, []byte(`{"prompt": "a", "positive": " b"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badEval, []byte(`{"prompt": "a", "options": [" b", " c"], "answer": 5}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cv := steeringData("llama-tiny.mean-diff.gguf")
	data := []string{"--positive", "good", "--negative", "bad"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no data", []string{"--prompt", "a"}, []string{"missing steering data"}},
		{"both data kinds", append([]string{"--prompt", "a", "--control-vector", cv}, data...), []string{"one source of steering"}},
		{"nothing to do", data, []string{"nothing to steer", "--prompt", "--eval"}},
		{"austeer save", append([]string{"--prompt", "a", "--method", "austeer", "--save", filepath.Join(dir, "x.gguf")}, data...), []string{"--save does not apply"}},
		{"k with mean-diff", append([]string{"--prompt", "a", "--k", "3"}, data...), []string{"--k does not apply"}},
		{"method with control vector", []string{"--prompt", "a", "--control-vector", cv, "--method", "pca"}, []string{"--method does not apply"}},
		{"unknown method", append([]string{"--prompt", "a", "--method", "caa"}, data...), []string{`invalid --method "caa"`}},
		{"bad layer", append([]string{"--prompt", "a", "--layer", "x"}, data...), []string{`invalid --layer "x"`}},
		{"layer out of range", append([]string{"--prompt", "a", "--layer", "1-5"}, data...), []string{"block 2 is out of range", "0 to 1"}},
		{"save block 0", append([]string{"--prompt", "a", "--layer", "0", "--save", filepath.Join(dir, "y.gguf")}, data...), []string{"cannot steer block 0"}},
		{"d_model mismatch", []string{"--model", shortModel, "--prompt", "a", "--control-vector", cv}, []string{"length 64, but the model's d_model is 32"}},
		{"bad strength suffix", []string{"--prompt", "a", "--control-vector", cv + ":inf"}, []string{"finite strength"}},
		{"unpaired pca", []string{"--prompt", "a", "--method", "pca", "--positive", "a", "--positive", "b", "--negative", "c"}, []string{"2 positive and 1 negative"}},
		{"missing example file", []string{"--prompt", "a", "--positive", "@" + filepath.Join(dir, "none.txt"), "--negative", "b"}, []string{"reading --positive examples"}},
		{"pairs without negative", []string{"--prompt", "a", "--pairs", badPairs}, []string{"--pairs file", "line 1", `missing "positive" or "negative"`}},
		{"eval answer out of range", append([]string{"--eval", badEval}, data...), []string{"--eval file", "answer 5 is not an index of the 2 options"}},
		{"bad positions", append([]string{"--prompt", "a", "--positions", "first"}, data...), []string{`invalid --positions "first"`}},
		{"identical examples", []string{"--prompt", "a", "--positive", "same", "--negative", "same"}, []string{"mean-diff steering vector is zero"}},
		{"save not gguf", append([]string{"--prompt", "a", "--save", filepath.Join(dir, "v.json")}, data...), []string{"--save", "ending in .gguf"}},
		{"seed while greedy", append([]string{"--prompt", "a", "--seed", "3"}, data...), []string{"--seed does not apply at --temperature 0"}},
		{"strength beyond float32", append([]string{"--prompt", "a", "--strength", "1e40"}, data...), []string{"not finite", "lower the steering strength"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"steer"}, tc.args...)
			if !slices.Contains(tc.args, "--model") {
				args = append(args, "--model", llamaTiny)
			}
			stdout, _, err := runCLI(t, args...)
			if err == nil {
				t.Fatalf("interp %s succeeded, want an error; stdout:\n%s", strings.Join(args, " "), stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestSteerWithSNMFFeature builds features with interp snmf and steers
// with one of them: the vector sits at the feature's block's
// mlp.hook_post, with unit norm.
func TestSteerWithSNMFFeature(t *testing.T) {
	out := filepath.Join(t.TempDir(), "features.npz")
	mustRun(t, append(snmfArgs(writeCorpus(t)), "--out", out)...)
	var res struct {
		Vector struct {
			Method string    `json:"method"`
			Layers []int     `json:"layers"`
			Norms  []float64 `json:"norms"`
		} `json:"vector"`
		Unsteered struct{ IDs []int32 } `json:"unsteered"`
		Steered   struct{ IDs []int32 } `json:"steered"`
	}
	mustRunJSON(t, &res, "steer", "--feature", out+":0", "--strength", "50", "--prompt", "Hello there", "--max-tokens", "4")
	if res.Vector.Method != "snmf-feature" || len(res.Vector.Layers) != 1 || res.Vector.Layers[0] != 1 {
		t.Errorf("vector = %+v, want an snmf-feature vector at block 1", res.Vector)
	}
	if len(res.Vector.Norms) != 1 || math.Abs(res.Vector.Norms[0]-1) > 1e-5 {
		t.Errorf("norms = %v, want [1]", res.Vector.Norms)
	}
	if _, _, err := runCLI(t, "steer", "--feature", out+":0", "--layer", "0", "--prompt", "Hi"); err == nil || !strings.Contains(err.Error(), "--layer does not apply") {
		t.Errorf("--feature with --layer: err = %v", err)
	}
	if _, _, err := runCLI(t, "steer", "--feature", out+":0", "--control-vector", "x.gguf", "--prompt", "Hi"); err == nil || !strings.Contains(err.Error(), "one source of steering") {
		t.Errorf("--feature with --control-vector: err = %v", err)
	}
}
