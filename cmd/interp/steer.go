package main

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/interp"
	"github.com/interp-go/interp/transformer"
)

// Defaults of AUSteer's flags. k and α are the argparse defaults of
// main_test.py in the paper's code (github.com/zijian678/AUSteer), and mlp
// is its default applied_module ("ffn"). The best settings that the same
// repository's reproduce.sh lists for Llama-2-7B, Gemma-2-9B and Qwen3-8B
// span k = 2 to 100 and α = 8 to 100, chosen per task.
const (
	defaultAUSteerK     = 10
	defaultAUSteerAlpha = 5.0
	defaultAUSteerBlock = interp.BlockMLP
)

// steerFlags are the flags of `interp steer`.
type steerFlags struct {
	method             string
	positive, negative []string
	pairs              string
	positions          string
	controlVectors     []string
	feature            string
	prompt             promptFlags
	gen                transformer.GenerateOptions
	layer              string
	strength           float64
	block              string
	k                  int
	alpha              float64
	save               string
	eval               string
	top                int
}

// steerResult is the JSON output of `interp steer`.
type steerResult struct {
	Unsteered  *generateResult `json:"unsteered,omitempty"`
	Steered    *generateResult `json:"steered,omitempty"`
	Vector     steerVector     `json:"vector"`
	Units      []interp.Unit   `json:"units,omitempty"`
	LogitShift []logitShift    `json:"logit_shift,omitempty"`
	Eval       *steerEval      `json:"eval,omitempty"`
}

// steerVector describes the steering that was applied.
type steerVector struct {
	Method string `json:"method"`
	// Point is the hook point, with L standing for each block.
	Point  string `json:"point"`
	Layers []int  `json:"layers"`
	// Norms are the Euclidean norms, per block of Layers, of the added
	// direction before --strength (additive methods), or of the kept
	// units' scale offsets α·β (austeer).
	Norms    []float64 `json:"norms"`
	Strength *float64  `json:"strength,omitempty"`
	Alpha    *float64  `json:"alpha,omitempty"`
}

// logitShift is one token's logit at the first generated position without
// and with steering.
type logitShift struct {
	ID        int32   `json:"id"`
	Token     string  `json:"token"`
	Unsteered float32 `json:"unsteered"`
	Steered   float32 `json:"steered"`
	Shift     float32 `json:"shift"`
}

// steerEval is the multiple-choice accuracy without and with steering.
type steerEval struct {
	Items     int                  `json:"items"`
	Unsteered *interp.ChoiceResult `json:"unsteered"`
	Steered   *interp.ChoiceResult `json:"steered"`
}

func newSteerCommand(a *app) *cobra.Command {
	var f steerFlags
	cmd := &cobra.Command{
		Use:   "steer --method mean-diff|pca|austeer (--positive TEXT --negative TEXT | --pairs FILE | --control-vector FILE) (--prompt TEXT | --eval FILE)",
		Short: "Steer generation with a contrastive vector, AUSteer units or a llama.cpp control vector",
		Long: `Build a steering intervention from contrastive examples, or load llama.cpp
control vectors, and compare the model's continuation of --prompt without and
with it. Steering runs as forward hooks at every position, in the prompt and
in every generated token, for every architecture.

Methods (--method):

  mean-diff  mean of the positive examples' block output
             (blocks.L.hook_resid_post) minus the negatives' mean, added at
             that point times --strength
  pca        first principal component of the centered paired differences
             at the same point, oriented so that positive examples project
             higher; unit norm, so --strength is in units of the residual
             stream
  austeer    AUSteer: score every dimension of the --block activation of
             every block by β = ±max(c⁺, c⁻)/N, where c⁺ and c⁻ count the
             pairs whose positive activation is above or below the negative
             one; keep the --k units of largest |β| and multiply each by
             1 + α·β at every position

Contrastive data: --positive and --negative take a text or @FILE with one
example a line, and are repeatable; --pairs takes JSON Lines of
{"prompt", "positive", "negative"}, whose examples are prompt+positive and
prompt+negative. pca and austeer pair the i-th positive with the i-th
negative example. Activations are read at each example's last token, or
averaged over its tokens with --positions all. Examples get the BOS token
where the vocabulary asks for it, unless --no-bos.

--control-vector FILE.gguf[:STRENGTH] applies llama.cpp control vectors
instead (repeatable; directions are summed, each times its strength, as
llama.cpp does), and --save FILE.gguf writes the additive vector as one,
without --strength, which llama.cpp takes as --control-vector-scaled FILE
STRENGTH. llama.cpp adds direction.L to the output of block L and has none
for block 0, so a saved vector must leave block 0 out.

--feature FILE:INDEX steers with feature INDEX of an interp snmf output
(.npz or .json): --strength times its unit direction is added to the MLP's
hidden activation, blocks.L.mlp.hook_post, of the block it was computed at.

--layer selects blocks: 3, 1-4, 1,3 or all. The default is the middle
block for mean-diff and pca, every block for austeer (which keeps the top
units over all of them), and every block of the files for control vectors.

The table shows both continuations side by side and how steering shifts
the logits of the most likely tokens at the first generated position.
--eval FILE.jsonl scores multiple-choice items {"prompt", "options",
"answer"} (answer: index of the correct option) by the total
log-probability of each option's tokens after the prompt, without and with
steering, and reports both accuracies.

Examples:
  interp steer --model stories260K.gguf --positive @dog.txt --negative @cat.txt --positions all \
      --layer 3 --strength 3 --prompt "Once upon a time" --max-tokens 48
  interp steer --model model.gguf --method pca --pairs pairs.jsonl --layer 8-12 --save happy.gguf --prompt "I feel"
  interp steer --model model.gguf --method austeer --pairs pairs.jsonl --block attn --k 50 --alpha 10 --eval copa.jsonl
  interp steer --model model.gguf --control-vector happy.gguf:0.8 --control-vector calm.gguf --prompt "Today"
  interp steer --model model.gguf --feature features.npz:3 --strength 8 --prompt "Once upon a time"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSteer(cmd, a, &f)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&f.method, "method", interp.SteerMeanDiff, "steering `method`: mean-diff, pca or austeer")
	flags.StringArrayVar(&f.positive, "positive", nil, "positive example `TEXT`, or @FILE with one example a line; repeatable")
	flags.StringArrayVar(&f.negative, "negative", nil, "negative example `TEXT`, or @FILE with one example a line; repeatable")
	flags.StringVar(&f.pairs, "pairs", "", "JSON Lines `file` of contrastive pairs {\"prompt\", \"positive\", \"negative\"}")
	flags.StringVar(&f.positions, "positions", "last", "`positions` whose activations stand for an example: last (its last token) or all (the mean over its tokens)")
	flags.StringVar(&f.feature, "feature", "", "SNMF feature `FILE:INDEX` (a .npz or .json of interp snmf --out) whose direction z/‖z‖, times --strength, is added to blocks.L.mlp.hook_post of its block")
	flags.StringArrayVar(&f.controlVectors, "control-vector", nil, "llama.cpp control-vector `FILE.gguf[:STRENGTH]` to apply (strength 1 by default); repeatable, summed")
	flags.StringVar(&f.prompt.prompt, "prompt", "", "prompt `text` to continue without and with steering")
	flags.BoolVar(&f.prompt.noBOS, "no-bos", false, "do not add the BOS token to the prompt, the examples and the --eval items")
	flags.IntVar(&f.gen.MaxTokens, "max-tokens", 32, "maximum number of new `tokens` per continuation")
	flags.Float64Var(&f.gen.Temperature, "temperature", 0, "sampling temperature; 0 decodes greedily")
	flags.IntVar(&f.gen.TopK, "top-k", 0, "sample from the `K` most likely tokens only; 0 keeps all")
	flags.Float64Var(&f.gen.TopP, "top-p", 1, "sample from the smallest set of tokens whose probability reaches `P`; 1 keeps all")
	flags.Uint64Var(&f.gen.Seed, "seed", 0, "seed of the sampler's random numbers, the same for both continuations")
	flags.StringVar(&f.layer, "layer", "", "`blocks` to steer: L, A-B, a comma-separated list of them, or all (default: see above)")
	flags.Float64Var(&f.strength, "strength", 1, "multiplier `S` of the built mean-diff or pca vector, or of the sum of the control vectors")
	flags.StringVar(&f.block, "block", defaultAUSteerBlock, "AUSteer `activation` to score: attn (head outputs before the output projection), mlp (MLP output) or resid (block output)")
	flags.IntVar(&f.k, "k", defaultAUSteerK, "number of AUSteer `units` to keep over all blocks; the default is that of the AUSteer authors' code")
	flags.Float64Var(&f.alpha, "alpha", defaultAUSteerAlpha, "AUSteer strength `α`: a kept unit's activation a becomes a·(1 + α·β); the default is that of the AUSteer authors' code")
	flags.StringVar(&f.save, "save", "", "write the additive vector as a llama.cpp control-vector `FILE.gguf`")
	flags.StringVar(&f.eval, "eval", "", "JSON Lines `file` of multiple-choice items {\"prompt\", \"options\", \"answer\"} to score without and with steering")
	flags.IntVar(&f.top, "top", 5, "number of most likely `tokens`, without and with steering, in the logit-shift table")
	cmd.MarkFlagsMutuallyExclusive("pairs", "positive")
	cmd.MarkFlagsMutuallyExclusive("pairs", "negative")
	return cmd
}

// steering is a built intervention: an additive vector or an AUSteer mask.
type steering struct {
	vector   *interp.Vector
	strength float64
	mask     *interp.UnitMask
	alpha    float64
}

// hooks returns the forward hooks that apply the steering.
func (s *steering) hooks() *hooks.Hooks {
	h := &hooks.Hooks{}
	if s.vector != nil {
		s.vector.Attach(h, s.strength)
	} else {
		s.mask.Attach(h, s.alpha)
	}
	return h
}

// describe returns the JSON description of the steering.
func (s *steering) describe() steerVector {
	if s.vector != nil {
		v := steerVector{
			Method:   s.vector.Method,
			Point:    "blocks.L." + s.vector.Point.String(),
			Layers:   s.vector.Layers(),
			Norms:    s.vector.Norms(),
			Strength: &s.strength,
		}
		return v
	}
	kind, _ := interp.BlockKind(s.mask.Block)
	v := steerVector{Method: interp.SteerAUSteer, Point: "blocks.L." + kind.String(), Layers: s.mask.Layers(), Alpha: &s.alpha}
	for _, l := range v.Layers {
		sum := 0.0
		for _, u := range s.mask.Units {
			if u.Layer == l {
				sum += (s.alpha * u.Score) * (s.alpha * u.Score)
			}
		}
		v.Norms = append(v.Norms, math.Sqrt(sum))
	}
	return v
}

func runSteer(cmd *cobra.Command, a *app, f *steerFlags) error {
	if err := f.check(cmd); err != nil {
		return err
	}
	if err := checkOutputExtension("save", f.save, "the file is a llama.cpp control vector in GGUF", ".gguf"); err != nil {
		return err
	}
	if err := checkOutputPaths(map[string]string{"save": f.save}); err != nil {
		return err
	}
	m, release, err := a.openModel()
	if err != nil {
		return err
	}
	defer release()

	start := time.Now()
	s, err := f.build(cmd, m, a.log)
	if err != nil {
		return err
	}
	a.log.Debug("steering built", "method", s.describe().Method, "elapsed", time.Since(start))

	res := steerResult{Vector: s.describe()}
	if s.mask != nil {
		res.Units = s.mask.Units
	}
	h := s.hooks()
	var promptIDs []int32
	if cmd.Flags().Changed("prompt") {
		if promptIDs, err = f.prompt.tokens(cmd, m); err != nil {
			return err
		}
		if err := compareContinuations(m, promptIDs, f, h, &res); err != nil {
			return err
		}
	}
	if f.eval != "" {
		if res.Eval, err = evaluate(cmd, m, f, h); err != nil {
			return err
		}
	}
	// The vector is saved only once everything else succeeded, so a failed
	// run leaves no file behind.
	if f.save != "" {
		hint, _ := m.File().String("general.architecture")
		if err := interp.WriteControlVector(f.save, s.vector, hint); err != nil {
			return err
		}
		a.log.Debug("control vector written", "file", f.save)
	}

	if a.jsonOut {
		return writeJSON(cmd.OutOrStdout(), res)
	}
	return printSteer(cmd.OutOrStdout(), a.modelName(), f.prompt.prompt, &res)
}

// check validates the flags that need no model, and rejects flags that
// do not apply to the chosen method.
func (f *steerFlags) check(cmd *cobra.Command) error {
	changed := cmd.Flags().Changed
	if !changed("prompt") && f.eval == "" {
		return fmt.Errorf("nothing to steer: give --prompt to compare continuations, --eval FILE to score multiple-choice items, or both")
	}
	contrastive := len(f.positive) > 0 || len(f.negative) > 0 || f.pairs != ""
	sources := 0
	for _, given := range []bool{contrastive, len(f.controlVectors) > 0, f.feature != ""} {
		if given {
			sources++
		}
	}
	switch {
	case sources > 1:
		return fmt.Errorf("give one source of steering: contrastive examples (--positive/--negative or --pairs), --control-vector or --feature")
	case sources == 0:
		return fmt.Errorf("missing steering data: give --positive and --negative examples, --pairs FILE, --control-vector FILE or --feature FILE:INDEX")
	}
	if !slices.Contains([]string{interp.SteerMeanDiff, interp.SteerPCA, interp.SteerAUSteer}, f.method) {
		return fmt.Errorf("invalid --method %q: choose mean-diff, pca or austeer", f.method)
	}
	if f.positions != "last" && f.positions != "all" {
		return fmt.Errorf("invalid --positions %q: choose last or all", f.positions)
	}
	if !slices.Contains(interp.Blocks, f.block) {
		return fmt.Errorf("invalid --block %q: choose %s", f.block, strings.Join(interp.Blocks, ", "))
	}
	switch {
	case f.k < 1:
		return fmt.Errorf("invalid --k %d: keep at least 1 unit", f.k)
	case math.IsNaN(f.alpha) || math.IsInf(f.alpha, 0):
		return fmt.Errorf("invalid --alpha %g: give a finite number", f.alpha)
	case math.IsNaN(f.strength) || math.IsInf(f.strength, 0):
		return fmt.Errorf("invalid --strength %g: give a finite number", f.strength)
	case f.top < 1:
		return fmt.Errorf("invalid --top %d: show at least 1 token", f.top)
	}
	if err := checkSampling(cmd, f.gen); err != nil {
		return err
	}

	var notApplicable []string
	if f.feature != "" {
		notApplicable = []string{"method", "positions", "block", "k", "alpha", "layer", "save"}
	} else if len(f.controlVectors) > 0 {
		notApplicable = []string{"method", "positions", "block", "k", "alpha"}
	} else if f.method == interp.SteerAUSteer {
		notApplicable = []string{"strength", "save"}
	} else {
		notApplicable = []string{"block", "k", "alpha"}
	}
	for _, name := range notApplicable {
		if changed(name) {
			return fmt.Errorf("--%s does not apply here: %s", name, applicability[name])
		}
	}
	return nil
}

// applicability says which setups each method-specific flag belongs to.
var applicability = map[string]string{
	"method":    "control vectors are applied as they are; --method builds a vector from contrastive examples",
	"positions": "it selects the activations of contrastive examples",
	"block":     "it selects the activation that --method austeer scores",
	"k":         "it is the number of units that --method austeer keeps",
	"alpha":     "it is the strength of --method austeer",
	"strength":  "austeer's strength is --alpha",
	"save":      "only a vector added to the block output (mean-diff, pca, control vectors) has a control-vector form",
	"layer":     "an SNMF feature belongs to the block it was computed at",
}

// build builds the steering from the contrastive examples or loads the
// control vectors.
func (f *steerFlags) build(cmd *cobra.Command, m *transformer.Model, log *slog.Logger) (*steering, error) {
	var layers []int
	if f.layer != "" {
		var err error
		if layers, err = parseLayers(f.layer, m.NLayers); err != nil {
			return nil, err
		}
	}
	if len(f.controlVectors) > 0 {
		return f.loadControlVectors(m, layers)
	}
	if f.feature != "" {
		path, index, err := interp.ParseFeatureRef(f.feature)
		if err != nil {
			return nil, err
		}
		feature, err := interp.LoadFeature(path, index)
		if err != nil {
			return nil, err
		}
		if err := feature.Validate(m); err != nil {
			return nil, err
		}
		return &steering{vector: interp.FeatureVector(feature), strength: f.strength}, nil
	}

	c, err := f.contrast(m)
	if err != nil {
		return nil, err
	}
	progress := newSweepProgress(cmd.ErrOrStderr(), "reading activations")
	defer progress.finish()
	opts := interp.ContrastOptions{Layers: layers, Progress: progress.update}
	if f.positions == "all" {
		opts.Positions = interp.AllPositions
	}

	if f.method == interp.SteerAUSteer {
		scores, err := interp.ScoreUnits(m, c, f.block, opts)
		if err != nil {
			return nil, err
		}
		units := scores.Top(f.k)
		if len(units) == 0 {
			return nil, fmt.Errorf("every AUSteer unit scores 0 (the positive and negative activations tie everywhere), so there is nothing to steer; check that the examples differ")
		}
		if len(units) < f.k {
			log.Warn("fewer AUSteer units have a nonzero score than --k requests, so steering only those", "k", f.k, "units", len(units))
		}
		return &steering{mask: &interp.UnitMask{Block: f.block, Units: units}, alpha: f.alpha}, nil
	}

	if opts.Layers == nil {
		opts.Layers = []int{m.NLayers / 2}
	}
	var v *interp.Vector
	if f.method == interp.SteerPCA {
		v, err = interp.PCA(m, c, opts)
	} else {
		v, err = interp.MeanDifference(m, c, opts)
	}
	if err != nil {
		return nil, err
	}
	if vectorIsZero(v) {
		return nil, fmt.Errorf("the %s steering vector is zero at every block (the positive and negative activations tie), so there is nothing to steer; check that the examples differ", f.method)
	}
	return &steering{vector: v, strength: f.strength}, nil
}

// vectorIsZero reports whether every direction of v is all zeros.
func vectorIsZero(v *interp.Vector) bool {
	for _, d := range v.Directions {
		if slices.ContainsFunc(d, func(x float32) bool { return x != 0 }) {
			return false
		}
	}
	return true
}

// contrast reads and tokenizes the contrastive examples.
func (f *steerFlags) contrast(m *transformer.Model) (interp.Contrast, error) {
	var pos, neg []string
	var err error
	if f.pairs != "" {
		pos, neg, err = readPairs(f.pairs)
	} else {
		if pos, err = readExamples("--positive", f.positive); err == nil {
			neg, err = readExamples("--negative", f.negative)
		}
	}
	if err != nil {
		return interp.Contrast{}, err
	}
	if len(pos) == 0 || len(neg) == 0 {
		return interp.Contrast{}, fmt.Errorf("give both --positive and --negative examples (got %d and %d)", len(pos), len(neg))
	}
	c := interp.Contrast{}
	if c.Positive, err = encodeExamples(m, "positive", pos, f.prompt.noBOS); err != nil {
		return c, err
	}
	if c.Negative, err = encodeExamples(m, "negative", neg, f.prompt.noBOS); err != nil {
		return c, err
	}
	return c, nil
}

// loadControlVectors sums the --control-vector files and keeps the blocks
// of --layer, if given, as llama.cpp's --control-vector-layer-range does.
func (f *steerFlags) loadControlVectors(m *transformer.Model, layers []int) (*steering, error) {
	files := make([]interp.ControlVectorFile, len(f.controlVectors))
	for i, value := range f.controlVectors {
		var err error
		if files[i], err = parseControlVector(value); err != nil {
			return nil, err
		}
	}
	v, err := interp.LoadControlVectors(m, files)
	if err != nil {
		return nil, err
	}
	if layers != nil {
		for l := range v.Directions {
			if !slices.Contains(layers, l) {
				delete(v.Directions, l)
			}
		}
		if len(v.Directions) == 0 {
			return nil, fmt.Errorf("the control vectors have no direction for --layer %s", f.layer)
		}
	}
	return &steering{vector: v, strength: f.strength}, nil
}

// compareContinuations generates from the prompt without and with the
// steering hooks and records the logit shift at the first generated
// position.
func compareContinuations(m *transformer.Model, ids []int32, f *steerFlags, h *hooks.Hooks, res *steerResult) error {
	if len(ids) >= m.NCtx {
		return fmt.Errorf("the prompt has %d tokens and fills the model's context length of %d, leaving no room to generate; shorten it", len(ids), m.NCtx)
	}
	before, err := m.Run(ids, nil)
	if err != nil {
		return err
	}
	after, err := m.Run(ids, &transformer.Options{Hooks: h})
	if err != nil {
		return fmt.Errorf("steered run: %w", err)
	}
	if !allFinite(after.Row(0, 0)) {
		return fmt.Errorf("the steered run computed logits that are not finite (NaN or infinite); lower the steering strength")
	}
	if res.LogitShift, err = logitShifts(m, before.Row(0, 0), after.Row(0, 0), f.top); err != nil {
		return err
	}

	for _, steered := range []bool{false, true} {
		gen := f.gen
		if steered {
			gen.Options = &transformer.Options{Hooks: h}
		}
		out, err := m.Generate(ids, gen)
		if err != nil {
			return err
		}
		text, err := continuation(m.Tokenizer, ids, out)
		if err != nil {
			return err
		}
		if out == nil {
			out = []int32{}
		}
		if steered {
			res.Steered = &generateResult{IDs: out, Text: text}
		} else {
			res.Unsteered = &generateResult{IDs: out, Text: text}
		}
	}
	return nil
}

// allFinite reports whether every value of x is neither NaN nor infinite.
func allFinite(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// logitShifts lists the top most likely tokens without and with steering
// (their union, ordered by the steered logit) with both logits.
func logitShifts(m *transformer.Model, before, after []float32, top int) ([]logitShift, error) {
	ids := topTokens(after, top)
	for _, id := range topTokens(before, top) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.SortStableFunc(ids, func(a, b int32) int {
		switch {
		case after[a] > after[b]:
			return -1
		case after[a] < after[b]:
			return 1
		}
		return 0
	})
	texts, err := pieces(m.Tokenizer, ids)
	if err != nil {
		return nil, err
	}
	out := make([]logitShift, len(ids))
	for i, id := range ids {
		out[i] = logitShift{ID: id, Token: texts[i], Unsteered: before[id], Steered: after[id], Shift: after[id] - before[id]}
	}
	return out, nil
}

// evaluate scores the --eval items without and with steering.
func evaluate(cmd *cobra.Command, m *transformer.Model, f *steerFlags, h *hooks.Hooks) (*steerEval, error) {
	items, err := readChoiceItems(m, f.eval, f.prompt.noBOS)
	if err != nil {
		return nil, err
	}
	progress := newSweepProgress(cmd.ErrOrStderr(), "scoring options")
	defer progress.finish()
	total := 2 * len(items)
	before, err := interp.EvaluateChoices(m, items, nil, func(done, _ int) { progress.update(done, total) })
	if err != nil {
		return nil, err
	}
	after, err := interp.EvaluateChoices(m, items, h, func(done, _ int) { progress.update(len(items)+done, total) })
	if err != nil {
		return nil, err
	}
	return &steerEval{Items: len(items), Unsteered: before, Steered: after}, nil
}
