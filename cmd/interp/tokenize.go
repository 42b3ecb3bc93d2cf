package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// tokenizeResult is the JSON output of `interp tokenize`.
type tokenizeResult struct {
	IDs    []int32  `json:"ids"`
	Pieces []string `json:"pieces"`
}

func newTokenizeCommand(a *app) *cobra.Command {
	var noBOS bool
	cmd := &cobra.Command{
		Use:   "tokenize TEXT",
		Short: "Split text into the model's tokens",
		Long: `Tokenize TEXT with the model's own vocabulary and show each token's id and
text. The BOS token is added where llama.cpp adds it for the vocabulary (yes
for SentencePiece Llama vocabularies, no for GPT-2) unless --no-bos is given.

Examples:
  interp tokenize "When Mary and John went to the store"
  interp tokenize --model stories260K.gguf --no-bos "Once upon a time"
  interp tokenize --json " Paris" | jq .ids`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, release, err := a.openTokenizer()
			if err != nil {
				return err
			}
			defer release()

			ids, err := encodePrompt(tok, args[0], noBOS)
			if err != nil {
				return err
			}
			ps, err := pieces(tok, ids)
			if err != nil {
				return err
			}
			if ids == nil {
				ids, ps = []int32{}, []string{}
			}
			if a.jsonOut {
				return writeJSON(cmd.OutOrStdout(), tokenizeResult{IDs: ids, Pieces: ps})
			}

			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%8s  %6s  %s\n", "position", "id", "piece")
			for i, id := range ids {
				fmt.Fprintf(w, "%8d  %6d  %q\n", i, id, ps[i])
			}
			fmt.Fprintf(w, "%d tokens\n", len(ids))
			return nil
		},
	}
	cmd.Flags().BoolVar(&noBOS, "no-bos", false, "do not add the BOS token even where the vocabulary asks for it")
	return cmd
}
