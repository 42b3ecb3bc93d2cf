package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/interp-go/interp/transformer"
)

// inspectResult is the JSON output of `interp inspect`.
type inspectResult struct {
	Model        string       `json:"model"`          // --model path, or "bundled gpt2-tiny"
	Name         string       `json:"name,omitempty"` // general.name
	Architecture string       `json:"architecture"`
	NLayers      int          `json:"n_layers"`
	DModel       int          `json:"d_model"`
	NHeads       int          `json:"n_heads"`
	NKVHeads     int          `json:"n_kv_heads"`
	DHead        int          `json:"d_head"`
	DMLP         int          `json:"d_mlp"`
	NCtx         int          `json:"n_ctx"`
	VocabSize    int          `json:"vocab_size"`
	Tokenizer    string       `json:"tokenizer"` // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
	AddBOS       bool         `json:"add_bos"`
	NormEps      float32      `json:"norm_eps"`
	RopeDim      int          `json:"rope_dim,omitempty"`
	RopeBase     float64      `json:"rope_base,omitempty"`
	Parameters   uint64       `json:"parameters"`
	Tensors      []tensorInfo `json:"tensors"`
	HookPoints   []string     `json:"hook_points,omitempty"` // with --hooks only
}

// tensorInfo describes one tensor of the model file.
type tensorInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Shape is in row-major (numpy) order, outermost axis first: a matrix
	// of ggml dimensions ne = [in, out] has shape [out, in].
	Shape []uint64 `json:"shape"`
	// NE is the dimensions as stored in the file, ggml's ne0 first.
	NE []uint64 `json:"ne"`
}

func newInspectCommand(a *app) *cobra.Command {
	var listHooks bool
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show a model's architecture, shapes, tokenizer and tensors",
		Long: `Show what a GGUF model file contains: architecture, layer count, widths,
context length, vocabulary and tokenizer, and every tensor with its type and
shape. Shapes are in row-major (numpy) order; --json also gives ggml's order
(ne0 first) as "ne".

Examples:
  interp inspect
  interp inspect --model stories260K.gguf --hooks
  interp inspect --model model.gguf --json | jq '.tensors[] | select(.type == "Q8_0") | .name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, release, err := a.openModel()
			if err != nil {
				return err
			}
			defer release()

			res := describeModel(a.modelName(), m)
			if listHooks {
				res.HookPoints = m.HookNames()
			}
			if a.jsonOut {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			return printInspect(cmd.OutOrStdout(), res)
		},
	}
	cmd.Flags().BoolVar(&listHooks, "hooks", false, "also list the model's hook point names, in forward order")
	return cmd
}

// describeModel collects the inspect output of a loaded model.
func describeModel(name string, m *transformer.Model) inspectResult {
	f := m.File()
	generalName, _ := f.String("general.name")
	res := inspectResult{
		Model:        name,
		Name:         generalName,
		Architecture: m.Arch,
		NLayers:      m.NLayers,
		DModel:       m.DModel,
		NHeads:       m.NHeads,
		NKVHeads:     m.NKVHeads,
		DHead:        m.DHead,
		DMLP:         m.DMLP,
		NCtx:         m.NCtx,
		VocabSize:    m.VocabSize,
		Tokenizer:    m.Tokenizer.Model(),
		AddBOS:       m.Tokenizer.AddBOS(),
		NormEps:      m.NormEps,
		RopeDim:      m.RopeDim,
		RopeBase:     m.RopeBase,
		Tensors:      make([]tensorInfo, len(f.Tensors)),
	}
	for i, t := range f.Tensors {
		res.Parameters += t.NumElements()
		shape := slices.Clone(t.Dims)
		slices.Reverse(shape)
		res.Tensors[i] = tensorInfo{Name: t.Name, Type: t.Type.String(), Shape: shape, NE: slices.Clone(t.Dims)}
	}
	return res
}

func printInspect(w io.Writer, r inspectResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	name := r.Model
	if r.Name != "" {
		name += " (" + r.Name + ")"
	}
	fmt.Fprintf(tw, "model\t%s\n", name)
	fmt.Fprintf(tw, "architecture\t%s\n", r.Architecture)
	fmt.Fprintf(tw, "layers\t%d\n", r.NLayers)
	fmt.Fprintf(tw, "d_model\t%d\n", r.DModel)
	fmt.Fprintf(tw, "heads\t%d query, %d key/value, d_head %d\n", r.NHeads, r.NKVHeads, r.DHead)
	fmt.Fprintf(tw, "d_mlp\t%d\n", r.DMLP)
	fmt.Fprintf(tw, "context\t%d tokens\n", r.NCtx)
	fmt.Fprintf(tw, "vocabulary\t%d tokens, %s tokenizer, BOS added: %s\n", r.VocabSize, r.Tokenizer, yesNo(r.AddBOS))
	fmt.Fprintf(tw, "norm epsilon\t%g\n", r.NormEps)
	if r.RopeDim > 0 {
		fmt.Fprintf(tw, "RoPE\t%d dimensions per head, base %g\n", r.RopeDim, r.RopeBase)
	}
	fmt.Fprintf(tw, "parameters\t%d\n", r.Parameters)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\n%d tensors:\n", len(r.Tensors))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  name\ttype\tshape")
	for _, t := range r.Tensors {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Name, t.Type, formatShape(t.Shape))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.HookPoints) > 0 {
		fmt.Fprintf(w, "\n%d hook points:\n", len(r.HookPoints))
		for _, h := range r.HookPoints {
			fmt.Fprintf(w, "  %s\n", h)
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// formatShape formats dimensions as "[50257, 64]".
func formatShape[T int | uint64](dims []T) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = strconv.FormatUint(uint64(d), 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
