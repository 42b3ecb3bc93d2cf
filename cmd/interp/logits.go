package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/spf13/cobra"

	"github.com/interp-go/interp/transformer"
	"github.com/interp-go/interp/transformer/tokenizer"
)

// logitsResult is the JSON output of `interp logits`.
type logitsResult struct {
	IDs []int32 `json:"ids"`
	// Logits has one row of vocabulary length per position: the last
	// position only, or every position with --all-positions.
	Logits [][]float32 `json:"logits"`
}

func newLogitsCommand(a *app) *cobra.Command {
	var (
		prompt       promptFlags
		allPositions bool
		top          int
	)
	cmd := &cobra.Command{
		Use:   "logits (--prompt TEXT | --ids LIST)",
		Short: "Print the next-token logits of a prompt",
		Long: `Run a prompt through the model and print the logits that predict the next
token: by default for the last position only, with --all-positions for every
position. The table shows the --top most likely tokens with their logits and
probabilities; --json prints the full rows of vocabulary length.

The BOS token is added to --prompt where llama.cpp adds it for the vocabulary
(yes for SentencePiece Llama vocabularies, no for GPT-2) unless --no-bos is
given. --ids are used exactly as given.

Examples:
  interp logits --prompt "When Mary and John went to the store, John gave a drink to"
  interp logits --ids 2215,5335,290 --all-positions --top 3
  interp logits --model stories260K.gguf --prompt "Once upon a time" --json | jq '.logits[0] | length'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if top < 1 {
				return fmt.Errorf("invalid --top %d: show at least 1 token", top)
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
			mode := transformer.LastLogits
			if allPositions {
				mode = transformer.AllLogits
			}
			out, err := m.Run(ids, &transformer.Options{Logits: mode})
			if err != nil {
				return err
			}
			rows := make([][]float32, out.Logits.Shape[1])
			for i := range rows {
				rows[i] = out.Row(0, i)
			}
			// first is the position of rows[0] in the prompt.
			first := len(ids) - len(rows)

			if a.jsonOut {
				return writeJSON(cmd.OutOrStdout(), logitsResult{IDs: ids, Logits: rows})
			}
			return printTopLogits(cmd.OutOrStdout(), m.Tokenizer, ids, rows, first, top)
		},
	}
	prompt.register(cmd)
	cmd.Flags().BoolVar(&allPositions, "all-positions", false, "print the logits of every position, not only the last")
	cmd.Flags().IntVar(&top, "top", 5, "number of most likely `tokens` shown per position in the table")
	return cmd
}

// printTopLogits prints, for each row, the top most likely next tokens.
func printTopLogits(w io.Writer, tok *tokenizer.Tokenizer, ids []int32, rows [][]float32, first, top int) error {
	inputPieces, err := pieces(tok, ids)
	if err != nil {
		return err
	}
	for r, row := range rows {
		pos := first + r
		if r > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "position %d, after %q (%d):\n", pos, inputPieces[pos], ids[pos])
		fmt.Fprintf(w, "  %4s  %6s  %-16s  %9s  %8s\n", "rank", "id", "piece", "logit", "prob")

		best := topTokens(row, top)
		bestPieces, err := pieces(tok, best)
		if err != nil {
			return err
		}
		logSum := logSumExp(row)
		for k, id := range best {
			prob := math.Exp(float64(row[id]) - logSum)
			fmt.Fprintf(w, "  %4d  %6d  %-16q  %9.4f  %8.5f\n", k+1, id, bestPieces[k], row[id], prob)
		}
	}
	return nil
}

// topTokens returns the ids of the k largest logits, the largest first.
func topTokens(logits []float32, k int) []int32 {
	ids := make([]int32, len(logits))
	for i := range ids {
		ids[i] = int32(i)
	}
	slices.SortStableFunc(ids, func(a, b int32) int { return cmp.Compare(logits[b], logits[a]) })
	return ids[:min(k, len(ids))]
}

// logSumExp returns log Σ exp(x), computed in float64 around the maximum.
func logSumExp(x []float32) float64 {
	peak := math.Inf(-1)
	for _, v := range x {
		peak = max(peak, float64(v))
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - peak)
	}
	return peak + math.Log(sum)
}
