package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseIDsRejectsEmptyEntries(t *testing.T) {
	for _, in := range []string{"1,,2", "1,2,", ",1", "1, ,2"} {
		if _, err := parseIDs("--ids", in); err == nil {
			t.Errorf("parseIDs(%q) succeeded, want an error", in)
		}
	}
	if got, err := parseIDs("--ids", " 1 , 2 3 "); err != nil || len(got) != 3 {
		t.Errorf("parseIDs with spaces = %v, %v; want 3 ids", got, err)
	}
}

// TestFloatActivationsFlag checks that --float-activations changes the
// logits of a model with encoded weights (the bundled model's token
// embedding, which is also its output matrix, is F16).
func TestFloatActivationsFlag(t *testing.T) {
	var rounded, exact struct {
		Logits [][]float32 `json:"logits"`
	}
	mustRunJSON(t, &rounded, "logits", "--prompt", "Hello world")
	mustRunJSON(t, &exact, "logits", "--prompt", "Hello world", "--float-activations")
	same := true
	for i, v := range rounded.Logits[0] {
		if v != exact.Logits[0][i] {
			same = false
			break
		}
	}
	if same {
		t.Error("--float-activations left the logits unchanged")
	}
}

// TestNumericsFlag checks that --numerics llamacpp changes the logits of
// the bundled model, whose MLP weights are F32 (GELU comes from llama.cpp's
// f16 table instead of the exact formula), that --numerics float equals
// --float-activations, and that bad values are refused.
func TestNumericsFlag(t *testing.T) {
	type logits struct {
		Logits [][]float32 `json:"logits"`
	}
	var plain, table, float, short logits
	mustRunJSON(t, &plain, "logits", "--prompt", "Hello world")
	mustRunJSON(t, &table, "logits", "--prompt", "Hello world", "--numerics", "llamacpp")
	mustRunJSON(t, &float, "logits", "--prompt", "Hello world", "--numerics", "float")
	mustRunJSON(t, &short, "logits", "--prompt", "Hello world", "--float-activations")
	if slices.Equal(plain.Logits[0], table.Logits[0]) {
		t.Error("--numerics llamacpp left the logits unchanged")
	}
	if !slices.Equal(float.Logits[0], short.Logits[0]) {
		t.Error("--numerics float and --float-activations give different logits")
	}
	for _, args := range [][]string{
		{"--numerics", "exact"},
		{"--numerics", "llamacpp", "--float-activations"},
		{"--numerics", "default", "--float-activations"},
	} {
		_, _, err := runCLI(t, append([]string{"logits", "--prompt", "Hi"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "--numerics") {
			t.Errorf("%v: error %v, want one naming --numerics", args, err)
		}
	}
	mustRun(t, "logits", "--prompt", "Hi", "--numerics", "float", "--float-activations")
}

// TestAttributeNeuronSites checks that attribute scores the
// attribution-only families and that --compare skips them.
func TestAttributeNeuronSites(t *testing.T) {
	var out struct {
		Sites       map[string][][]float64 `json:"sites"`
		Correlation map[string]float64     `json:"correlation"`
	}
	mustRunJSON(t, &out, "attribute", "--method", "atp", "--sites", "mlp_post,pattern,z", "--compare")
	if len(out.Sites["mlp_post"]) != 2 || len(out.Sites["mlp_post"][0]) != 256 {
		t.Errorf("mlp_post: %d layers, want 2 × 256 neurons", len(out.Sites["mlp_post"]))
	}
	if len(out.Sites["pattern"]) != 2 || len(out.Sites["pattern"][0]) != 4*14*14 {
		t.Errorf("pattern: want 2 layers × 4·14·14 entries")
	}
	if _, ok := out.Correlation["z"]; !ok || len(out.Correlation) != 1 {
		t.Errorf("correlation = %v, want only z", out.Correlation)
	}
	if _, _, err := runCLI(t, "patch", "--sites", "mlp_post"); err == nil {
		t.Error("patch --sites mlp_post: no error")
	}
}

func TestBenchSweep(t *testing.T) {
	var res struct {
		Sweep *struct {
			Tokens       int     `json:"tokens"`
			Sites        int     `json:"sites"`
			SweepSeconds float64 `json:"sweep_seconds"`
			RelativeCost float64 `json:"relative_cost"`
		} `json:"sweep"`
	}
	mustRunJSON(t, &res, "bench", "--prompt-tokens", "6", "--gen-tokens", "1", "--runs", "1", "--sweep")
	if res.Sweep == nil {
		t.Fatal("no sweep in the JSON")
	}
	// 3 position families × 2 layers × 6 positions, and 2 layers × 4 heads.
	if res.Sweep.Tokens != 6 || res.Sweep.Sites != 3*2*6+2*4 {
		t.Errorf("sweep = %+v, want 6 tokens and 44 sites", *res.Sweep)
	}
	if !(res.Sweep.SweepSeconds > 0 && res.Sweep.RelativeCost > 0) {
		t.Errorf("sweep times = %+v, want positive", *res.Sweep)
	}
}

func TestOutputPathsCheckedFirst(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-folder", "x.csv")
	for _, args := range [][]string{
		{"patch", "--csv", missing},
		{"attribute", "--png", missing},
		{"patch", "--csv", t.TempDir()},
	} {
		if _, _, err := runCLI(t, args...); err == nil || !strings.Contains(err.Error(), "--") {
			t.Errorf("%v: err = %v, want an error naming the flag", args, err)
		}
	}
}

// TestBenchDefaultsFitSmallContext runs bench without token flags on the
// bundled model, whose context of 128 tokens is shorter than the defaults.
func TestBenchDefaultsFitSmallContext(t *testing.T) {
	var res struct {
		PromptTokens int `json:"prompt_tokens"`
		GenTokens    int `json:"gen_tokens"`
	}
	mustRunJSON(t, &res, "bench", "--runs", "1")
	if res.PromptTokens+res.GenTokens > 128 || res.PromptTokens < 1 || res.GenTokens < 1 {
		t.Errorf("prompt %d and gen %d tokens do not fit a 128-token context", res.PromptTokens, res.GenTokens)
	}
}

func TestErrorsNamePackageOnce(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run([]string{"attribute", "--method", "nope"}, &stdout, &stderr); code == 0 {
		t.Fatal("an unknown method succeeded")
	}
	if msg := stderr.String(); strings.Count(msg, "interp:") != 1 {
		t.Errorf("stderr %q names the package more than once", msg)
	}
}

func TestControlVectorStrengthSuffix(t *testing.T) {
	if _, err := parseControlVector("missing.gguf:abc"); err == nil || !strings.Contains(err.Error(), "not a strength") {
		t.Errorf("missing.gguf:abc: err = %v", err)
	}
	f, err := parseControlVector("x.gguf:0.5")
	if err != nil || f.Path != "x.gguf" || f.Strength != 0.5 {
		t.Errorf("x.gguf:0.5 = %+v, %v", f, err)
	}
}

func TestJSONErrorNamesField(t *testing.T) {
	var v struct {
		Answer int `json:"answer"`
	}
	err := jsonError(json.Unmarshal([]byte(`{"answer": "0"}`), &v))
	if err == nil || err.Error() != `field "answer" is a JSON string, but it must be a number` {
		t.Errorf("err = %v", err)
	}
}
