package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// traceResult is the JSON output of `interp trace`.
type traceResult struct {
	Out    string       `json:"out"`
	IDs    []int32      `json:"ids"`
	Arrays []traceArray `json:"arrays"`
}

// traceArray describes one array written to the .npz file.
type traceArray struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

func newTraceCommand(a *app) *cobra.Command {
	var (
		prompt   promptFlags
		patterns []string
		out      string
	)
	cmd := &cobra.Command{
		Use:   "trace (--prompt TEXT | --ids LIST) --hook PATTERN... --out FILE.npz",
		Short: "Record activations at hook points into a NumPy .npz file",
		Long: `Run a prompt through the model and save the activations of the hook points
that match --hook into a NumPy .npz file, one float32 array per hook point,
named by the hook point: np.load("out.npz")["blocks.0.hook_resid_pre"].

--hook takes a TransformerLens hook point name or a glob pattern over names
("blocks.*.hook_resid_pre", "blocks.1.attn.*") and may be repeated. A pattern
that matches no hook point is an error listing the closest names;
'interp inspect --hooks' lists them all. Only the matching points are kept in
memory.

Shapes are those of one sequence, without a batch axis: [seq, d_model] for
the residual stream and attention and MLP outputs, [seq, n_heads, d_head] for
q and z ([seq, n_kv_heads, d_head] for k and v), [n_heads, seq, seq] for
attn_scores and pattern, [seq, d_mlp] for the MLP hidden points and [seq, 1]
for the norms' hook_scale. The file is written to a temporary name in the
same folder and renamed when complete.

Examples:
  interp trace --prompt "When Mary and John went to the store" --hook 'blocks.*.hook_resid_pre' --out resid.npz
  interp trace --ids 2215,5335,290 --hook blocks.0.attn.hook_pattern --hook hook_embed --out act.npz
  python3 -c 'import numpy as np; print(np.load("resid.npz")["blocks.0.hook_resid_pre"].shape)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputPaths(map[string]string{"out": out}); err != nil {
				return err
			}
			if err := checkOutputExtension("out", out, "trace writes a NumPy .npz file", ".npz"); err != nil {
				return err
			}
			m, release, err := a.openModel()
			if err != nil {
				return err
			}
			defer release()

			ids, err := prompt.tokens(cmd, m)
			if err != nil {
				return err
			}
			cache := hooks.NewCache(patterns...)
			h := &hooks.Hooks{}
			cache.Attach(h)
			start := time.Now()
			if _, err := m.Run(ids, &transformer.Options{Hooks: h, Logits: transformer.NoLogits}); err != nil {
				return err
			}
			a.log.Debug("forward pass done", "tokens", len(ids), "hook_points", cache.Len(), "elapsed", time.Since(start))

			names := cache.Names()
			arrays := make(map[string]*hooks.Tensor, len(names))
			res := traceResult{Out: out, IDs: ids}
			for _, name := range names {
				t, _ := cache.Get(name)
				arrays[name] = t
				res.Arrays = append(res.Arrays, traceArray{Name: name, Shape: t.Shape})
			}
			err = writeFileAtomic(out, func(w io.Writer) error { return writeNPZ(w, names, arrays) })
			if err != nil {
				return err
			}
			a.log.Debug("wrote activations", "file", out, "arrays", len(names))

			if a.jsonOut {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %s for %s to %s\n", plural(len(res.Arrays), "array"), plural(len(ids), "token"), out)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, arr := range res.Arrays {
				fmt.Fprintf(tw, "  %s\t%s\n", arr.Name, formatShape(arr.Shape))
			}
			return tw.Flush()
		},
	}
	prompt.register(cmd)
	cmd.Flags().StringArrayVar(&patterns, "hook", nil, "hook point `pattern` to record (name or glob; repeatable)")
	cmd.Flags().StringVar(&out, "out", "", "output `file` (.npz)")
	_ = cmd.MarkFlagRequired("hook")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
