package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-go/interp/transformer"
	"github.com/interp-go/interp/transformer/tokenizer"
)

// generateResult is the JSON output of `interp generate`.
type generateResult struct {
	// IDs are the generated tokens, without the prompt. They end with the
	// end-of-generation token when generation stopped on one.
	IDs []int32 `json:"ids"`
	// Text is the continuation without the prompt and without the
	// end-of-generation token.
	Text string `json:"text"`
}

func newGenerateCommand(a *app) *cobra.Command {
	var (
		prompt promptFlags
		gen    transformer.GenerateOptions
	)
	cmd := &cobra.Command{
		Use:   "generate --prompt TEXT",
		Short: "Continue a prompt, greedily or by sampling",
		Long: `Continue a prompt token by token with the KV cache. At temperature 0, the
default, each step takes the most likely token (greedy decoding). A positive
--temperature samples after --top-k and --top-p filtering, in llama.cpp's
order (top-k, then top-p, then temperature), and the same --seed gives the
same text. Generation stops after the end-of-generation token, after
--max-tokens tokens, or when the context is full.

The BOS token is added to --prompt where llama.cpp adds it for the vocabulary
(yes for SentencePiece Llama vocabularies, no for GPT-2) unless --no-bos is
given. The table output prints the prompt followed by the continuation;
--json gives the new token ids and the continuation alone.

Examples:
  interp generate --prompt "When Mary and John went to the store, John gave a drink to" --max-tokens 8
  interp generate --model stories260K.gguf --prompt "Once upon a time" --max-tokens 64
  interp generate --prompt "Once" --temperature 0.8 --top-k 40 --top-p 0.95 --seed 7 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSampling(cmd, gen); err != nil {
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
			if len(ids) >= m.NCtx {
				return fmt.Errorf("the prompt has %d tokens and fills the model's context length of %d, leaving no room to generate; shorten it", len(ids), m.NCtx)
			}
			start := time.Now()
			out, err := m.Generate(ids, gen)
			if err != nil {
				return err
			}
			a.log.Debug("generated", "prompt_tokens", len(ids), "new_tokens", len(out), "elapsed", time.Since(start))
			if stoppedEarly := len(out) < gen.MaxTokens && (len(out) == 0 || !m.Tokenizer.IsEOG(out[len(out)-1])); stoppedEarly {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: stopped after %d new tokens because the model's context of %d tokens is full\n", len(out), m.NCtx)
			}

			text, err := continuation(m.Tokenizer, ids, out)
			if err != nil {
				return err
			}
			if a.jsonOut {
				if out == nil {
					out = []int32{}
				}
				return writeJSON(cmd.OutOrStdout(), generateResult{IDs: out, Text: text})
			}
			head := prompt.prompt
			if cmd.Flags().Changed("ids") {
				if head, err = m.Tokenizer.Decode(ids); err != nil {
					return err
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), head+text)
			return nil
		},
	}
	prompt.register(cmd)
	flags := cmd.Flags()
	flags.IntVar(&gen.MaxTokens, "max-tokens", 64, "maximum number of new `tokens`; 0 generates until the end-of-generation token or a full context")
	flags.Float64Var(&gen.Temperature, "temperature", 0, "sampling temperature; 0 decodes greedily")
	flags.IntVar(&gen.TopK, "top-k", 0, "sample from the `K` most likely tokens only; 0 keeps all")
	flags.Float64Var(&gen.TopP, "top-p", 1, "sample from the smallest set of tokens whose probability reaches `P`; 1 keeps all")
	flags.Uint64Var(&gen.Seed, "seed", 0, "seed of the sampler's random numbers")
	return cmd
}

// checkSampling rejects sampling settings outside their ranges, and
// sampling flags given for greedy decoding, where they would do nothing.
func checkSampling(cmd *cobra.Command, g transformer.GenerateOptions) error {
	if g.Temperature == 0 {
		for _, name := range []string{"top-k", "top-p", "seed"} {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s does not apply at --temperature 0, which decodes greedily: give a --temperature above 0 to sample", name)
			}
		}
	}
	switch {
	case g.MaxTokens < 0:
		return fmt.Errorf("invalid --max-tokens %d: give 0 or more", g.MaxTokens)
	case !(g.Temperature >= 0) || math.IsInf(g.Temperature, 1):
		return fmt.Errorf("invalid --temperature %g: give 0 (greedy) or a finite number above it", g.Temperature)
	case g.TopK < 0:
		return fmt.Errorf("invalid --top-k %d: give 0 (all tokens) or more", g.TopK)
	case !(g.TopP > 0 && g.TopP <= 1):
		return fmt.Errorf("invalid --top-p %g: give a probability in (0, 1]", g.TopP)
	}
	return nil
}

// continuation returns the text that the generated tokens add to the
// prompt, without a final end-of-generation token. It decodes prompt and
// continuation together and cuts off the prompt's text, because a token's
// text can depend on its neighbours: SentencePiece drops the leading space
// of the first word only, and a character may span two byte tokens.
func continuation(tok *tokenizer.Tokenizer, prompt, generated []int32) (string, error) {
	if n := len(generated); n > 0 && tok.IsEOG(generated[n-1]) {
		generated = generated[:n-1]
	}
	head, err := tok.Decode(prompt)
	if err != nil {
		return "", err
	}
	all := append(append([]int32(nil), prompt...), generated...)
	full, err := tok.Decode(all)
	if err != nil {
		return "", err
	}
	if text, ok := strings.CutPrefix(full, head); ok {
		return text, nil
	}
	return tok.Decode(generated)
}
