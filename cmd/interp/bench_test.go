package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	bundle "github.com/interp-go/interp"
)

func TestBenchJSONContract(t *testing.T) {
	var got map[string]json.RawMessage
	mustRunJSON(t, &got, "bench", "--prompt-tokens", "8", "--gen-tokens", "4", "--runs", "1")
	for _, key := range []string{"prefill_tokens_per_s", "decode_tokens_per_s", "peak_rss_bytes", "model_bytes"} {
		raw, ok := got[key]
		if !ok {
			t.Errorf("bench --json has no %q field", key)
			continue
		}
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Errorf("%s = %s, want a number", key, raw)
			continue
		}
		if !(v > 0) {
			t.Errorf("%s = %s, want a positive value", key, raw)
		}
	}
}

func TestBenchJSONValues(t *testing.T) {
	var got benchResult
	mustRunJSON(t, &got, "bench", "--prompt-tokens", "8", "--gen-tokens", "4", "--runs", "2", "--threads", "1")
	if got.ModelBytes != int64(len(bundle.DemoModel)) {
		t.Errorf("model_bytes = %d, want the bundled file's %d", got.ModelBytes, len(bundle.DemoModel))
	}
	if got.PromptTokens != 8 || got.GenTokens != 4 || got.Runs != 2 {
		t.Errorf("prompt_tokens, gen_tokens, runs = %d, %d, %d, want 8, 4, 2", got.PromptTokens, got.GenTokens, got.Runs)
	}
	if len(got.PrefillRuns) != 2 || len(got.DecodeRuns) != 2 {
		t.Errorf("per-run speeds: %d prefill and %d decode, want 2 of each (the warm-up run is not counted)", len(got.PrefillRuns), len(got.DecodeRuns))
	}
	if got.Threads != 1 {
		t.Errorf("threads = %d, want 1 from --threads 1", got.Threads)
	}
	if got.Architecture != "gpt2" || got.WeightType != "F16" {
		t.Errorf("architecture, weight_type = %s, %s, want gpt2, F16", got.Architecture, got.WeightType)
	}
}

func TestBenchRestoresGOMAXPROCS(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	mustRun(t, "bench", "--prompt-tokens", "2", "--gen-tokens", "1", "--runs", "1", "--threads", "1")
	if after := runtime.GOMAXPROCS(0); after != before {
		t.Errorf("GOMAXPROCS after bench --threads 1 = %d, want %d as before", after, before)
	}
}

func TestBenchTable(t *testing.T) {
	out := mustRun(t, "bench", "--prompt-tokens", "4", "--gen-tokens", "2", "--runs", "1")
	for _, want := range []string{"bundled gpt2-tiny", "prefill  4", "decode   2", "tokens/s (median of 1)", "peak resident memory"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"prompt and generation exceed context", []string{"--prompt-tokens", "100", "--gen-tokens", "29"},
			[]string{"--prompt-tokens 100 plus --gen-tokens 29 is 129 tokens", "context length of 128"}},
		{"no prompt", []string{"--prompt-tokens", "0"}, []string{"invalid --prompt-tokens 0"}},
		{"no generation", []string{"--gen-tokens", "0"}, []string{"invalid --gen-tokens 0"}},
		{"no runs", []string{"--runs", "0"}, []string{"invalid --runs 0"}},
		{"negative threads", []string{"--threads", "-1"}, []string{"invalid --threads -1"}},
		{"too many threads", []string{"--threads", "100000"}, []string{"invalid --threads 100000", "at most 4096"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runCLI(t, append([]string{"bench"}, tc.args...)...)
			if err == nil {
				t.Fatalf("bench %s succeeded, want an error; stdout:\n%s", strings.Join(tc.args, " "), stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tc := range tests {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %g, want %g", tc.in, got, tc.want)
		}
	}
}

func TestProcStatusBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	status := "Name:\tinterp\nVmPeak:\t  900 kB\nVmHWM:\t  1234 kB\nVmRSS:\t  1000 kB\n"
	if err := os.WriteFile(path, []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := procStatusBytes(path, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	if got != 1234*1024 {
		t.Errorf("VmHWM = %d bytes, want %d", got, 1234*1024)
	}
	if _, err := procStatusBytes(path, "VmSwap"); err == nil {
		t.Errorf("missing VmSwap line gave no error")
	}
}

func TestPeakRSSPositive(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("peak resident memory is not implemented on windows")
	}
	got, err := peakRSS()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary and the embedded demo model alone take several MB.
	if got < 1<<20 {
		t.Errorf("peak RSS = %d bytes, want at least 1 MiB", got)
	}
}
