package interp

import (
	"slices"
	"strings"
	"testing"
)

func TestIOIDatasetDeterministic(t *testing.T) {
	tok := loadFixture(t, "gpt2-tiny.gguf").Tokenizer
	a, err := IOIDataset(tok, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := IOIDataset(tok, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(a, b, equalTasks) {
		t.Error("two calls with seed 7 gave different tasks")
	}

	other, err := IOIDataset(tok, 20, 8)
	if err != nil {
		t.Fatal(err)
	}
	if slices.EqualFunc(a, other, equalTasks) {
		t.Error("seeds 7 and 8 gave the same tasks")
	}

	// A shorter dataset is a prefix of a longer one with the same seed.
	short, err := IOIDataset(tok, 5, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(short, a[:5], equalTasks) {
		t.Error("5 tasks with seed 7 are not the first 5 of 20")
	}
}

func equalTasks(x, y Task) bool {
	return slices.Equal(x.Clean, y.Clean) && slices.Equal(x.Corrupt, y.Corrupt) &&
		x.Answer == y.Answer && x.Wrong == y.Wrong
}

// TestIOIDatasetPairs checks every pair on GPT-2's vocabulary: equal
// lengths, single-token names, and one differing position that holds the
// subject in the clean prompt and the indirect object in the corrupted one.
func TestIOIDatasetPairs(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	tasks, err := IOIDataset(m.Tokenizer, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 200 {
		t.Fatalf("got %d tasks, want 200", len(tasks))
	}
	orders := map[string]int{}
	for n, task := range tasks {
		if err := task.Validate(m); err != nil {
			t.Errorf("task %d: %v", n, err)
			continue
		}
		if task.Answer == task.Wrong {
			t.Errorf("task %d: answer and wrong are both %d", n, task.Answer)
		}
		var differ []int
		for i := range task.Clean {
			if task.Clean[i] != task.Corrupt[i] {
				differ = append(differ, i)
			}
		}
		if len(differ) != 1 {
			t.Errorf("task %d: prompts differ at positions %v, want exactly one", n, differ)
			continue
		}
		at := differ[0]
		if task.Clean[at] != task.Wrong {
			t.Errorf("task %d: clean token %d at position %d, want the subject %d", n, task.Clean[at], at, task.Wrong)
		}
		if task.Corrupt[at] != task.Answer {
			t.Errorf("task %d: corrupted token %d at position %d, want the indirect object %d", n, task.Corrupt[at], at, task.Answer)
		}

		// Both names occur before the differing position. The earlier of
		// them is A: the subject (BAB) or the indirect object (ABB).
		first := slices.IndexFunc(task.Clean[:at], func(id int32) bool { return id == task.Answer || id == task.Wrong })
		if first < 0 || !slices.Contains(task.Clean[:at], task.Answer) || !slices.Contains(task.Clean[:at], task.Wrong) {
			t.Errorf("task %d: the names %d and %d do not both occur before position %d", n, task.Answer, task.Wrong, at)
			continue
		}
		if task.Clean[first] == task.Wrong {
			orders["BAB"]++
		} else {
			orders["ABB"]++
		}
	}
	if orders["ABB"] != 100 || orders["BAB"] != 100 {
		t.Errorf("name orders %v, want 100 ABB and 100 BAB", orders)
	}
}

func TestIOIDatasetAnswersAreNameTokens(t *testing.T) {
	tok := loadFixture(t, "gpt2-tiny.gguf").Tokenizer
	tasks, err := IOIDataset(tok, 50, 3)
	if err != nil {
		t.Fatal(err)
	}
	for n, task := range tasks {
		for _, id := range []int32{task.Answer, task.Wrong} {
			text, err := tok.Decode([]int32{id})
			if err != nil {
				t.Fatalf("task %d: %v", n, err)
			}
			name := strings.TrimPrefix(text, " ")
			if name == text || !slices.Contains(ioiNames, name) {
				t.Errorf("task %d: answer token %d is %q, want a listed name with its leading space", n, id, text)
			}
		}
	}
}

func TestIOIDatasetRejectsByteVocabulary(t *testing.T) {
	// qwen2-tiny has a synthetic vocabulary of 512 byte-level tokens, so
	// no name is a single token.
	tok := loadFixture(t, "qwen2-tiny.gguf").Tokenizer
	_, err := IOIDataset(tok, 10, 1)
	if err == nil {
		t.Fatal("IOIDataset accepted a vocabulary without whole-word names")
	}
	if !strings.Contains(err.Error(), "not GPT-2-like") {
		t.Errorf("error %q does not name the vocabulary as the cause", err)
	}
}

func TestIOIDatasetRejectsZeroTasks(t *testing.T) {
	tok := loadFixture(t, "gpt2-tiny.gguf").Tokenizer
	if _, err := IOIDataset(tok, 0, 1); err == nil {
		t.Error("IOIDataset accepted n = 0")
	}
	if _, err := IOIDataset(tok, MaxIOITasks+1, 1); err == nil {
		t.Errorf("IOIDataset accepted n = %d, above MaxIOITasks", MaxIOITasks+1)
	}
}

// TestIOINamesOnGPT2 checks that GPT-2's vocabulary keeps every listed
// name, so the generator's name list is not silently shorter there.
func TestIOINamesOnGPT2(t *testing.T) {
	tok := loadFixture(t, "gpt2-tiny.gguf").Tokenizer
	names, ids, err := ioiNameTokens(tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(ioiNames) {
		t.Errorf("kept %d of %d names: %v", len(names), len(ioiNames), names)
	}
	if ids[0] != 5335 {
		t.Errorf("token of %q = %d, want 5335 (\" Mary\" in GPT-2)", names[0], ids[0])
	}
}

// TestIOIDatasetOnSentencePiece checks the BOS path on Llama-2's
// vocabulary, whose tokenizer adds BOS and marks a word's leading space
// with "▁".
func TestIOIDatasetOnSentencePiece(t *testing.T) {
	m := loadFixture(t, "llama-tiny.gguf")
	tasks, err := IOIDataset(m.Tokenizer, 50, 1)
	if err != nil {
		t.Fatal(err)
	}
	for n, task := range tasks {
		if err := task.Validate(m); err != nil {
			t.Errorf("task %d: %v", n, err)
		}
		if task.Clean[0] != m.Tokenizer.BOS() || task.Corrupt[0] != m.Tokenizer.BOS() {
			t.Errorf("task %d does not start with BOS %d: clean %v, corrupted %v", n, m.Tokenizer.BOS(), task.Clean[:2], task.Corrupt[:2])
		}
	}
}
