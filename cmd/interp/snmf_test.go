package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"codeberg.org/sbinet/npyio/npz"
)

// writeCorpus writes a short plain-text corpus and returns its path.
func writeCorpus(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "corpus.txt")
	text := strings.Repeat("When Mary and John went to the store, John gave a drink to Mary.\n"+
		"The cat sat on the mat and looked at the birds outside the window.\n", 4)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// snmfArgs are the flags of a small, fast factorization on the bundled
// gpt2-tiny (d_mlp 256).
func snmfArgs(corpus string) []string {
	return []string{"snmf", "--corpus", corpus, "--layer", "1", "--k", "3", "--max-tokens", "60",
		"--seq-len", "16", "--iters", "5", "--sparsity", "0.05"}
}

func TestSNMFWritesEveryOutput(t *testing.T) {
	corpus := writeCorpus(t)
	dir := t.TempDir()
	outs := map[string]string{}
	args := snmfArgs(corpus)
	for _, ext := range []string{"json", "npz", "md", "html"} {
		outs[ext] = filepath.Join(dir, "features."+ext)
		args = append(args, "--out", outs[ext])
	}
	stdout := mustRun(t, args...)
	if !strings.Contains(stdout, "3 features of blocks.1.mlp.hook_post over 60 tokens") {
		t.Errorf("summary missing from stdout:\n%s", stdout)
	}

	var report struct {
		Layer         int       `json:"layer"`
		K             int       `json:"k"`
		Loss          []float64 `json:"loss"`
		RelativeError float64   `json:"relative_error"`
		Features      []struct {
			Index       int               `json:"index"`
			Neurons     [][2]float64      `json:"neurons"`
			TopContexts []json.RawMessage `json:"top_contexts"`
			TopLogits   [][2]any          `json:"top_logits"`
		} `json:"features"`
	}
	data, err := os.ReadFile(outs["json"])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	if report.Layer != 1 || report.K != 3 || len(report.Features) != 3 || len(report.Loss) == 0 {
		t.Errorf("report: layer %d, k %d, %d features, %d losses", report.Layer, report.K, len(report.Features), len(report.Loss))
	}
	for _, f := range report.Features {
		// ⌈0.05·256⌉ = 13 neurons at most.
		if len(f.Neurons) == 0 || len(f.Neurons) > 13 {
			t.Errorf("feature %d has %d neurons, want 1 to 13", f.Index, len(f.Neurons))
		}
	}

	r, err := npz.Open(outs["npz"])
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, shape := range map[string][]int{"Z.npy": {256, 3}, "Y.npy": {3, 60}, "ids.npy": {60}} {
		h := r.Header(name)
		if h == nil {
			t.Errorf("no member %s", name)
			continue
		}
		if !slices.Equal(h.Descr.Shape, shape) {
			t.Errorf("%s: shape %v, want %v", name, h.Descr.Shape, shape)
		}
	}

	for _, ext := range []string{"md", "html"} {
		page, err := os.ReadFile(outs[ext])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(page, []byte("Feature 2")) {
			t.Errorf("%s report lacks feature 2", ext)
		}
	}
}

func TestSNMFJSONOutput(t *testing.T) {
	var report struct {
		K        int `json:"k"`
		Features []struct {
			TopContexts []struct {
				Text  string `json:"text"`
				Token string `json:"token"`
			} `json:"top_contexts"`
		} `json:"features"`
	}
	mustRunJSON(t, &report, snmfArgs(writeCorpus(t))...)
	if report.K != 3 || len(report.Features) != 3 {
		t.Fatalf("k %d with %d features, want 3 and 3", report.K, len(report.Features))
	}
	c := report.Features[0].TopContexts[0]
	if !strings.HasSuffix(c.Text, c.Token) {
		t.Errorf("context %q does not end with its token %q", c.Text, c.Token)
	}
}

func TestSNMFRejectsBadFlags(t *testing.T) {
	corpus := writeCorpus(t)
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"csv output", []string{"--out", "features.csv"}, "give a name ending in .json, .md, .html or .npz"},
		{"sparsity above one", []string{"--sparsity", "2"}, "invalid --sparsity"},
		{"unknown format", []string{"--format", "xml"}, "invalid --format"},
		{"negative contexts", []string{"--contexts", "-1"}, "invalid --contexts -1"},
		{"text field of a text corpus", []string{"--text-field", "body"}, "--text-field applies to JSONL corpora"},
		{"block past the last", []string{"--layer", "5"}, "invalid --layer 5"},
		{"k above max tokens", []string{"--k", "61"}, "invalid --k 61: it is more than --max-tokens 60"},
		{"k above the tokens", []string{"--k", "200", "--max-tokens", "1000"}, "k = 200"},
		{"unknown init", []string{"--init", "pca"}, `invalid --init "pca"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, append(snmfArgs(corpus), tc.extra...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// The width check comes before the corpus is read, so a missing corpus
	// does not hide it.
	missing := filepath.Join(t.TempDir(), "missing.txt")
	_, _, err := runCLI(t, append(snmfArgs(missing), "--k", "257", "--max-tokens", "1000")...)
	if err == nil || !strings.Contains(err.Error(), "invalid --k 257: the MLP of block 1 has 256 neurons") {
		t.Errorf("k above d_mlp: got error %v, want one naming --k and d_mlp", err)
	}
	_, _, err = runCLI(t, snmfArgs(missing)...)
	if err == nil || !strings.Contains(err.Error(), "opening the corpus") {
		t.Errorf("missing corpus: got error %v", err)
	}
}

func TestSNMFNeverOverwritesTheCorpus(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.json")
	if err := os.WriteFile(corpus, []byte("When Mary and John went to the store."), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, append(snmfArgs(corpus), "--format", "text", "--out", corpus)...)
	if err == nil || !strings.Contains(err.Error(), "must not be overwritten") {
		t.Errorf("got error %v, want one refusing to overwrite the corpus", err)
	}
}

// cancelWriter records what is written and calls cancel once the text
// contains trigger.
type cancelWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	trigger string
	cancel  context.CancelFunc
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.trigger) {
		w.cancel()
	}
	return len(p), nil
}

// An interruption while collecting activations fails with a message that
// names the interruption, and writes no output.
func TestSNMFInterruptWhileCollecting(t *testing.T) {
	requireBundledModel(t)
	out := filepath.Join(t.TempDir(), "features.json")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	root := newRootCommand()
	root.SetArgs(append(snmfArgs(writeCorpus(t)), "--out", out))
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	err := root.ExecuteContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "interrupted while collecting activations") {
		t.Fatalf("got error %v, want an interruption while collecting activations", err)
	}
	if strings.Contains(err.Error(), "context canceled") {
		t.Errorf("error %q shows the internal cancellation instead of the interruption", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output %s exists after an interruption while collecting (stat error %v)", out, err)
	}
}

// An interruption during the factorization (Ctrl-C cancels the same
// context) still writes the best factors so far, then fails.
func TestSNMFInterruptWritesBestFactors(t *testing.T) {
	requireBundledModel(t)
	out := filepath.Join(t.TempDir(), "features.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &cancelWriter{trigger: "iteration 1/", cancel: cancel}
	root := newRootCommand()
	root.SetArgs(append(snmfArgs(writeCorpus(t)), "--iters", "100", "--out", out))
	root.SetOut(&bytes.Buffer{})
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "interrupted after 1 iterations") {
		t.Fatalf("got error %v, want an interruption after 1 iteration", err)
	}

	var report struct {
		Interrupted   bool      `json:"interrupted"`
		Loss          []float64 `json:"loss"`
		BestIteration int       `json:"best_iteration"`
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	if !report.Interrupted || len(report.Loss) != 1 || report.BestIteration != 1 {
		t.Errorf("report: interrupted %v, %d losses, best iteration %d; want true, 1, 1", report.Interrupted, len(report.Loss), report.BestIteration)
	}
}
