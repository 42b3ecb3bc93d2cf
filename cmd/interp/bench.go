package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	bundle "github.com/interp-go/interp"
	"github.com/interp-go/interp/transformer"
)

// benchResult is the JSON output of `interp bench`. Speeds are medians over
// the counted runs.
type benchResult struct {
	PrefillTokensPerS float64 `json:"prefill_tokens_per_s"`
	DecodeTokensPerS  float64 `json:"decode_tokens_per_s"`
	// PeakRSSBytes is the process's resident-memory high-water mark after
	// the runs, model loading included. It is 0 where the system does not
	// report it.
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	ModelBytes   int64  `json:"model_bytes"` // size of the GGUF file

	// Sweep is set with --sweep.
	Sweep *sweepResult `json:"sweep,omitempty"`

	Model        string `json:"model"`          // --model as given, or "bundled gpt2-tiny"
	File         string `json:"file,omitempty"` // the GGUF file that --model resolved to
	Architecture string `json:"architecture"`
	WeightType   string `json:"weight_type"` // the file's type (general.file_type), such as Q4_K_M, else the tensor type of most parameters
	// Numerics is --numerics: default, llamacpp or float (float32
	// activations against decoded weights).
	Numerics     string    `json:"numerics"`
	PromptTokens int       `json:"prompt_tokens"`
	GenTokens    int       `json:"gen_tokens"`
	Runs         int       `json:"runs"`
	PrefillRuns  []float64 `json:"prefill_tokens_per_s_runs"` // tokens/s of each counted run
	DecodeRuns   []float64 `json:"decode_tokens_per_s_runs"`
	LoadSeconds  float64   `json:"load_seconds"`
	Threads      int       `json:"threads"` // GOMAXPROCS during the runs
	NumCPU       int       `json:"num_cpu"`
	CPU          string    `json:"cpu,omitempty"` // processor model name, where the system reports it
	GoVersion    string    `json:"go_version"`
	OS           string    `json:"os"`
	Arch         string    `json:"arch"`
}

// benchConfig holds the flags of `interp bench`.
type benchConfig struct {
	promptTokens int
	genTokens    int
	threads      int
	runs         int
	sweep        bool
}

// benchSeed seeds the prompt's token ids, so every run and every
// invocation times the same prompt.
const benchSeed = 0x62656e6368 // "bench" in ASCII

// maxBenchThreads bounds --threads. The Go runtime aborts the process when
// it needs more than 10,000 OS threads (runtime/debug.SetMaxThreads), and
// every GOMAXPROCS slot that runs at once needs one, so a larger value
// crashed with "thread exhaustion" instead of an error.
const maxBenchThreads = 4096

func newBenchCommand(a *app) *cobra.Command {
	var c benchConfig
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure prompt processing and decoding speed, and peak memory",
		Long: `Measure the forward pass without hooks as llama.cpp's bench does. Each run
starts from an empty KV cache, processes a prompt of --prompt-tokens
pseudo-random token ids in one batch (prefill), then decodes --gen-tokens
tokens one at a time with the KV cache, feeding back the most likely token
(decode). One warm-up run is not counted; the speeds are medians over --runs.

The report also gives the process's peak resident memory (model loading
included) and the model file's size. Progress goes to stderr, the result to
stdout.

Examples:
  interp bench
  interp bench --model model.gguf --threads 4 --json
  interp bench --model llama3.2:1b --prompt-tokens 512 --gen-tokens 128 --runs 5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.check(); err != nil {
				return err
			}
			if c.threads > 0 {
				// Set GOMAXPROCS now and restore the old value on return,
				// because tests run commands inside one process.
				previous := runtime.GOMAXPROCS(c.threads)
				defer runtime.GOMAXPROCS(previous)
			}

			start := time.Now()
			m, release, err := a.openModel()
			if err != nil {
				return err
			}
			defer release()
			loadSeconds := time.Since(start).Seconds()

			if total := c.promptTokens + c.genTokens; total > m.NCtx && !cmd.Flags().Changed("prompt-tokens") && !cmd.Flags().Changed("gen-tokens") {
				// The defaults are for real models; a small context gets
				// half of it for the prompt and the rest for decoding.
				c.promptTokens = max(1, m.NCtx/2)
				c.genTokens = max(1, m.NCtx-c.promptTokens)
				a.log.Warn("the default token counts exceed the model's context, so the run uses smaller ones", "context", m.NCtx, "prompt_tokens", c.promptTokens, "gen_tokens", c.genTokens)
			}
			res, err := a.bench(cmd.ErrOrStderr(), m, c)
			if err != nil {
				return err
			}
			if c.sweep {
				if res.Sweep, err = benchSweep(cmd.ErrOrStderr(), m, c.promptTokens, c.runs); err != nil {
					return err
				}
			}
			res.LoadSeconds = loadSeconds
			if a.jsonOut {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			return printBench(cmd.OutOrStdout(), res)
		},
	}
	flags := cmd.Flags()
	flags.IntVar(&c.promptTokens, "prompt-tokens", 128, "prompt length in tokens, processed in one batch")
	flags.IntVar(&c.genTokens, "gen-tokens", 64, "tokens to decode one at a time after the prompt")
	flags.IntVar(&c.threads, "threads", 0, "set GOMAXPROCS, the number of threads that run Go code (default: leave it as is, one per CPU)")
	flags.IntVar(&c.runs, "runs", 3, "counted runs, after one warm-up run")
	flags.BoolVar(&c.sweep, "sweep", false, "also time a full activation-patching sweep of a --prompt-tokens task and report its cost relative to one forward pass per site")
	return cmd
}

// check validates the flags that do not depend on the model.
func (c benchConfig) check() error {
	switch {
	case c.promptTokens < 1:
		return fmt.Errorf("invalid --prompt-tokens %d: it must be at least 1", c.promptTokens)
	case c.genTokens < 1:
		return fmt.Errorf("invalid --gen-tokens %d: it must be at least 1", c.genTokens)
	case c.runs < 1:
		return fmt.Errorf("invalid --runs %d: it must be at least 1", c.runs)
	case c.threads < 0:
		return fmt.Errorf("invalid --threads %d: it must be positive, or 0 to leave GOMAXPROCS as is", c.threads)
	case c.threads > maxBenchThreads:
		return fmt.Errorf("invalid --threads %d: it must be at most %d", c.threads, maxBenchThreads)
	}
	return nil
}

// bench times one warm-up and c.runs counted runs on m and collects the
// report.
func (a *app) bench(stderr io.Writer, m *transformer.Model, c benchConfig) (benchResult, error) {
	if total := c.promptTokens + c.genTokens; total > m.NCtx {
		return benchResult{}, fmt.Errorf("--prompt-tokens %d plus --gen-tokens %d is %d tokens, more than the model's context length of %d; lower them",
			c.promptTokens, c.genTokens, total, m.NCtx)
	}
	modelBytes, err := a.modelFileSize(m)
	if err != nil {
		return benchResult{}, err
	}

	rng := rand.New(rand.NewPCG(benchSeed, 0))
	prompt := make([]int32, c.promptTokens)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(m.VocabSize))
	}

	progress := newSweepProgress(stderr, "bench")
	prefill := make([]float64, 0, c.runs)
	decode := make([]float64, 0, c.runs)
	for run := 0; run <= c.runs; run++ {
		// Collect the previous run's garbage outside the timed region.
		runtime.GC()
		prefillTime, decodeTime, err := benchRun(m, prompt, c.genTokens)
		if err != nil {
			return benchResult{}, err
		}
		prefillSpeed := float64(c.promptTokens) / prefillTime.Seconds()
		decodeSpeed := float64(c.genTokens) / decodeTime.Seconds()
		a.log.Debug("bench run", "run", run, "warm_up", run == 0,
			"prefill_tokens_per_s", prefillSpeed, "decode_tokens_per_s", decodeSpeed)
		if run > 0 {
			prefill = append(prefill, prefillSpeed)
			decode = append(decode, decodeSpeed)
		}
		progress.update(run+1, c.runs+1)
	}
	progress.finish()

	rss, err := peakRSS()
	if err != nil {
		a.log.Warn("peak resident memory is not available; reporting 0", "err", err)
	}
	res := benchResult{
		PrefillTokensPerS: median(prefill),
		DecodeTokensPerS:  median(decode),
		PeakRSSBytes:      rss,
		ModelBytes:        modelBytes,
		Model:             a.modelName(),
		Architecture:      m.Arch,
		WeightType:        mainWeightType(m),
		Numerics:          m.Numerics().String(),
		PromptTokens:      c.promptTokens,
		GenTokens:         c.genTokens,
		Runs:              c.runs,
		PrefillRuns:       prefill,
		DecodeRuns:        decode,
		Threads:           runtime.GOMAXPROCS(0),
		NumCPU:            runtime.NumCPU(),
		CPU:               cpuModelName(),
		GoVersion:         runtime.Version(),
		OS:                runtime.GOOS,
		Arch:              runtime.GOARCH,
	}
	if a.modelPath != "" {
		res.File = m.File().Path
	}
	return res, nil
}

// benchRun processes prompt in one batch from an empty KV cache, then
// decodes gen tokens one at a time, each fed the previous step's most
// likely token. Picking a token is part of each timed step, as in a real
// greedy decoding loop.
func benchRun(m *transformer.Model, prompt []int32, gen int) (prefill, decode time.Duration, err error) {
	st, err := m.NewState(1, len(prompt)+gen)
	if err != nil {
		return 0, 0, err
	}
	opts := &transformer.Options{Logits: transformer.LastLogits}

	start := time.Now()
	out, err := m.Forward(st, transformer.Input{Tokens: [][]int32{prompt}}, opts)
	if err != nil {
		return 0, 0, err
	}
	next := argmax(out.Row(0, 0))
	prefill = time.Since(start)

	step := [][]int32{{0}}
	start = time.Now()
	for range gen {
		step[0][0] = next
		out, err := m.Forward(st, transformer.Input{Tokens: step}, opts)
		if err != nil {
			return 0, 0, err
		}
		next = argmax(out.Row(0, 0))
	}
	decode = time.Since(start)
	return prefill, decode, nil
}

// argmax returns the index of the largest logit, the first on ties.
func argmax(logits []float32) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return int32(best)
}

// median returns the middle value of xs, or the mean of the two middle
// values when len(xs) is even. It returns 0 for no values.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// modelFileSize returns the size in bytes of the model's GGUF file.
func (a *app) modelFileSize(m *transformer.Model) (int64, error) {
	if a.modelPath == "" {
		return int64(len(bundle.DemoModel)), nil
	}
	info, err := os.Stat(m.File().Path)
	if err != nil {
		return 0, fmt.Errorf("reading the model file's size: %w", err)
	}
	return info.Size(), nil
}

// mainWeightType returns the tensor type that holds the most parameters.
func mainWeightType(m *transformer.Model) string {
	// general.file_type is llama.cpp's llama_ftype of the whole file, which
	// names mixtures such as Q4_K_M that no single tensor type shows.
	if ftype, ok := m.File().Uint("general.file_type"); ok {
		if name, ok := fileTypes[ftype]; ok {
			return name
		}
	}
	params := map[string]uint64{}
	for _, t := range m.File().Tensors {
		params[t.Type.String()] += t.NumElements()
	}
	best := ""
	for typ, n := range params {
		if n > params[best] || n == params[best] && typ < best {
			best = typ
		}
	}
	return best
}

// fileTypes names the values of general.file_type (enum llama_ftype of
// llama.cpp's include/llama.h) for the types interp reads.
var fileTypes = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
	16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 21: "Q2_K_S", 32: "BF16",
}

// peakRSS returns the process's resident-memory high-water mark in bytes:
// VmHWM from /proc/self/status on Linux, else the system's getrusage
// figure.
func peakRSS() (uint64, error) {
	if n, err := procStatusBytes("/proc/self/status", "VmHWM"); err == nil {
		return n, nil
	}
	return maxRSS()
}

// procStatusBytes reads a "Key:   123 kB" line of a Linux /proc status
// file and returns its value in bytes.
func procStatusBytes(path, key string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		value, ok := strings.CutPrefix(sc.Text(), key+":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("%s: unexpected %s line %q", path, key, sc.Text())
		}
		kib, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		return kib * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no %s line", path, key)
}

// cpuModelName returns the processor's model name from /proc/cpuinfo, or ""
// where that file or line is missing, as on systems other than Linux.
func cpuModelName() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

func printBench(w io.Writer, r benchResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	model := r.Model
	if r.File != "" && r.File != r.Model {
		model += " (" + r.File + ")"
	}
	fmt.Fprintf(tw, "model\t%s\n", model)
	weights := r.WeightType + " weights"
	if r.Numerics != "" && r.Numerics != transformer.NumericsDefault.String() {
		weights += ", " + r.Numerics + " numerics"
	}
	fmt.Fprintf(tw, "architecture\t%s, %s, %s file\n", r.Architecture, weights, formatBytes(uint64(r.ModelBytes)))
	machine := fmt.Sprintf("%d threads (GOMAXPROCS) of %d CPUs, %s %s/%s", r.Threads, r.NumCPU, r.GoVersion, r.OS, r.Arch)
	if r.CPU != "" {
		machine = r.CPU + ", " + machine
	}
	fmt.Fprintf(tw, "machine\t%s\n", machine)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "test\ttokens\ttokens/s (median of %d)\tper run\n", r.Runs)
	fmt.Fprintf(tw, "prefill\t%d\t%.1f\t%s\n", r.PromptTokens, r.PrefillTokensPerS, formatSpeeds(r.PrefillRuns))
	fmt.Fprintf(tw, "decode\t%d\t%.1f\t%s\n", r.GenTokens, r.DecodeTokensPerS, formatSpeeds(r.DecodeRuns))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	peak := "not available on this system"
	if r.PeakRSSBytes > 0 {
		peak = formatBytes(r.PeakRSSBytes)
	}
	fmt.Fprintf(w, "peak resident memory  %s\n", peak)
	fmt.Fprintf(w, "model load            %.2f s\n", r.LoadSeconds)
	if s := r.Sweep; s != nil {
		fmt.Fprintf(w, "\npatching sweep        %d sites of a %d-token task in %.2f s\n", s.Sites, s.Tokens, s.SweepSeconds)
		fmt.Fprintf(w, "relative cost         %.2f × one forward pass (%.3f s) per site\n", s.RelativeCost, s.ForwardSeconds)
	}
	return nil
}

// formatSpeeds formats tokens/s figures as "512.3 510.9 515.0".
func formatSpeeds(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strings.Join(parts, " ")
}

// formatBytes formats n in decimal megabytes, or kilobytes below 1 MB.
func formatBytes(n uint64) string {
	if n < 1_000_000 {
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
