package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-go/interp/interp"
)

// snmfConfig holds the flags of `interp snmf`.
type snmfConfig struct {
	layer     int
	corpus    string
	format    string
	textField string
	maxTokens int
	seqLen    int
	normalize bool

	snmf   interp.SNMFOptions
	report interp.ReportOptions
	outs   []string
}

// snmfProgressInterval spaces the progress lines on stderr.
const snmfProgressInterval = time.Second

func newSNMFCommand(a *app) *cobra.Command {
	var c snmfConfig
	cmd := &cobra.Command{
		Use:   "snmf --layer L --corpus FILE --k K [--out FILE]...",
		Short: "Decompose one block's MLP activations into interpretable features (SNMF)",
		Long: `Collect the MLP hidden activations blocks.L.mlp.hook_post of every token of a
corpus into a matrix A [d_mlp, tokens] and factor it as A ≈ Z·Y with Y ≥ 0
(semi-nonnegative matrix factorization). Each column of Z is a feature, a
sparse signed combination of neurons; each row of Y says how strongly every
token expresses that feature.

The corpus is plain UTF-8 text, read as one stream, or JSONL with one
document per line in the field --text-field (chosen by the file extension
.jsonl or .ndjson, or by --format). The text runs in sequences of --seq-len
tokens, BOS excluded from the matrix; --max-tokens bounds the matrix and so
the memory (8·d_mlp bytes per token, plus the model).

Each iteration solves Z by least squares, keeps the ⌈p·d_mlp⌉ largest
entries of each feature (p = --sparsity) and refits them, then updates Y
multiplicatively (Ding, Li and Jordan's semi-NMF rule), which keeps it
non-negative. It stops after --iters iterations, or when the error has not
improved by a relative 1e-4 for --patience iterations, and keeps the best
factors. Progress (iteration, error) goes to stderr. Ctrl-C stops the
factorization and writes the best factors so far, then exits with an error.

The report describes each feature by its neurons, its top activating tokens
with the text before them, and its top logits: W_down·z read through the
final norm and unembedding. --out may be repeated; its extension selects
the format, and each file is written to a temporary name and renamed when
complete:
  .json  the report, as --json prints it
  .md    the report as markdown
  .html  the report as an HTML page
  .npz   the factors for numpy: Z [d_mlp, k] and Y [k, tokens] (float64),
         ids [tokens], sequence_starts and layer (int64)

A feature of an .npz or .json file steers generation as FILE:INDEX (see
'interp steer --feature').

Examples:
  interp snmf --model stories260K.gguf --layer 2 --corpus stories.txt --k 32 --out features.json --out features.md
  interp snmf --model model.gguf --layer 6 --corpus corpus.jsonl --k 50 --sparsity 0.02 --out features.npz --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSNMF(cmd, a, &c)
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.layer, "layer", 0, "block `L` whose blocks.L.mlp.hook_post is decomposed (counting from 0)")
	f.StringVar(&c.corpus, "corpus", "", "corpus `file`: UTF-8 text, or JSONL with one document per line")
	f.StringVar(&c.format, "format", "auto", "corpus format: text, jsonl, or auto (jsonl for .jsonl and .ndjson files)")
	f.StringVar(&c.textField, "text-field", "text", "JSONL field that holds each document's text")
	f.IntVar(&c.maxTokens, "max-tokens", 20000, "maximum tokens collected: the columns of the activation matrix")
	f.IntVar(&c.seqLen, "seq-len", 0, fmt.Sprintf("tokens per forward pass, BOS included (default: the context length, at most %d)", interp.DefaultSequenceTokens))
	f.BoolVar(&c.normalize, "normalize", false, "scale each token's activation vector to unit L2 norm before factoring")
	f.IntVar(&c.snmf.K, "k", 0, "number of features")
	f.Float64Var(&c.snmf.Sparsity, "sparsity", interp.DefaultSNMFSparsity, "fraction of d_mlp kept in each feature, in (0, 1]; 1 keeps all")
	f.IntVar(&c.snmf.Iters, "iters", interp.DefaultSNMFIters, "maximum iterations")
	f.IntVar(&c.snmf.Patience, "patience", interp.DefaultSNMFPatience, "stop after this many iterations without a relative improvement of 1e-4")
	f.StringVar(&c.snmf.Init, "init", interp.SNMFInitSVD, "initialization: svd, kmeans or random")
	f.Uint64Var(&c.snmf.Seed, "seed", 0, "seed of the initialization's random numbers")
	f.IntVar(&c.report.Contexts, "contexts", interp.DefaultReportContexts, "top activating tokens shown per feature")
	f.IntVar(&c.report.ContextTokens, "context-tokens", interp.DefaultReportContextTokens, "tokens of text shown before each activating token")
	f.IntVar(&c.report.Logits, "top-logits", interp.DefaultReportLogits, "top logits shown per feature")
	f.StringArrayVar(&c.outs, "out", nil, "output `file` (.json, .md, .html or .npz; repeatable)")
	_ = cmd.MarkFlagRequired("layer")
	_ = cmd.MarkFlagRequired("corpus")
	_ = cmd.MarkFlagRequired("k")
	return cmd
}

func runSNMF(cmd *cobra.Command, a *app, c *snmfConfig) error {
	if err := c.check(); err != nil {
		return err
	}
	format, err := corpusFormat(c.format, c.corpus)
	if err != nil {
		return err
	}
	if format == interp.CorpusText && cmd.Flags().Changed("text-field") {
		return fmt.Errorf("--text-field applies to JSONL corpora, but %s is read as plain text: name the file .jsonl or give --format jsonl", c.corpus)
	}
	m, release, err := a.openModel()
	if err != nil {
		return err
	}
	defer release()
	// Check the model-dependent flags before reading the corpus, so their
	// errors name the flag rather than the corpus.
	if c.layer >= m.NLayers {
		return fmt.Errorf("invalid --layer %d: the model has blocks 0 to %d", c.layer, m.NLayers-1)
	}
	if c.seqLen != 0 && (c.seqLen < 2 || c.seqLen > m.NCtx) {
		return fmt.Errorf("invalid --seq-len %d: give 2 to %d tokens, the model's context length", c.seqLen, m.NCtx)
	}
	if c.snmf.K > m.DMLP {
		return fmt.Errorf("invalid --k %d: the MLP of block %d has %d neurons, and SNMF finds at most that many features", c.snmf.K, c.layer, m.DMLP)
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	stderr := cmd.ErrOrStderr()

	corpus, err := os.Open(c.corpus)
	if err != nil {
		return fmt.Errorf("opening the corpus: %w", err)
	}
	defer corpus.Close()
	start := time.Now()
	progress := newLineProgress(stderr)
	collected := 0
	acts, err := interp.CollectMLPActivations(ctx, m, corpus, interp.CollectOptions{
		Layer: c.layer, MaxTokens: c.maxTokens, SequenceTokens: c.seqLen, Normalize: c.normalize,
		Format: format, TextField: c.textField,
		Progress: func(tokens int) {
			collected = tokens
			progress.printf(false, "collected %d of at most %d tokens", tokens, c.maxTokens)
		},
	})
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted while collecting activations from %s, after %d tokens; no output was written", c.corpus, collected)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.corpus, err)
	}
	progress.printf(true, "collected %d tokens of %s in %.1fs", len(acts.IDs), c.corpus, time.Since(start).Seconds())

	start = time.Now()
	opts := c.snmf
	opts.Progress = func(p interp.SNMFProgress) {
		progress.printf(p.Iteration == 1, "iteration %d/%d: loss %.6g, relative error %.4f", p.Iteration, p.Iters, p.Loss, p.RelativeError)
	}
	res, err := interp.SNMF(ctx, acts.Matrix.T(), opts)
	if err != nil {
		return err
	}
	progress.printf(true, "factored in %.1fs: %d iterations, best %d, relative error %.4f", time.Since(start).Seconds(), len(res.Loss), res.BestIteration, res.RelativeError)
	a.log.Debug("snmf done", "tokens", len(acts.IDs), "k", opts.K, "iterations", len(res.Loss))

	report, err := interp.InterpretSNMF(m, acts, res, c.report)
	if err != nil {
		return err
	}
	for _, out := range c.outs {
		if err := writeSNMFOutput(out, report, res, acts); err != nil {
			return err
		}
		a.log.Debug("wrote output", "file", out)
	}

	if a.jsonOut {
		err = writeJSON(cmd.OutOrStdout(), report)
	} else {
		err = printSNMFReport(cmd.OutOrStdout(), report)
	}
	if err != nil {
		return err
	}
	if res.Interrupted {
		return fmt.Errorf("interrupted after %d iterations; the outputs hold the best factors so far, those of iteration %d", len(res.Loss), res.BestIteration)
	}
	return nil
}

// check validates the flags that need no model, so that a typo fails
// before the corpus is read.
func (c *snmfConfig) check() error {
	if c.layer < 0 {
		return fmt.Errorf("invalid --layer %d: blocks count from 0", c.layer)
	}
	if c.snmf.K < 1 {
		return fmt.Errorf("invalid --k %d: want at least 1 feature", c.snmf.K)
	}
	if !(c.snmf.Sparsity > 0 && c.snmf.Sparsity <= 1) {
		return fmt.Errorf("invalid --sparsity %g: want a fraction in (0, 1]", c.snmf.Sparsity)
	}
	if c.snmf.Iters < 1 {
		return fmt.Errorf("invalid --iters %d: give a positive number of iterations", c.snmf.Iters)
	}
	if c.snmf.Patience < 1 {
		return fmt.Errorf("invalid --patience %d: give a positive number of iterations", c.snmf.Patience)
	}
	if c.maxTokens < 1 {
		return fmt.Errorf("invalid --max-tokens %d: want a positive count", c.maxTokens)
	}
	if c.snmf.K > c.maxTokens {
		return fmt.Errorf("invalid --k %d: it is more than --max-tokens %d, the columns of the factored matrix; lower --k or raise --max-tokens", c.snmf.K, c.maxTokens)
	}
	for _, f := range []struct {
		name  string
		value int
	}{{"contexts", c.report.Contexts}, {"context-tokens", c.report.ContextTokens}, {"top-logits", c.report.Logits}} {
		if f.value < 1 {
			return fmt.Errorf("invalid --%s %d: want a positive count", f.name, f.value)
		}
	}
	corpusInfo, corpusErr := os.Stat(c.corpus)
	for _, out := range c.outs {
		if err := checkOutputExtension("out", out, "the extension selects the format", ".json", ".md", ".html", ".npz"); err != nil {
			return err
		}
		if info, err := os.Stat(out); err == nil && corpusErr == nil && os.SameFile(info, corpusInfo) {
			return fmt.Errorf("invalid --out %s: it is the corpus, which must not be overwritten", out)
		}
		if err := checkOutputPaths(map[string]string{"out": out}); err != nil {
			return err
		}
	}
	switch c.snmf.Init {
	case interp.SNMFInitSVD, interp.SNMFInitKMeans, interp.SNMFInitRandom:
	default:
		return fmt.Errorf("invalid --init %q: choose svd, kmeans or random", c.snmf.Init)
	}
	return nil
}

// corpusFormat returns the corpus format that --format selects.
func corpusFormat(flag, path string) (interp.CorpusFormat, error) {
	switch flag {
	case "text":
		return interp.CorpusText, nil
	case "jsonl":
		return interp.CorpusJSONL, nil
	case "auto":
		switch strings.ToLower(filepath.Ext(path)) {
		case ".jsonl", ".ndjson":
			return interp.CorpusJSONL, nil
		}
		return interp.CorpusText, nil
	}
	return 0, fmt.Errorf("invalid --format %q: want text, jsonl or auto", flag)
}

// writeSNMFOutput writes one --out file in the format its extension names.
func writeSNMFOutput(path string, report *interp.SNMFReport, res *interp.SNMFResult, acts *interp.Activations) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".json":
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(report)
		case ".md":
			return report.WriteMarkdown(w)
		case ".html":
			return report.WriteHTML(w)
		default:
			return interp.WriteSNMFNPZ(w, res, acts)
		}
	})
}

// printSNMFReport prints the summary and one line per feature: its
// strongest neurons, top logits and top context.
func printSNMFReport(w io.Writer, r *interp.SNMFReport) error {
	fmt.Fprintf(w, "%d features of blocks.%d.mlp.hook_post over %d tokens; relative error %.4f (iteration %d of %d)\n",
		r.K, r.Layer, r.Tokens, r.RelativeError, r.BestIteration, len(r.Loss))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "feature\tneurons\ttop logits\ttop context")
	for _, f := range r.Features {
		var neurons, logits []string
		for _, n := range f.Neurons[:min(3, len(f.Neurons))] {
			neurons = append(neurons, fmt.Sprintf("%d (%+.2f)", n.Neuron, n.Weight))
		}
		for _, l := range f.TopLogits[:min(5, len(f.TopLogits))] {
			logits = append(logits, fmt.Sprintf("%q", l.Token))
		}
		context := ""
		if len(f.TopContexts) > 0 {
			context = oneLineContext(f.TopContexts[0])
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", f.Index, strings.Join(neurons, ", "), strings.Join(logits, " "), context)
	}
	return tw.Flush()
}

// oneLineContext renders a context on one line as …text[token], keeping at
// most the last 40 characters before the token.
func oneLineContext(c interp.FeatureContext) string {
	before, token := c.Text, c.Token
	if strings.HasSuffix(before, token) {
		before = strings.TrimSuffix(before, token)
	} else {
		before, token = "", c.Text
	}
	line := strings.NewReplacer("\n", "⏎", "\t", " ")
	runes := []rune(line.Replace(before))
	prefix := ""
	if len(runes) > 40 {
		runes, prefix = runes[len(runes)-40:], "…"
	}
	return prefix + string(runes) + "[" + line.Replace(token) + "]"
}

// lineProgress prints progress lines on stderr, at most one per
// snmfProgressInterval unless a line is forced.
type lineProgress struct {
	w    io.Writer
	last time.Time
}

func newLineProgress(w io.Writer) *lineProgress { return &lineProgress{w: w} }

func (p *lineProgress) printf(force bool, format string, args ...any) {
	if !force && time.Since(p.last) < snmfProgressInterval {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, format+"\n", args...)
}
