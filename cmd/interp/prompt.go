package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/interp-go/interp/transformer"
	"github.com/interp-go/interp/transformer/tokenizer"
)

// promptFlags are the --prompt, --ids and --no-bos flags of the commands
// that run one sequence.
type promptFlags struct {
	prompt string
	ids    string
	noBOS  bool
}

func (p *promptFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.prompt, "prompt", "", "prompt `text`, tokenized with the model's tokenizer")
	cmd.Flags().StringVar(&p.ids, "ids", "", "prompt as comma-separated token `ids`, used as given (no BOS is added)")
	cmd.Flags().BoolVar(&p.noBOS, "no-bos", false, "do not add the BOS token to --prompt even where the vocabulary asks for it")
	cmd.MarkFlagsMutuallyExclusive("prompt", "ids")
	cmd.MarkFlagsOneRequired("prompt", "ids")
}

// tokens returns the prompt's token ids, checked against the model's
// vocabulary and context length.
func (p *promptFlags) tokens(cmd *cobra.Command, m *transformer.Model) ([]int32, error) {
	var ids []int32
	var err error
	flag := "--prompt"
	if cmd.Flags().Changed("ids") {
		flag = "--ids"
		ids, err = parseIDs(flag, p.ids)
	} else {
		ids, err = encodePrompt(m.Tokenizer, p.prompt, p.noBOS)
	}
	if err != nil {
		return nil, err
	}
	if err := checkSequence(flag, ids, m); err != nil {
		return nil, err
	}
	return ids, nil
}

// encodePrompt tokenizes text as llama.cpp tokenizes a prompt: with the
// special tokens (BOS, and EOS for the rare vocabularies that append one)
// that the vocabulary's add_bos_token and add_eos_token metadata ask for,
// unless noBOS is set.
func encodePrompt(tok *tokenizer.Tokenizer, text string, noBOS bool) ([]int32, error) {
	ids, err := tok.Encode(text, !noBOS)
	if err != nil {
		return nil, fmt.Errorf("tokenizing %q: %w", text, err)
	}
	return ids, nil
}

// parseIDs parses a list of token ids separated by commas or spaces, with
// optional surrounding brackets, as in "1,2,3" or "[1, 2, 3]". flag names
// the flag for error messages.
func parseIDs(flag, list string) ([]int32, error) {
	trimmed := strings.TrimSpace(list)
	trimmed = strings.TrimSuffix(strings.TrimPrefix(trimmed, "["), "]")
	if trimmed == "" {
		return nil, nil
	}
	// Commas separate ids; white space around them is allowed, and so is
	// white space alone between ids. An empty field ("1,,2", "1,2,") is a
	// typo, not an id to skip.
	var fields []string
	for _, part := range strings.Split(trimmed, ",") {
		words := strings.Fields(part)
		if len(words) == 0 {
			return nil, fmt.Errorf("invalid %s %q: it has an empty entry; give comma-separated integers such as 1,2,3", flag, list)
		}
		fields = append(fields, words...)
	}
	ids := make([]int32, 0, len(fields))
	for _, f := range fields {
		id, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid %s %q: %q is not a token id; give comma-separated integers such as 1,2,3", flag, list, f)
		}
		ids = append(ids, int32(id))
	}
	return ids, nil
}

// checkSequence checks that ids is a non-empty sequence of valid token ids
// that fits the model's context. what names the input for error messages.
func checkSequence(what string, ids []int32, m *transformer.Model) error {
	if len(ids) == 0 {
		return fmt.Errorf("%s has no tokens; give a non-empty prompt", what)
	}
	if len(ids) > m.NCtx {
		return fmt.Errorf("%s has %d tokens, more than the model's context length of %d; shorten it", what, len(ids), m.NCtx)
	}
	for i, id := range ids {
		if err := checkID(what, id, m); err != nil {
			return fmt.Errorf("%w (position %d)", err, i)
		}
	}
	return nil
}

// checkID checks that id is in the model's vocabulary.
func checkID(what string, id int32, m *transformer.Model) error {
	if id < 0 || int(id) >= m.VocabSize {
		return fmt.Errorf("%s: token id %d is out of range; the vocabulary has ids 0 to %d", what, id, m.VocabSize-1)
	}
	return nil
}

// pieces returns the text of each token of ids, for display.
func pieces(tok *tokenizer.Tokenizer, ids []int32) ([]string, error) {
	ps, err := tok.Pieces(ids)
	if err != nil {
		return nil, fmt.Errorf("converting token ids to text: %w", err)
	}
	return ps, nil
}

// showPiece returns a token's text in a form that stays readable in a
// table: spaces become "·" so that a leading space is visible, and control
// characters are escaped as in Go strings.
func showPiece(s string) string {
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	q = strings.ReplaceAll(q, `\"`, `"`)
	return strings.ReplaceAll(q, " ", "·")
}

// showTokens formats ids and their pieces as `" Mary"(5335) " and"(290)`,
// for error messages that show a tokenization.
func showTokens(tok *tokenizer.Tokenizer, ids []int32) string {
	ps, err := tok.Pieces(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		if err != nil {
			parts[i] = strconv.Itoa(int(id))
			continue
		}
		parts[i] = fmt.Sprintf("%q(%d)", ps[i], id)
	}
	return strings.Join(parts, " ")
}
