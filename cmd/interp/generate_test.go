package main

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func itoa(id int32) string { return strconv.Itoa(int(id)) }

func TestGenerateGreedyFollowsLogits(t *testing.T) {
	var gen generateResult
	mustRunJSON(t, &gen, "generate", "--prompt", "When Mary and John", "--max-tokens", "4")
	if len(gen.IDs) != 4 {
		t.Fatalf("generated %d tokens, want 4", len(gen.IDs))
	}
	// Each greedy token is the argmax of the logits after the prompt and
	// the tokens before it.
	ids := []int32{2215, 5335, 290, 1757}
	for i, id := range gen.IDs {
		var res logitsResult
		mustRunJSON(t, &res, "logits", "--ids", joinIDs(ids))
		if best := topTokens(res.Logits[0], 1)[0]; best != id {
			t.Errorf("token %d = %d, want the argmax %d", i, id, best)
		}
		ids = append(ids, id)
	}
}

func TestGenerateSeedIsDeterministic(t *testing.T) {
	args := []string{"generate", "--prompt", "Once upon a time", "--max-tokens", "8", "--temperature", "1.5", "--top-k", "50", "--seed", "5"}
	var first, second, other generateResult
	mustRunJSON(t, &first, args...)
	mustRunJSON(t, &second, args...)
	if !slices.Equal(first.IDs, second.IDs) || first.Text != second.Text {
		t.Errorf("same seed gave %v %q and %v %q", first.IDs, first.Text, second.IDs, second.Text)
	}
	mustRunJSON(t, &other, append(args[:len(args)-1], "6")...)
	if slices.Equal(first.IDs, other.IDs) {
		t.Errorf("seeds 5 and 6 gave the same tokens %v", first.IDs)
	}
}

// TestGenerateRejectsSamplingWhenGreedy checks that sampling flags are
// refused at temperature 0, where they would do nothing.
func TestGenerateRejectsSamplingWhenGreedy(t *testing.T) {
	for _, flag := range []string{"--top-k", "--top-p", "--seed"} {
		value := "5"
		if flag == "--top-p" {
			value = "0.5"
		}
		_, _, err := runCLI(t, "generate", "--prompt", "Once", flag, value)
		if err == nil || !strings.Contains(err.Error(), flag+" does not apply at --temperature 0") {
			t.Errorf("generate %s %s: error %v, want one saying it does not apply", flag, value, err)
		}
	}
	mustRun(t, "generate", "--prompt", "Once", "--max-tokens", "2", "--temperature", "0.5", "--seed", "5")
}

func TestGenerateRejectsNonFiniteTemperature(t *testing.T) {
	for _, value := range []string{"NaN", "Inf", "-Inf", "-1"} {
		_, _, err := runCLI(t, "generate", "--prompt", "Once", "--temperature", value)
		if err == nil {
			t.Errorf("generate --temperature %s succeeded, want an error", value)
			continue
		}
		if !strings.HasPrefix(err.Error(), "invalid --temperature") {
			t.Errorf("generate --temperature %s: error %q, want one naming the flag", value, err)
		}
	}
}

func TestGenerateTextIsContinuationOnly(t *testing.T) {
	requireFile(t, llamaTiny)
	var gen generateResult
	mustRunJSON(t, &gen, "generate", "--model", llamaTiny, "--prompt", "Once upon", "--max-tokens", "3")
	var tok tokenizeResult
	mustRunJSON(t, &tok, "tokenize", "--model", llamaTiny, "Once upon")
	full := append(slices.Clone(tok.IDs), gen.IDs...)

	// The prompt's text plus the continuation is the whole sequence's text.
	whole := decodeWith(t, llamaTiny, full)
	head := decodeWith(t, llamaTiny, tok.IDs)
	if head+gen.Text != whole {
		t.Errorf("prompt text %q + continuation %q != decoded sequence %q", head, gen.Text, whole)
	}
}

func decodeWith(t *testing.T, model string, ids []int32) string {
	t.Helper()
	a := &app{modelPath: model, log: slog.New(slog.DiscardHandler)}
	m, release, err := a.openModel()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	s, err := m.Tokenizer.Decode(ids)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func joinIDs(ids []int32) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += itoa(id)
	}
	return s
}
