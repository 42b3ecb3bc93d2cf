package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/interp-go/interp/interp"
	"github.com/interp-go/interp/transformer"
)

// topSites is the number of sites listed per method in the top-sites table
// and the JSON "top" lists.
const topSites = 10

// attributeFlags are the flags of `interp attribute`.
type attributeFlags struct {
	task             taskFlags
	method           string
	sites            []string
	rules            []string
	steps            int
	compare          bool
	csvPath, pngPath string
}

// methodTitles name each --method in headings.
var methodTitles = map[string]string{
	interp.MethodAtP:  "AtP (attribution patching)",
	interp.MethodRelP: "RelP (relevance patching)",
	interp.MethodIG:   "integrated gradients",
}

// relpRule is one name of --rules and the transformer.RelPRules field that
// it switches on.
type relpRule struct {
	name  string
	field func(r *transformer.RelPRules) *bool
}

var relpRules = []relpRule{
	{"ln", func(r *transformer.RelPRules) *bool { return &r.Norm }},
	{"identity", func(r *transformer.RelPRules) *bool { return &r.Activation }},
	{"half", func(r *transformer.RelPRules) *bool { return &r.Gate }},
	{"ah", func(r *transformer.RelPRules) *bool { return &r.Pattern }},
}

// defaultIGSteps is the default of --steps.
const defaultIGSteps = 20

func newAttributeCommand(a *app) *cobra.Command {
	var f attributeFlags
	cmd := &cobra.Command{
		Use:   "attribute [--method atp|relp|ig] [--clean TEXT --corrupt TEXT --answer TOKEN --wrong TOKEN | --dataset FILE|ioi:N] [--compare]",
		Short: "Estimate activation patching from gradients: AtP, RelP or integrated gradients",
		Long: `Score every site by how much patching its clean activation into the
corrupted run would change the metric M = logit[answer] − logit[wrong] at the
last position, without a forward pass per site. Scores are unnormalized
estimates of M_patched − M_corrupt, in logits:

  atp   attribution patching: Σ (a_clean − a_corrupt) · ∂M/∂a, the gradient
        taken on the corrupted run; 2 forward passes and 1 backward pass
  relp  relevance patching: the same sum with ∂M/∂a replaced by the
        coefficients of a backward pass under layer-wise relevance
        propagation rules (--rules); as cheap as atp
  ig    integrated gradients: the gradient averaged over --steps points
        between the corrupted and the clean activation of each site family
        and layer, all positions of the layer moved together; one forward
        and one backward pass per step, family and layer

RelP rules (--rules, all on by default; an empty list gives atp's gradient):

  ln        LayerNorm and RMSNorm treat their divisor as a constant
  identity  GELU and SiLU pass output/input instead of their derivative
  half      a gated MLP product gives each factor half of the gradient
  ah        the attention pattern is a constant, so relevance flows through
            the values only

Sites (--sites) are those of interp patch: resid_pre, attn_out and mlp_out by
layer and position, z by layer and head.

` + taskHelp + `

--compare also runs activation patching on the same tasks and sites and
reports, per site family, the Pearson correlation between the scores and the
patching effects M_patched − M_corrupt (the normalized patching value times
M_clean − M_corrupt), the top-10 sites of both, and what each cost. Both
methods read one clean and one corrupted run per task, which count in the
method's cost, so the patching cost counts only the patched passes.

Output: one table per site (as in interp patch), the top-10 sites, and with
--compare the correlation table. --json prints
  {"method", "clean_value", "corrupt_value", "sites", "top", "cost"},
"rules" for relp and "steps" for ig, and with --compare also
"correlation" (per family), "patching" (the result of interp patch
--json) and the patching cost. Progress goes to stderr when it is a
terminal and the work takes more than a couple of seconds.

Examples:
  interp attribute
  interp attribute --method atp --compare
  interp attribute --model toy-gpt2-ioi.gguf --dataset ioi:20 --seed 1 --compare
  interp attribute --method relp --rules ln,ah --sites mlp_out,z --json
  interp attribute --method ig --steps 50 --csv scores.csv --png scores.png`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAttribute(cmd, a, &f)
		},
	}
	f.task.register(cmd)
	flags := cmd.Flags()
	flags.StringVar(&f.method, "method", interp.MethodRelP, "attribution `method`: atp, relp or ig")
	flags.StringSliceVar(&f.sites, "sites", interp.AllSites, "comma-separated site `families` to score: resid_pre, attn_out, mlp_out, z, and the attribution-only mlp_post (neurons) and pattern (attention entries)")
	flags.StringSliceVar(&f.rules, "rules", ruleNames(transformer.AllRelPRules()), "comma-separated RelP `rules` for --method relp: ln, identity, half, ah")
	flags.IntVar(&f.steps, "steps", defaultIGSteps, "integration `steps` for --method ig")
	flags.BoolVar(&f.compare, "compare", false, "also run activation patching and report the correlation of the scores with it")
	flags.StringVar(&f.csvPath, "csv", "", "also write every score to this CSV `file` (site, layer, index, token, value, and patch_effect with --compare)")
	flags.StringVar(&f.pngPath, "png", "", "also write a heat map per site family as a PNG `file`, except for mlp_post and pattern; out.png becomes out.<site>.png, and with --compare out.patching.<site>.png")
	return cmd
}

// attributeOutput is the JSON output of interp attribute.
type attributeOutput struct {
	Method string `json:"method"`
	// Rules lists the RelP rules that were on (relp only).
	Rules []string `json:"rules,omitzero"`
	// Steps is the number of integration steps (ig only).
	Steps        int                    `json:"steps,omitzero"`
	CleanValue   float64                `json:"clean_value"`
	CorruptValue float64                `json:"corrupt_value"`
	Sites        map[string][][]float64 `json:"sites"`
	// Correlation is the Pearson r per site family (--compare only).
	Correlation map[string]float64 `json:"correlation,omitempty"`
	Top         attributeTop       `json:"top"`
	Cost        attributeCost      `json:"cost"`
	// Patching is the activation-patching result (--compare only).
	Patching *interp.PatchResult `json:"patching,omitempty"`
}

// attributeTop lists the sites of largest |value| over all families: the
// method's scores and, with --compare, the patching effects M_patched −
// M_corrupt.
type attributeTop struct {
	Method   []interp.SiteScore `json:"method"`
	Patching []interp.SiteScore `json:"patching,omitempty"`
}

// attributeCost is the cost of the method and, with --compare, of
// activation patching.
type attributeCost struct {
	Method   passCost  `json:"method"`
	Patching *passCost `json:"patching,omitempty"`
}

// passCost counts the passes of a method and its wall-clock time. A patched
// pass that starts at the patched block counts as one forward pass. With
// --compare, both methods share each task's clean and corrupted runs, which
// count in the attribution method's cost only.
type passCost struct {
	ForwardPasses  int     `json:"forward_passes"`
	BackwardPasses int     `json:"backward_passes"`
	Seconds        float64 `json:"seconds"`
}

func runAttribute(cmd *cobra.Command, a *app, f *attributeFlags) error {
	opts, err := f.options(cmd)
	if err != nil {
		return err
	}
	t, err := openTasks(cmd, a, &f.task, map[string]string{"csv": f.csvPath, "png": f.pngPath})
	if err != nil {
		return err
	}
	defer t.release()

	var out *attributeOutput
	if f.compare {
		out, err = compare(cmd, a, t, opts)
	} else {
		out, err = attribute(cmd, a, t, opts)
	}
	if err != nil {
		return err
	}

	scores := siteMap{title: methodTitles[f.method], model: a.modelName(), sites: opts.Sites, values: out.Sites, labels: t.labels}
	var effects *siteMap
	if out.Patching != nil {
		effects = &siteMap{title: "activation patching, M_patched − M_corrupt", model: a.modelName(), sites: opts.Sites, values: patchEffects(out.Patching), labels: t.labels}
	}
	if err := writeAttributeFiles(f, scores, effects); err != nil {
		return err
	}

	if a.jsonOut {
		return writeJSON(cmd.OutOrStdout(), out)
	}
	describe, err := t.describe()
	if err != nil {
		return err
	}
	printAttribution(cmd.OutOrStdout(), out, scores, effects, describe)
	return nil
}

// options checks the method flags and returns the attribution options,
// before the model is loaded.
func (f *attributeFlags) options(cmd *cobra.Command) (interp.AttributeOptions, error) {
	var opts interp.AttributeOptions
	if _, ok := methodTitles[f.method]; !ok {
		return opts, fmt.Errorf("invalid --method %q: choose atp, relp or ig", f.method)
	}
	changed := cmd.Flags().Changed
	if changed("rules") && f.method != interp.MethodRelP {
		return opts, fmt.Errorf("--rules applies only to --method relp, not %s", f.method)
	}
	if changed("steps") && f.method != interp.MethodIG {
		return opts, fmt.Errorf("--steps applies only to --method ig, not %s", f.method)
	}
	if f.steps < 1 {
		return opts, fmt.Errorf("invalid --steps %d: give a positive number of integration steps, such as %d", f.steps, defaultIGSteps)
	}
	sites, err := checkSites(f.sites, interp.AttributionSites)
	if err != nil {
		return opts, err
	}
	if f.compare && !slices.ContainsFunc(sites, func(s string) bool { return slices.Contains(interp.AllSites, s) }) {
		return opts, fmt.Errorf("--compare needs at least one of the families that patching sweeps: %s", strings.Join(interp.AllSites, ", "))
	}
	if f.pngPath != "" && !slices.ContainsFunc(sites, func(s string) bool { return !slices.Contains(listedSites, s) }) {
		return opts, fmt.Errorf("--png draws no heat map of %s, whose sites are too many for one: write them with --csv or --json, or add a family such as z", strings.Join(sites, " or "))
	}

	opts = interp.AttributeOptions{Method: f.method, Sites: sites}
	switch f.method {
	case interp.MethodRelP:
		rules, err := parseRules(f.rules)
		if err != nil {
			return opts, err
		}
		opts.Rules = &rules
	case interp.MethodIG:
		opts.Steps = f.steps
	}
	return opts, nil
}

// parseRules turns the names of --rules into RelP rules. No names give the
// zero value, the ordinary gradient.
func parseRules(names []string) (transformer.RelPRules, error) {
	var rules transformer.RelPRules
	for _, name := range names {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(relpRules, func(r relpRule) bool { return r.name == name })
		if i < 0 {
			return rules, fmt.Errorf("invalid --rules entry %q: choose from %s", name, strings.Join(ruleNames(transformer.AllRelPRules()), ", "))
		}
		*relpRules[i].field(&rules) = true
	}
	return rules, nil
}

// ruleNames returns the --rules names of the rules that are on.
func ruleNames(rules transformer.RelPRules) []string {
	names := []string{}
	for _, r := range relpRules {
		if *r.field(&rules) {
			names = append(names, r.name)
		}
	}
	return names
}

// attribute runs the method on one task or averages it over a dataset.
func attribute(cmd *cobra.Command, a *app, t *openedTasks, opts interp.AttributeOptions) (*attributeOutput, error) {
	progress := newSweepProgress(cmd.ErrOrStderr(), opts.Method)
	opts.Progress = progress.update
	start := time.Now()
	var res *interp.AttributionResult
	var err error
	if len(t.tasks) == 1 {
		res, err = interp.Attribute(t.model, t.tasks[0], opts)
	} else {
		res, err = interp.AttributeDataset(t.model, t.tasks, opts)
	}
	progress.finish()
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	a.log.Debug("attribution done", "method", opts.Method, "tasks", len(t.tasks), "sites", strings.Join(opts.Sites, ","), "elapsed", elapsed)
	return newAttributeOutput(res, opts, elapsed), nil
}

// compare runs the method and activation patching on the same tasks, from
// one clean and one corrupted run per task, and adds the correlations, the
// patching top sites and its cost to the method's output. Patching sweeps
// the families of opts.Sites that it supports.
func compare(cmd *cobra.Command, a *app, t *openedTasks, opts interp.AttributeOptions) (*attributeOutput, error) {
	progress := newSweepProgress(cmd.ErrOrStderr(), opts.Method+" and patching")
	opts.Progress = progress.update
	var res *interp.Comparison
	var err error
	if len(t.tasks) == 1 {
		res, err = interp.Compare(t.model, t.tasks[0], opts)
	} else {
		res, err = interp.CompareDataset(t.model, t.tasks, opts)
	}
	progress.finish()
	if err != nil {
		return nil, err
	}
	a.log.Debug("attribution and patching done", "method", opts.Method, "tasks", len(t.tasks), "sites", strings.Join(opts.Sites, ","),
		"attribution_elapsed", res.AttributionTime, "patching_elapsed", res.PatchingTime)

	out := newAttributeOutput(res.Attribution, opts, res.AttributionTime)
	out.Correlation = interp.Correlation(res.Attribution, res.Patching)
	out.Patching = res.Patching
	out.Top.Patching = interp.TopSites(patchEffects(res.Patching), topSites)
	out.Cost.Patching = &passCost{ForwardPasses: res.PatchedPasses, Seconds: res.PatchingTime.Seconds()}
	return out, nil
}

// newAttributeOutput builds the output of an attribution result, with
// elapsed as the method's time.
func newAttributeOutput(res *interp.AttributionResult, opts interp.AttributeOptions, elapsed time.Duration) *attributeOutput {
	out := &attributeOutput{
		Method:       res.Method,
		CleanValue:   res.CleanValue,
		CorruptValue: res.CorruptValue,
		Sites:        res.Sites,
		Top:          attributeTop{Method: interp.TopSites(res.Sites, topSites)},
		Cost: attributeCost{Method: passCost{
			ForwardPasses:  res.ForwardPasses,
			BackwardPasses: res.BackwardPasses,
			Seconds:        elapsed.Seconds(),
		}},
	}
	switch opts.Method {
	case interp.MethodRelP:
		out.Rules = ruleNames(*opts.Rules)
	case interp.MethodIG:
		out.Steps = opts.Steps
	}
	return out
}

// patchEffects returns a patching result's values as unnormalized effects
// M_patched − M_corrupt, the quantity that attribution scores estimate.
func patchEffects(res *interp.PatchResult) map[string][][]float64 {
	scale := res.CleanValue - res.CorruptValue
	effects := map[string][][]float64{}
	for site, layers := range res.Sites {
		effects[site] = make([][]float64, len(layers))
		for l, row := range layers {
			effects[site][l] = make([]float64, len(row))
			for i, v := range row {
				effects[site][l][i] = v * scale
			}
		}
	}
	return effects
}

// writeAttributeFiles writes the --csv and --png files. effects is nil
// without --compare.
func writeAttributeFiles(f *attributeFlags, scores siteMap, effects *siteMap) error {
	if f.csvPath != "" {
		var extra []csvColumn
		if effects != nil {
			extra = append(extra, csvColumn{name: "patch_effect", values: effects.values})
		}
		if err := writeSiteCSV(f.csvPath, scores, extra...); err != nil {
			return err
		}
	}
	if f.pngPath != "" {
		if err := writeHeatmaps(f.pngPath, scores); err != nil {
			return err
		}
		if effects != nil {
			if err := writeHeatmaps(heatmapPath(f.pngPath, "patching"), *effects); err != nil {
				return err
			}
		}
	}
	return nil
}

// printAttribution prints the human output: the header, one table per
// site, the top sites and, with --compare, the correlation table.
func printAttribution(w io.Writer, out *attributeOutput, scores siteMap, effects *siteMap, describe []string) {
	title := methodTitles[out.Method]
	if out.Method == interp.MethodIG {
		title += fmt.Sprintf(" (%d steps)", out.Steps)
	}
	fmt.Fprintf(w, "%s on %s\n", title, scores.model)
	for _, line := range describe {
		fmt.Fprintln(w, line)
	}
	if out.Method == interp.MethodRelP {
		rules := "none (the ordinary gradient, as atp)"
		if len(out.Rules) > 0 {
			rules = strings.Join(out.Rules, ", ")
		}
		fmt.Fprintf(w, "rules     %s\n", rules)
	}
	fmt.Fprintf(w, "values    clean %.4f, corrupted %.4f; each cell estimates the site's patching effect\n", out.CleanValue, out.CorruptValue)
	fmt.Fprintf(w, "          M_patched − M_corrupt in logits (unnormalized);\n")
	fmt.Fprintf(w, "          * = the %d largest |values| of a site, among those of at least a tenth of its largest\n", markedCells)
	fmt.Fprintf(w, "cost      %s\n", formatCost(out.Cost.Method))
	printSiteTables(w, scores)

	printTopSites(w, out, scores.labels)
	if out.Correlation == nil {
		return
	}
	fmt.Fprintf(w, "\nFaithfulness: Pearson r between the %s scores and the patching effects\n", out.Method)
	fmt.Fprintf(w, "M_patched − M_corrupt (activation patching: %s)\n", formatCost(*out.Cost.Patching))
	for _, site := range scores.sites {
		r, ok := out.Correlation[site]
		if !ok {
			continue
		}
		note := ""
		if constant(scores.values[site]) || constant(effects.values[site]) {
			note = "  (the scores or the effects do not vary, so r is reported as 0)"
		}
		fmt.Fprintf(w, "  %-9s  %5.2f%s\n", site, r, note)
	}
}

// printTopSites prints the sites of largest |value| over all families, for
// the method and, with --compare, for activation patching beside it.
func printTopSites(w io.Writer, out *attributeOutput, labels []string) {
	method := siteNames(out.Top.Method, labels)
	patching := siteNames(out.Top.Patching, labels)
	methodWidth := max(len(out.Method), maxWidth(method))
	patchingWidth := max(len("activation patching"), maxWidth(patching))

	fmt.Fprintf(w, "\nTop %d sites by |value|\n", topSites)
	header := fmt.Sprintf("      %s  %7s", padRight(out.Method, methodWidth), "score")
	if out.Top.Patching != nil {
		header += fmt.Sprintf("    %s  %7s", padRight("activation patching", patchingWidth), "effect")
	}
	fmt.Fprintln(w, header)
	for i := range max(len(method), len(patching)) {
		var b strings.Builder
		fmt.Fprintf(&b, "  %2d  ", i+1)
		if i < len(method) {
			fmt.Fprintf(&b, "%s  %7.3f", padRight(method[i], methodWidth), out.Top.Method[i].Value)
		} else {
			b.WriteString(strings.Repeat(" ", methodWidth+9))
		}
		if i < len(patching) {
			fmt.Fprintf(&b, "    %s  %7.3f", padRight(patching[i], patchingWidth), out.Top.Patching[i].Value)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// siteNames returns the siteName of each score.
func siteNames(scores []interp.SiteScore, labels []string) []string {
	names := make([]string, len(scores))
	for i, s := range scores {
		names[i] = siteName(s, labels)
	}
	return names
}

// maxWidth returns the width in characters of the longest string.
func maxWidth(texts []string) int {
	width := 0
	for _, t := range texts {
		width = max(width, utf8.RuneCountInString(t))
	}
	return width
}

// siteName names a site as "resid_pre L0 @9 ·John" (family, layer,
// position and its token) or "z L1 H3" (family, layer, head).
func siteName(s interp.SiteScore, labels []string) string {
	layer := "L" + strconv.Itoa(s.Layer)
	switch s.Site {
	case interp.SiteZ:
		return fmt.Sprintf("%s %s H%d", s.Site, layer, s.Index)
	case interp.SiteMLPPost:
		return fmt.Sprintf("%s %s N%d", s.Site, layer, s.Index)
	case interp.SitePattern:
		seq := max(1, len(labels))
		return fmt.Sprintf("%s %s H%d q%d k%d", s.Site, layer, s.Index/(seq*seq), s.Index/seq%seq, s.Index%seq)
	}
	name := fmt.Sprintf("%s %s @%d", s.Site, layer, s.Index)
	if s.Index < len(labels) {
		name += " " + cutLabel(showPiece(labels[s.Index]))
	}
	return name
}

func padRight(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// formatCost formats the passes and time of a method.
func formatCost(c passCost) string {
	passes := fmt.Sprintf("%d forward passes", c.ForwardPasses)
	if c.BackwardPasses > 0 {
		passes = fmt.Sprintf("%d forward and %d backward passes", c.ForwardPasses, c.BackwardPasses)
	}
	return fmt.Sprintf("%s, %.2f s", passes, c.Seconds)
}

// constant reports whether every value of a site family is the same.
func constant(values [][]float64) bool {
	var first float64
	seen := false
	for _, row := range values {
		for _, v := range row {
			if seen && v != first {
				return false
			}
			first, seen = v, true
		}
	}
	return true
}
