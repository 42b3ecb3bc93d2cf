package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	bundle "github.com/interp-go/interp"
	"github.com/interp-go/interp/interp"
)

// patchFlags are the flags of `interp patch`.
type patchFlags struct {
	clean, corrupt, answer, wrong string
	cleanIDs, corruptIDs          string
	answerID, wrongID             int32
	dataset                       string
	sites                         []string
	noBOS                         bool
	csvPath, pngPath              string
}

func newPatchCommand(a *app) *cobra.Command {
	var f patchFlags
	cmd := &cobra.Command{
		Use:   "patch [--clean TEXT --corrupt TEXT --answer TOKEN --wrong TOKEN | --dataset FILE]",
		Short: "Find where a behaviour lives with activation patching",
		Long: `Run denoising activation patching: run a clean and a corrupted prompt, then
rerun the corrupted prompt once per site with the clean run's activation
written in, and report how much of the clean behaviour each site restores:

  (M_patched − M_corrupt) / (M_clean − M_corrupt),  M = logit[answer] − logit[wrong]

at the last position. 1 means the site alone restores the clean behaviour, 0
means it changes nothing. Sites (--sites):

  resid_pre  residual stream entering block L, one position at a time
  attn_out   attention output of block L, one position at a time
  mlp_out    MLP output of block L, one position at a time
  z          one attention head of block L (hook_z), all positions at once

Give the task as text (--clean, --corrupt, --answer, --wrong), as token ids
(--clean-ids, --corrupt-ids, --answer-id, --wrong-id; ids win over text), or
as a JSON Lines --dataset with one {"clean", "corrupt", "answer", "wrong"}
object a line (optionally "clean_ids", "corrupt_ids", "answer_id",
"wrong_id", which win over the text); a dataset's values are averaged over
its tasks, aligned at the last position. Without any of these, patch runs
the bundled demo task (an indirect-object-identification prompt pair).

Clean and corrupted prompts must have the same number of tokens, and the
answers must be single tokens. Text prompts get the BOS token where llama.cpp
adds it for the vocabulary, unless --no-bos; answers never do.

The table shows one block per site, layers by positions (or heads), and marks
the 3 largest |values| of each with *. Progress goes to stderr when it is a
terminal and the sweep takes more than a couple of seconds.

Examples:
  interp patch
  interp patch --clean "When Mary and John went to the store, John gave a drink to" \
      --corrupt "When Mary and John went to the store, Mary gave a drink to" \
      --answer " Mary" --wrong " John" --sites resid_pre,z
  interp patch --model toy-gpt2-ioi.gguf --dataset tasks.jsonl --json > result.json
  interp patch --csv patch.csv --png patch.png   # writes patch.resid_pre.png, patch.z.png, ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPatch(cmd, a, &f)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&f.clean, "clean", "", "clean prompt `text`")
	flags.StringVar(&f.corrupt, "corrupt", "", "corrupted prompt `text`, of the same token length as the clean one")
	flags.StringVar(&f.answer, "answer", "", "correct answer `token` as text, such as \" Mary\" (with its leading space)")
	flags.StringVar(&f.wrong, "wrong", "", "wrong answer `token` as text, the one the corrupted prompt favours")
	flags.StringVar(&f.cleanIDs, "clean-ids", "", "clean prompt as comma-separated token `ids`, used as given")
	flags.StringVar(&f.corruptIDs, "corrupt-ids", "", "corrupted prompt as comma-separated token `ids`")
	flags.Int32Var(&f.answerID, "answer-id", 0, "correct answer token `id`")
	flags.Int32Var(&f.wrongID, "wrong-id", 0, "wrong answer token `id`")
	flags.StringVar(&f.dataset, "dataset", "", "JSON Lines `file` of tasks to average over")
	flags.StringSliceVar(&f.sites, "sites", interp.AllSites, "comma-separated site `families` to sweep: resid_pre, attn_out, mlp_out, z")
	flags.BoolVar(&f.noBOS, "no-bos", false, "do not add the BOS token to text prompts")
	flags.StringVar(&f.csvPath, "csv", "", "also write every value to this CSV `file` (site, layer, index, token, value)")
	flags.StringVar(&f.pngPath, "png", "", "also write a heat map per site as a PNG `file`; out.png becomes out.<site>.png")
	return cmd
}

// patchRun is a finished patching run with what the outputs need to label it.
type patchRun struct {
	model  string
	result *interp.PatchResult
	sites  []string
	// labels are the token texts of the position columns: the clean
	// prompt's, or for a dataset those of its longest task.
	labels []string
	// describe is the human header: the task or the dataset.
	describe []string
}

func runPatch(cmd *cobra.Command, a *app, f *patchFlags) error {
	sites, err := checkSites(f.sites)
	if err != nil {
		return err
	}
	specs, source, err := f.taskSpecs(cmd)
	if err != nil {
		return err
	}

	m, release, err := a.openModel()
	if err != nil {
		return err
	}
	defer release()

	if source.demo && a.modelPath != "" {
		// The demo's ids are GPT-2 ids, so another model tokenizes the text.
		specs[0] = specs[0].textOnly()
	}
	b := taskBuilder{m: m, noBOS: f.noBOS, jsonKeys: source.dataset != ""}
	tasks := make([]interp.Task, len(specs))
	for i, s := range specs {
		if tasks[i], err = b.build(s); err != nil {
			return source.wrap(i, err)
		}
	}

	progress := newSweepProgress(cmd.ErrOrStderr(), "patching")
	opts := interp.PatchOptions{Sites: sites, Progress: progress.update}
	start := time.Now()
	var res *interp.PatchResult
	if len(tasks) == 1 {
		res, err = interp.ActivationPatching(m, tasks[0], opts)
	} else {
		res, err = interp.PatchDataset(m, tasks, opts)
	}
	progress.finish()
	if err != nil {
		return err
	}
	a.log.Debug("patching done", "tasks", len(tasks), "sites", strings.Join(sites, ","), "elapsed", time.Since(start))

	run := &patchRun{model: a.modelName(), result: res, sites: sites}
	longest := slices.MaxFunc(tasks, func(x, y interp.Task) int { return len(x.Clean) - len(y.Clean) })
	if run.labels, err = pieces(m.Tokenizer, longest.Clean); err != nil {
		return err
	}
	if run.describe, err = source.describe(m.Tokenizer, tasks); err != nil {
		return err
	}

	if f.csvPath != "" {
		if err := writePatchCSV(f.csvPath, run); err != nil {
			return err
		}
	}
	if f.pngPath != "" {
		if err := writeHeatmaps(f.pngPath, run); err != nil {
			return err
		}
	}
	if a.jsonOut {
		return writeJSON(cmd.OutOrStdout(), res)
	}
	return printPatchTables(cmd.OutOrStdout(), run)
}

// checkSites validates --sites and removes repeats, keeping the order.
func checkSites(sites []string) ([]string, error) {
	var out []string
	for _, s := range sites {
		s = strings.TrimSpace(s)
		if !slices.Contains(interp.AllSites, s) {
			return nil, fmt.Errorf("invalid --sites entry %q: choose from %s", s, strings.Join(interp.AllSites, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--sites is empty: choose from %s", strings.Join(interp.AllSites, ", "))
	}
	return out, nil
}

// taskSpecs collects the task specs from the flags, the dataset or the
// bundled demo task, and returns their source.
func (f *patchFlags) taskSpecs(cmd *cobra.Command) ([]taskSpec, taskSource, error) {
	changed := cmd.Flags().Changed
	var s taskSpec
	if changed("clean") {
		s.Clean = &f.clean
	}
	if changed("corrupt") {
		s.Corrupt = &f.corrupt
	}
	if changed("answer") {
		s.Answer = &f.answer
	}
	if changed("wrong") {
		s.Wrong = &f.wrong
	}
	var err error
	if changed("clean-ids") {
		if s.CleanIDs, err = parseIDs("--clean-ids", f.cleanIDs); err != nil {
			return nil, taskSource{}, err
		}
	}
	if changed("corrupt-ids") {
		if s.CorruptIDs, err = parseIDs("--corrupt-ids", f.corruptIDs); err != nil {
			return nil, taskSource{}, err
		}
	}
	if changed("answer-id") {
		s.AnswerID = &f.answerID
	}
	if changed("wrong-id") {
		s.WrongID = &f.wrongID
	}

	switch {
	case f.dataset != "" && !s.empty():
		return nil, taskSource{}, fmt.Errorf("--dataset cannot be combined with --clean, --corrupt, --answer, --wrong or their -id forms")
	case f.dataset != "":
		specs, lines, err := readDataset(f.dataset)
		return specs, taskSource{dataset: f.dataset, lines: lines}, err
	case !s.empty():
		return []taskSpec{s}, taskSource{}, nil
	}
	demo, err := demoTask(bundle.DemoTask)
	return []taskSpec{demo}, taskSource{demo: true}, err
}
