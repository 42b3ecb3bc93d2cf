package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bundle "github.com/interp-go/interp"
	"github.com/interp-go/interp/internal/synth"
)

// Models the tests run besides the bundled one.
var (
	// llamaTiny is the Llama fixture with Llama-2's SentencePiece
	// vocabulary, whose tokenizer adds BOS.
	llamaTiny = filepath.Join("..", "..", "testdata", "llama-tiny.gguf")
	// shortModel is a GPT-2 with a synthetic vocabulary and a context of
	// shortContext tokens, written by TestMain.
	shortModel string
)

const shortContext = 16

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "interp-cmd-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	shortModel = filepath.Join(dir, "short.gguf")
	err = synth.Write(shortModel, synth.Options{
		Arch: synth.ArchGPT2, NLayers: 1, DModel: 32, NHeads: 2, NCtx: shortContext, Seed: 9,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// runCLI runs the command line in-process, as a user would type it after
// "interp", and returns what it wrote to stdout and stderr.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	requireBundledModel(t)
	var out, errOut bytes.Buffer
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// mustRun is runCLI for commands expected to succeed.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("interp %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout
}

// mustRunJSON runs a command with --json and decodes its output into v.
func mustRunJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	stdout := mustRun(t, append(args, "--json")...)
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("interp %s --json: output is not JSON: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

// requireBundledModel skips the test when the fixture model was empty at
// build time.
func requireBundledModel(t *testing.T) {
	t.Helper()
	if len(bundle.DemoModel) == 0 {
		t.Skip("testdata/gpt2-tiny.gguf was empty when the test was built; run `go run ./internal/fixtures`")
	}
}

// requireFile skips the test when a fixture file is missing.
func requireFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("fixture %s is missing (run `go run ./internal/fixtures`): %v", path, err)
	}
}

func TestRunExitStatus(t *testing.T) {
	requireBundledModel(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"inspect", "--model", "no-such-model.gguf"}, &stdout, &stderr)
	if code == 0 {
		t.Errorf("exit status = 0, want non-zero")
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
	if !strings.HasPrefix(stderr.String(), "interp: ") || !strings.Contains(stderr.String(), "no-such-model.gguf not found") {
		t.Errorf("stderr = %q, want an interp: error naming the missing file", stderr.String())
	}
}

func TestErrorMessageNamesInterpOnce(t *testing.T) {
	err := fmt.Errorf("corpus.jsonl: %w", errors.New("interp: corpus line 2 has no field \"text\""))
	if got, want := errorMessage(err), `corpus.jsonl: corpus line 2 has no field "text"`; got != want {
		t.Errorf("errorMessage = %q, want %q", got, want)
	}
	if got, want := errorMessage(errors.New("interp: no tokens")), "no tokens"; got != want {
		t.Errorf("errorMessage = %q, want %q", got, want)
	}
}

func TestVerboseLogsToStderr(t *testing.T) {
	_, quiet, err := runCLI(t, "tokenize", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if quiet != "" {
		t.Errorf("stderr without --verbose = %q, want nothing", quiet)
	}
	stdout, loud, err := runCLI(t, "tokenize", "--verbose", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(loud, "model loaded") {
		t.Errorf("stderr with --verbose = %q, want a debug line about loading the model", loud)
	}
	if strings.Contains(stdout, "model loaded") {
		t.Errorf("debug log went to stdout: %q", stdout)
	}
}

// TestErrors checks that bad input fails with a message that names the
// problem.
func TestErrors(t *testing.T) {
	requireFile(t, llamaTiny)
	long := strings.Repeat("abc ", 3*shortContext)
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error message
	}{
		{"missing model file", []string{"inspect", "--model", "missing.gguf"},
			[]string{"missing.gguf not found", "--model"}},
		{"unknown hook name", []string{"trace", "--prompt", "hi", "--hook", "blocks.0.hook_resid", "--out", filepath.Join(t.TempDir(), "x.npz")},
			[]string{"unknown hook point", `"blocks.0.hook_resid"`, "closest valid names", "blocks.0.hook_resid_pre"}},
		{"clean and corrupt lengths differ", []string{"patch", "--clean", "When Mary and John went", "--corrupt", "When Mary went", "--answer", " Mary", "--wrong", " John"},
			[]string{"clean prompt has 5 tokens and the corrupted prompt 3", `" went"(1816)`}},
		{"multi-token answer", []string{"patch", "--clean", "a b", "--corrupt", "a c", "--answer", " Marylandia", "--wrong", " John"},
			[]string{"answer \" Marylandia\" is", "single token", `" Maryland"`}},
		{"answer equals wrong", []string{"patch", "--clean-ids", "1,2", "--corrupt-ids", "1,3", "--answer-id", "5", "--wrong-id", "5"},
			[]string{"same token"}},
		{"missing wrong answer", []string{"patch", "--clean", "a b", "--corrupt", "a c", "--answer", " b"},
			[]string{"missing the wrong answer", "--wrong or --wrong-id"}},
		{"prompt longer than context (logits)", []string{"logits", "--model", shortModel, "--prompt", long},
			[]string{"more than the model's context length of 16"}},
		{"prompt longer than context (patch)", []string{"patch", "--model", shortModel, "--clean", long, "--corrupt", long, "--answer-id", "1", "--wrong-id", "2"},
			[]string{"the clean prompt has", "context length of 16"}},
		{"generate with a full context", []string{"generate", "--model", shortModel, "--ids", strings.Repeat("1,", shortContext-1) + "1"},
			[]string{"no room to generate"}},
		{"token id out of range", []string{"logits", "--ids", "1,99999"},
			[]string{"token id 99999 is out of range", "50256"}},
		{"malformed ids", []string{"logits", "--ids", "1,x"},
			[]string{`invalid --ids "1,x"`}},
		{"prompt and ids together", []string{"logits", "--prompt", "a", "--ids", "1"},
			[]string{"prompt", "ids"}},
		{"no prompt", []string{"logits"},
			[]string{"prompt", "ids"}},
		{"empty prompt", []string{"logits", "--prompt", ""},
			[]string{"no tokens"}},
		{"unknown site", []string{"patch", "--sites", "resid_pre,heads"},
			[]string{`invalid --sites entry "heads"`, "resid_pre, attn_out, mlp_out, z"}},
		{"dataset with flags", []string{"patch", "--dataset", "x.jsonl", "--clean", "a"},
			[]string{"--dataset cannot be combined"}},
		{"missing dataset", []string{"patch", "--dataset", "no-such.jsonl"},
			[]string{"no-such.jsonl"}},
		{"bad top-p", []string{"generate", "--prompt", "a", "--temperature", "1", "--top-p", "0"},
			[]string{"invalid --top-p 0"}},
		{"unknown flag", []string{"patch", "--layers", "3"},
			[]string{"unknown flag: --layers", "interp patch --help"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runCLI(t, tc.args...)
			if err == nil {
				t.Fatalf("interp %s succeeded, want an error; stdout:\n%s", strings.Join(tc.args, " "), stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
