package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bundle "github.com/interp-go/interp"
	"github.com/interp-go/interp/interp"
	"github.com/interp-go/interp/transformer"
)

// sortedKeys returns the keys of a JSON object.
func sortedKeys(raw map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkSiteShape checks a site map of the bundled model (2 layers, 4
// heads) for tasks of seq tokens.
func checkSiteShape(t *testing.T, sites map[string][][]float64, families []string, seq int) {
	t.Helper()
	if len(sites) != len(families) {
		t.Errorf("sites has %d families, want %v", len(sites), families)
	}
	for _, site := range families {
		layers, ok := sites[site]
		if !ok {
			t.Errorf("sites has no %q", site)
			continue
		}
		width := seq
		if site == interp.SiteZ {
			width = 4
		}
		if len(layers) != 2 {
			t.Errorf("%s: %d layers, want 2", site, len(layers))
		}
		for l, row := range layers {
			if len(row) != width {
				t.Errorf("%s layer %d: %d values, want %d", site, l, len(row), width)
			}
			for i, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s layer %d index %d = %g", site, l, i, v)
				}
			}
		}
	}
}

func TestAttributeJSONContract(t *testing.T) {
	var raw map[string]json.RawMessage
	mustRunJSON(t, &raw, "attribute", "--method", "relp", "--compare")
	keys := sortedKeys(raw)
	for _, want := range []string{"method", "sites", "correlation", "clean_value", "corrupt_value", "top", "cost", "patching"} {
		if !slices.Contains(keys, want) {
			t.Errorf("top-level keys %v lack %q", keys, want)
		}
	}

	var out attributeOutput
	mustRunJSON(t, &out, "attribute", "--method", "relp", "--compare")
	if out.Method != "relp" {
		t.Errorf("method = %q, want relp", out.Method)
	}
	checkSiteShape(t, out.Sites, interp.AllSites, demoLength)
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range out.Correlation {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, []string{"attn_out", "mlp_out", "resid_pre", "z"}) {
		t.Errorf("correlation keys = %v, want attn_out, mlp_out, resid_pre, z", got)
	}
	for site, r := range out.Correlation {
		if r < -1-1e-9 || r > 1+1e-9 {
			t.Errorf("correlation[%s] = %g, outside [-1, 1]", site, r)
		}
	}
	if len(out.Top.Method) != topSites || len(out.Top.Patching) != topSites {
		t.Errorf("top lists have %d and %d sites, want %d each", len(out.Top.Method), len(out.Top.Patching), topSites)
	}
	if c := out.Cost.Method; c.ForwardPasses != 2 || c.BackwardPasses != 1 {
		t.Errorf("relp cost = %+v, want 2 forward and 1 backward passes", c)
	}
	// 2 layers × (3 families × 14 positions + 4 heads). The clean and
	// corrupted runs are shared with the method and count in its cost.
	if c := out.Cost.Patching; c == nil || c.ForwardPasses != 2*(3*demoLength+4) {
		t.Errorf("patching cost = %+v, want %d forward passes", c, 2*(3*demoLength+4))
	}
	if !slices.Equal(out.Rules, []string{"ln", "identity", "half", "ah"}) {
		t.Errorf("rules = %v, want all four", out.Rules)
	}
}

// TestAttributeCompareMatchesPatch checks that --compare reports the
// result of interp patch and correlates it with the scores.
func TestAttributeCompareMatchesPatch(t *testing.T) {
	var out attributeOutput
	mustRunJSON(t, &out, "attribute", "--method", "atp", "--compare", "--sites", "attn_out,z")
	var patch interp.PatchResult
	mustRunJSON(t, &patch, "patch", "--sites", "attn_out,z")
	if out.Patching == nil || !closeResults(*out.Patching, patch, 1e-9) {
		t.Errorf("patching = %+v\nwant interp patch's %+v", out.Patching, patch)
	}
	attr := &interp.AttributionResult{Method: out.Method, CleanValue: out.CleanValue, CorruptValue: out.CorruptValue, Sites: out.Sites}
	for site, want := range interp.Correlation(attr, &patch) {
		if got := out.Correlation[site]; math.Abs(got-want) > 1e-9 {
			t.Errorf("correlation[%s] = %g, want %g", site, got, want)
		}
	}
	if math.Abs(out.CleanValue-patch.CleanValue) > 1e-9 || math.Abs(out.CorruptValue-patch.CorruptValue) > 1e-9 {
		t.Errorf("clean, corrupted = %g, %g; interp patch has %g, %g", out.CleanValue, out.CorruptValue, patch.CleanValue, patch.CorruptValue)
	}
}

func TestAttributeWithoutCompare(t *testing.T) {
	var raw map[string]json.RawMessage
	mustRunJSON(t, &raw, "attribute", "--method", "atp")
	for _, key := range []string{"correlation", "patching"} {
		if _, ok := raw[key]; ok {
			t.Errorf("output without --compare has %q", key)
		}
	}
	var out attributeOutput
	mustRunJSON(t, &out, "attribute", "--method", "atp")
	if out.Cost.Patching != nil || out.Top.Patching != nil {
		t.Errorf("output without --compare has a patching cost %+v or top sites %v", out.Cost.Patching, out.Top.Patching)
	}
}

// TestAttributeMethods runs each method and checks values that follow from
// the task alone. Every score is a sum of (a_clean − a_corrupt)·c. The
// residual stream entering block 0 differs between the prompts only where
// their tokens do, so it scores 0 at every other position.
func TestAttributeMethods(t *testing.T) {
	for _, method := range []string{"atp", "relp", "ig"} {
		t.Run(method, func(t *testing.T) {
			var out attributeOutput
			mustRunJSON(t, &out, "attribute", "--method", method)
			if out.Method != method {
				t.Errorf("method = %q, want %q", out.Method, method)
			}
			checkSiteShape(t, out.Sites, interp.AllSites, demoLength)
			for i, v := range out.Sites[interp.SiteResidPre][0] {
				if i != demoDiffers && v != 0 {
					t.Errorf("resid_pre layer 0 position %d = %g, want 0", i, v)
				}
				if i == demoDiffers && v == 0 {
					t.Errorf("resid_pre layer 0 position %d = 0 where the prompts differ", i)
				}
			}
			if out.Cost.Method.ForwardPasses < 2 || out.Cost.Method.BackwardPasses < 1 {
				t.Errorf("cost = %+v, want at least 2 forward and 1 backward passes", out.Cost.Method)
			}
		})
	}
}

// TestAttributeIGSteps checks that --steps reaches the method: integrated
// gradients run one forward and one backward pass per step, family and
// layer.
func TestAttributeIGSteps(t *testing.T) {
	var out attributeOutput
	mustRunJSON(t, &out, "attribute", "--method", "ig", "--steps", "3", "--sites", "z")
	if out.Steps != 3 {
		t.Errorf("steps = %d, want 3", out.Steps)
	}
	if c := out.Cost.Method; c.BackwardPasses != 3*2 {
		t.Errorf("cost = %+v, want 6 backward passes (3 steps × 2 layers)", c)
	}
}

// TestAttributeRules checks that --rules reaches RelP: with no rules its
// backward pass is the ordinary gradient, so it scores as atp does.
func TestAttributeRules(t *testing.T) {
	var atp, none, all attributeOutput
	mustRunJSON(t, &atp, "attribute", "--method", "atp")
	mustRunJSON(t, &none, "attribute", "--method", "relp", "--rules", "")
	mustRunJSON(t, &all, "attribute", "--method", "relp")
	if len(none.Rules) != 0 {
		t.Errorf("rules = %v, want none", none.Rules)
	}
	asPatch := func(o attributeOutput) interp.PatchResult {
		return interp.PatchResult{CleanValue: o.CleanValue, CorruptValue: o.CorruptValue, Sites: o.Sites}
	}
	if !closeResults(asPatch(none), asPatch(atp), 1e-9) {
		t.Error("relp with no rules differs from atp")
	}
	if closeResults(asPatch(all), asPatch(atp), 1e-6) {
		t.Error("relp with every rule equals atp, so the rules were not applied")
	}

	var some attributeOutput
	mustRunJSON(t, &some, "attribute", "--method", "relp", "--rules", "ah, ln")
	if !slices.Equal(some.Rules, []string{"ln", "ah"}) {
		t.Errorf("rules = %v, want [ln ah]", some.Rules)
	}
}

func TestParseRules(t *testing.T) {
	tests := []struct {
		in   []string
		want transformer.RelPRules
	}{
		{nil, transformer.RelPRules{}},
		{[]string{"ln"}, transformer.RelPRules{Norm: true}},
		{[]string{"identity", "half"}, transformer.RelPRules{Activation: true, Gate: true}},
		{[]string{" ah"}, transformer.RelPRules{Pattern: true}},
		{[]string{"ln", "identity", "half", "ah"}, transformer.AllRelPRules()},
	}
	for _, tc := range tests {
		got, err := parseRules(tc.in)
		if err != nil {
			t.Errorf("parseRules(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("parseRules(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	_, err := parseRules([]string{"ln", "lrp"})
	if err == nil || !strings.Contains(err.Error(), `"lrp"`) || !strings.Contains(err.Error(), "ln, identity, half, ah") {
		t.Errorf("parseRules with an unknown name: error %v, want one naming \"lrp\" and the valid names", err)
	}
}

// TestAttributeIOIDataset checks --dataset ioi:N against interp.IOIDataset
// on the bundled model's vocabulary.
func TestAttributeIOIDataset(t *testing.T) {
	m, err := transformer.LoadBytes("gpt2-tiny.gguf", bundle.DemoModel)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tasks, err := interp.IOIDataset(m.Tokenizer, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	longest := 0
	for _, task := range tasks {
		longest = max(longest, len(task.Clean))
	}

	var out attributeOutput
	mustRunJSON(t, &out, "attribute", "--method", "atp", "--dataset", "ioi:4", "--seed", "3", "--sites", "resid_pre,z")
	checkSiteShape(t, out.Sites, []string{"resid_pre", "z"}, longest)
	if c := out.Cost.Method; c.ForwardPasses != 2*4 || c.BackwardPasses != 4 {
		t.Errorf("cost = %+v, want 8 forward and 4 backward passes for 4 tasks", c)
	}

	var again, other attributeOutput
	mustRunJSON(t, &again, "attribute", "--method", "atp", "--dataset", "ioi:4", "--seed", "3", "--sites", "resid_pre,z")
	mustRunJSON(t, &other, "attribute", "--method", "atp", "--dataset", "ioi:4", "--seed", "4", "--sites", "resid_pre,z")
	asPatch := func(o attributeOutput) interp.PatchResult {
		return interp.PatchResult{CleanValue: o.CleanValue, CorruptValue: o.CorruptValue, Sites: o.Sites}
	}
	if !closeResults(asPatch(again), asPatch(out), 0) {
		t.Error("two runs with --seed 3 differ")
	}
	if closeResults(asPatch(other), asPatch(out), 0) {
		t.Error("--seed 3 and --seed 4 give the same result")
	}

	human := mustRun(t, "attribute", "--dataset", "ioi:4", "--seed", "3", "--sites", "z")
	if !strings.Contains(human, "ioi:4: 4 generated IOI tasks (seed 3)") {
		t.Errorf("header does not describe the generated dataset:\n%s", human)
	}
}

func TestAttributePrintsTables(t *testing.T) {
	out := mustRun(t, "attribute", "--compare")
	for _, want := range []string{
		"RelP (relevance patching) on bundled gpt2-tiny",
		"rules     ln, identity, half, ah",
		"resid_pre:", "attn_out:", "mlp_out:", "z:",
		"·Mary", "H3", "L1",
		"Top 10 sites by |value|", "activation patching", "resid_pre L0 @9 ·John",
		"Faithfulness: Pearson r",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	correlations := out[strings.Index(out, "Faithfulness"):]
	for _, site := range interp.AllSites {
		if !strings.Contains(correlations, "\n  "+site+" ") {
			t.Errorf("correlation table lacks %s:\n%s", site, correlations)
		}
	}
}

func TestAttributeCSVAndPNG(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "scores.csv")
	mustRun(t, "attribute", "--compare", "--sites", "resid_pre,z", "--csv", csvPath, "--png", filepath.Join(dir, "map.png"))

	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], []string{"site", "layer", "index", "token", "value", "patch_effect"}) {
		t.Errorf("header = %v", rows[0])
	}
	if n := len(rows) - 1; n != 2*demoLength+2*4 {
		t.Errorf("got %d rows, want %d (2 layers × 14 positions + 2 layers × 4 heads)", n, 2*demoLength+2*4)
	}
	for _, row := range rows[1:] {
		if row[5] == "" {
			t.Errorf("row %v has no patching effect", row)
		}
	}

	for _, name := range []string{"map.resid_pre.png", "map.z.png", "map.patching.resid_pre.png", "map.patching.z.png"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("heat map not written: %v", err)
		}
	}
}

func TestAttributeErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error message
	}{
		{"unknown method", []string{"--method", "lrp"}, []string{`invalid --method "lrp"`, "atp, relp or ig"}},
		{"unknown rule", []string{"--rules", "ln,gelu"}, []string{`invalid --rules entry "gelu"`, "ln, identity, half, ah"}},
		{"rules without relp", []string{"--method", "atp", "--rules", "ln"}, []string{"--rules applies only to --method relp"}},
		{"steps without ig", []string{"--method", "relp", "--steps", "5"}, []string{"--steps applies only to --method ig"}},
		{"zero steps", []string{"--method", "ig", "--steps", "0"}, []string{"invalid --steps 0"}},
		{"unknown site", []string{"--sites", "heads"}, []string{`invalid --sites entry "heads"`}},
		{"ioi without count", []string{"--dataset", "ioi:"}, []string{`invalid --dataset "ioi:"`, "ioi:20"}},
		{"ioi of zero tasks", []string{"--dataset", "ioi:0"}, []string{`invalid --dataset "ioi:0"`}},
		{"ioi of too many tasks", []string{"--dataset", "ioi:99999999999999"}, []string{`invalid --dataset "ioi:99999999999999"`, "at most 100000"}},
		{"seed without ioi", []string{"--seed", "3"}, []string{"--seed applies only to --dataset ioi:N"}},
		{"ioi with no-bos", []string{"--dataset", "ioi:2", "--no-bos"}, []string{"--no-bos does not apply"}},
		{"ioi with task flags", []string{"--dataset", "ioi:2", "--clean", "a"}, []string{"--dataset cannot be combined"}},
		{"ioi on a byte vocabulary", []string{"--model", shortModel, "--dataset", "ioi:2"}, []string{"--dataset ioi:2", "not GPT-2-like"}},
		{"missing answer", []string{"--clean", "a b", "--corrupt", "a c", "--wrong", " b"}, []string{"missing the answer"}},
		{"png of neurons only", []string{"--sites", "mlp_post,pattern", "--png", "map.png"}, []string{"--png draws no heat map of mlp_post or pattern", "--csv"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"attribute"}, tc.args...)
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
