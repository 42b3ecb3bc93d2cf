package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-go/interp/interp"
	"github.com/interp-go/interp/transformer"
)

// patchFlags are the flags of `interp patch`.
type patchFlags struct {
	task             taskFlags
	sites            []string
	csvPath, pngPath string
}

func newPatchCommand(a *app) *cobra.Command {
	var f patchFlags
	cmd := &cobra.Command{
		Use:   "patch [--clean TEXT --corrupt TEXT --answer TOKEN --wrong TOKEN | --dataset FILE|ioi:N]",
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

` + taskHelp + `

The table shows one block per site, layers by positions (or heads), and marks
the 3 largest |values| of each with *. Progress goes to stderr when it is a
terminal and the sweep takes more than a couple of seconds.

Examples:
  interp patch
  interp patch --clean "When Mary and John went to the store, John gave a drink to" \
      --corrupt "When Mary and John went to the store, Mary gave a drink to" \
      --answer " Mary" --wrong " John" --sites resid_pre,z
  interp patch --model toy-gpt2-ioi.gguf --dataset tasks.jsonl --json > result.json
  interp patch --model toy-gpt2-ioi.gguf --dataset ioi:20 --seed 1
  interp patch --csv patch.csv --png patch.png   # writes patch.resid_pre.png, patch.z.png, ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPatch(cmd, a, &f)
		},
	}
	f.task.register(cmd)
	flags := cmd.Flags()
	flags.StringSliceVar(&f.sites, "sites", interp.AllSites, "comma-separated site `families` to sweep: resid_pre, attn_out, mlp_out, z")
	flags.StringVar(&f.csvPath, "csv", "", "also write every value to this CSV `file` (site, layer, index, token, value)")
	flags.StringVar(&f.pngPath, "png", "", "also write a heat map per site as a PNG `file`; out.png becomes out.<site>.png")
	return cmd
}

// patchRun is a finished patching run with what the outputs need to label
// it.
type patchRun struct {
	siteMap
	result *interp.PatchResult
	// describe is the human header: the task or the dataset.
	describe []string
}

func runPatch(cmd *cobra.Command, a *app, f *patchFlags) error {
	sites, err := checkSites(f.sites, interp.AllSites)
	if err != nil {
		return err
	}
	t, err := openTasks(cmd, a, &f.task, map[string]string{"csv": f.csvPath, "png": f.pngPath})
	if err != nil {
		return err
	}
	defer t.release()

	progress := newSweepProgress(cmd.ErrOrStderr(), "patching")
	opts := interp.PatchOptions{Sites: sites, Progress: progress.update}
	start := time.Now()
	var res *interp.PatchResult
	if len(t.tasks) == 1 {
		res, err = interp.ActivationPatching(t.model, t.tasks[0], opts)
	} else {
		res, err = interp.PatchDataset(t.model, t.tasks, opts)
	}
	progress.finish()
	if err != nil {
		return err
	}
	a.log.Debug("patching done", "tasks", len(t.tasks), "sites", strings.Join(sites, ","), "elapsed", time.Since(start))

	run := &patchRun{
		siteMap: siteMap{title: "activation patching", model: a.modelName(), sites: sites, values: res.Sites, labels: t.labels},
		result:  res,
	}
	if run.describe, err = t.describe(); err != nil {
		return err
	}

	if f.csvPath != "" {
		if err := writeSiteCSV(f.csvPath, run.siteMap); err != nil {
			return err
		}
	}
	if f.pngPath != "" {
		if err := writeHeatmaps(f.pngPath, run.siteMap); err != nil {
			return err
		}
	}
	if a.jsonOut {
		return writeJSON(cmd.OutOrStdout(), res)
	}
	return printPatchTables(cmd.OutOrStdout(), run)
}

// openedTasks is the model and the tasks that patch and attribute run on.
type openedTasks struct {
	model  *transformer.Model
	tasks  []interp.Task
	source taskSource
	// labels are the tokens of the longest clean prompt, which label the
	// positions of the outputs.
	labels  []string
	release func()
}

// openTasks checks the output paths (by flag name) and the task flags,
// then opens the model and builds the tasks. The caller must call release
// when err is nil.
func openTasks(cmd *cobra.Command, a *app, f *taskFlags, outputPaths map[string]string) (*openedTasks, error) {
	if err := checkOutputPaths(outputPaths); err != nil {
		return nil, err
	}
	// A name without an extension gets .png added, as in heatmapPath.
	if png := outputPaths["png"]; filepath.Ext(png) != "" {
		if err := checkOutputExtension("png", png, "the heat maps are PNG images", ".png"); err != nil {
			return nil, err
		}
	}
	specs, source, err := f.specs(cmd)
	if err != nil {
		return nil, err
	}

	m, release, err := a.openModel()
	if err != nil {
		return nil, err
	}
	tasks, err := f.build(m, specs, source, a.modelPath == "")
	if err != nil {
		release()
		return nil, err
	}
	labels, err := positionLabels(m.Tokenizer, tasks)
	if err != nil {
		release()
		return nil, err
	}
	return &openedTasks{model: m, tasks: tasks, source: source, labels: labels, release: release}, nil
}

// describe returns the human header lines that name the task or the
// dataset.
func (t *openedTasks) describe() ([]string, error) {
	return t.source.describe(t.model.Tokenizer, t.tasks)
}

// checkSites validates --sites against the valid families and removes
// repeats, keeping the order.
func checkSites(sites, valid []string) ([]string, error) {
	var out []string
	for _, s := range sites {
		s = strings.TrimSpace(s)
		if !slices.Contains(valid, s) {
			return nil, fmt.Errorf("invalid --sites entry %q: choose from %s", s, strings.Join(valid, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--sites is empty: choose from %s", strings.Join(valid, ", "))
	}
	return out, nil
}
