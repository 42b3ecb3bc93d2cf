package main

import (
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/interp-go/interp/interp"
)

// The bundled demo task: 14 GPT-2 tokens that differ only at position 9.
const (
	demoClean      = "When Mary and John went to the store, John gave a drink to"
	demoCorrupt    = "When Mary and John went to the store, Mary gave a drink to"
	demoCleanIDs   = "2215,5335,290,1757,1816,284,262,3650,11,1757,2921,257,4144,284"
	demoCorruptIDs = "2215,5335,290,1757,1816,284,262,3650,11,5335,2921,257,4144,284"
	demoLength     = 14
	demoDiffers    = 9
)

func TestPatchJSONContract(t *testing.T) {
	var raw map[string]json.RawMessage
	mustRunJSON(t, &raw, "patch")
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(keys, []string{"clean_value", "corrupt_value", "sites"}) {
		t.Errorf("top-level keys = %v, want clean_value, corrupt_value, sites", keys)
	}

	var res interp.PatchResult
	mustRunJSON(t, &res, "patch")
	// gpt2-tiny: 2 layers, 4 heads.
	for _, site := range []string{"resid_pre", "attn_out", "mlp_out", "z"} {
		layers, ok := res.Sites[site]
		if !ok {
			t.Errorf("sites has no %q", site)
			continue
		}
		width := demoLength
		if site == "z" {
			width = 4
		}
		if len(layers) != 2 {
			t.Errorf("%s: %d layers, want 2", site, len(layers))
		}
		for l, row := range layers {
			if len(row) != width {
				t.Errorf("%s layer %d: %d values, want %d", site, l, len(row), width)
			}
		}
	}
}

// TestPatchResidPreLayer0 checks values that follow from the task alone.
// The residual stream entering block 0 depends only on each position's
// token. Patching it changes nothing where clean and corrupted tokens agree
// and restores the clean run fully where they differ.
func TestPatchResidPreLayer0(t *testing.T) {
	var res interp.PatchResult
	mustRunJSON(t, &res, "patch", "--sites", "resid_pre")
	if len(res.Sites) != 1 {
		t.Errorf("sites = %d families, want only resid_pre", len(res.Sites))
	}
	for i, v := range res.Sites["resid_pre"][0] {
		want := 0.0
		if i == demoDiffers {
			want = 1
		}
		if v-want > 1e-4 || want-v > 1e-4 {
			t.Errorf("resid_pre layer 0 position %d = %g, want %g", i, v, want)
		}
	}
}

func TestPatchInputFormsAgree(t *testing.T) {
	dir := t.TempDir()
	line := func(fields string) string { return "{" + fields + "}\n" }
	textTask := `"clean": "` + demoClean + `", "corrupt": "` + demoCorrupt + `", "answer": " Mary", "wrong": " John"`
	// ids take precedence over text: this line's text is a different task.
	idTask := `"clean": "a", "corrupt": "b c", "answer": "x y", "wrong": "z", "clean_ids": [` + demoCleanIDs + `], "corrupt_ids": [` + demoCorruptIDs + `], "answer_id": 5335, "wrong_id": 1757`
	dataset := filepath.Join(dir, "tasks.jsonl")
	if err := os.WriteFile(dataset, []byte(line(textTask)+"\n"+line(idTask)), 0o644); err != nil {
		t.Fatal(err)
	}

	forms := map[string][]string{
		"demo": {"patch"},
		"text": {"patch", "--clean", demoClean, "--corrupt", demoCorrupt, "--answer", " Mary", "--wrong", " John"},
		"ids":  {"patch", "--clean-ids", demoCleanIDs, "--corrupt-ids", demoCorruptIDs, "--answer-id", "5335", "--wrong-id", "1757"},
		// Averaging two copies of one task gives that task's values.
		"dataset": {"patch", "--dataset", dataset},
	}
	results := map[string]interp.PatchResult{}
	for name, args := range forms {
		var res interp.PatchResult
		mustRunJSON(t, &res, append(args, "--sites", "resid_pre,z")...)
		results[name] = res
	}
	want := results["demo"]
	for name, got := range results {
		if !closeResults(got, want, 1e-9) {
			t.Errorf("%s form: %+v\nwant the demo's %+v", name, got, want)
		}
	}
}

func closeResults(a, b interp.PatchResult, tol float64) bool {
	near := func(x, y float64) bool { return x-y <= tol && y-x <= tol }
	if !near(a.CleanValue, b.CleanValue) || !near(a.CorruptValue, b.CorruptValue) || len(a.Sites) != len(b.Sites) {
		return false
	}
	for site, rows := range a.Sites {
		other := b.Sites[site]
		if len(rows) != len(other) {
			return false
		}
		for l := range rows {
			if len(rows[l]) != len(other[l]) {
				return false
			}
			for i := range rows[l] {
				if !near(rows[l][i], other[l][i]) {
					return false
				}
			}
		}
	}
	return true
}

func TestPatchDatasetErrorNamesLine(t *testing.T) {
	dataset := filepath.Join(t.TempDir(), "tasks.jsonl")
	good := `{"clean": "` + demoClean + `", "corrupt": "` + demoCorrupt + `", "answer": " Mary", "wrong": " John"}`
	bad := `{"clean": "` + demoClean + `", "corrupt": "` + demoCorrupt + `", "answer": " Mary"}`
	if err := os.WriteFile(dataset, []byte(good+"\n"+bad+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, "patch", "--dataset", dataset)
	if err == nil {
		t.Fatal("dataset with a task lacking its wrong answer was accepted")
	}
	for _, want := range []string{"line 2", `missing the wrong answer: give "wrong" or "wrong_id"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestPatchWithoutArgumentsPrintsTable(t *testing.T) {
	out := mustRun(t, "patch")
	for _, want := range []string{
		"Activation patching on bundled gpt2-tiny",
		"resid_pre:", "attn_out:", "mlp_out:", "z:",
		"·Mary", "H3", "L1", "1.00*",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestPatchDemoOnLlama(t *testing.T) {
	requireFile(t, llamaTiny)
	var res interp.PatchResult
	mustRunJSON(t, &res, "patch", "--model", llamaTiny, "--sites", "z")
	if len(res.Sites["z"]) != 2 || len(res.Sites["z"][0]) != 4 {
		t.Errorf("z = %v, want 2 layers × 4 heads", res.Sites["z"])
	}
}

func TestPatchCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv")
	mustRun(t, "patch", "--csv", path, "--sites", "resid_pre,z")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], []string{"site", "layer", "index", "token", "value"}) {
		t.Errorf("header = %v", rows[0])
	}
	if n := len(rows) - 1; n != 2*demoLength+2*4 {
		t.Errorf("got %d rows, want %d (2 layers × 14 positions + 2 layers × 4 heads)", n, 2*demoLength+2*4)
	}
	// Patching the whole residual stream where the prompts differ restores
	// the clean run, so the score is 1 up to float32 rounding: the patched
	// batch and the clean run can take different matrix product kernels,
	// which sum in different orders.
	row := rows[1+demoDiffers]
	if want := []string{"resid_pre", "0", "9", " John"}; !slices.Equal(row[:4], want) {
		t.Errorf("row of layer 0 position 9 = %q, want %q followed by the score", row, want)
	}
	if score, err := strconv.ParseFloat(row[4], 64); err != nil || math.Abs(score-1) > 1e-5 {
		t.Errorf("score of layer 0 position 9 = %q, want 1 within 1e-5", row[4])
	}
}

func TestPatchPNG(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "patch", "--png", filepath.Join(dir, "map.png"), "--sites", "resid_pre,z")
	for _, name := range []string{"map.resid_pre.png", "map.z.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("heat map not written: %v", err)
			continue
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
			t.Errorf("%s is only %d×%d pixels", name, b.Dx(), b.Dy())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("folder holds %d files, want the 2 heat maps", len(entries))
	}
}

func TestPatchPNGRejectsOtherExtension(t *testing.T) {
	dir := t.TempDir()
	for _, command := range []string{"patch", "attribute"} {
		_, _, err := runCLI(t, command, "--png", filepath.Join(dir, "map.jpg"), "--sites", "z")
		if err == nil || !strings.Contains(err.Error(), "give a name ending in .png") {
			t.Errorf("%s --png map.jpg: error %v, want one asking for .png", command, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("folder holds %d files after rejected runs, want none", len(entries))
	}
}

func TestHeatmapPath(t *testing.T) {
	tests := []struct{ path, site, want string }{
		{"out.png", "resid_pre", "out.resid_pre.png"},
		{"dir/map.v1.png", "z", "dir/map.v1.z.png"},
		{"out", "mlp_out", "out.mlp_out.png"},
	}
	for _, tc := range tests {
		if got := heatmapPath(tc.path, tc.site); got != tc.want {
			t.Errorf("heatmapPath(%q, %q) = %q, want %q", tc.path, tc.site, got, tc.want)
		}
	}
}

func TestStrongestCells(t *testing.T) {
	values := [][]float64{{0.9, 0.001, -0.5}, {0.002, 0.95, 0.05}}
	got := strongest(values, 3)
	want := map[[2]int]bool{{1, 1}: true, {0, 0}: true, {0, 2}: true}
	if len(got) != len(want) {
		t.Errorf("marked %v, want %v", got, want)
	}
	for c := range want {
		if !got[c] {
			t.Errorf("cell %v not marked", c)
		}
	}
	// Below a tenth of the largest value nothing more is marked.
	if got := strongest([][]float64{{1, 0.05, 0.01}}, 3); len(got) != 1 {
		t.Errorf("marked %v, want only the cell of 1", got)
	}
}

func TestParseIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []int32
	}{
		{"1,2,3", []int32{1, 2, 3}},
		{"[1, 2, 3]", []int32{1, 2, 3}},
		{"7 8", []int32{7, 8}},
		{"", []int32{}},
	}
	for _, tc := range tests {
		got, err := parseIDs("--ids", tc.in)
		if err != nil {
			t.Errorf("parseIDs(%q): %v", tc.in, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("parseIDs(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if _, err := parseIDs("--ids", "1,,2.5"); err == nil {
		t.Error("parseIDs accepted 2.5")
	}
}

// TestPatchIOIDataset checks that patch shares attribute's --dataset ioi:N.
func TestPatchIOIDataset(t *testing.T) {
	var res interp.PatchResult
	mustRunJSON(t, &res, "patch", "--dataset", "ioi:2", "--seed", "5", "--sites", "z")
	if len(res.Sites["z"]) != 2 || len(res.Sites["z"][0]) != 4 {
		t.Errorf("z = %v, want 2 layers × 4 heads", res.Sites["z"])
	}
}
