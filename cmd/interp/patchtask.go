package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/interp-go/interp/interp"
	"github.com/interp-go/interp/transformer"
	"github.com/interp-go/interp/transformer/tokenizer"
)

// taskSpec is one patching task as the user gave it: each of the prompts
// and answer tokens as text or as token ids, the ids taking precedence. It
// is also the form of a --dataset line and of the bundled demo task.
type taskSpec struct {
	Clean      *string `json:"clean"`
	Corrupt    *string `json:"corrupt"`
	Answer     *string `json:"answer"`
	Wrong      *string `json:"wrong"`
	CleanIDs   []int32 `json:"clean_ids"`
	CorruptIDs []int32 `json:"corrupt_ids"`
	AnswerID   *int32  `json:"answer_id"`
	WrongID    *int32  `json:"wrong_id"`
}

// textOnly returns the spec without its ids, for running the bundled demo
// task on a model whose vocabulary may differ from the one the ids are for.
func (s taskSpec) textOnly() taskSpec {
	return taskSpec{Clean: s.Clean, Corrupt: s.Corrupt, Answer: s.Answer, Wrong: s.Wrong}
}

// empty reports whether no field of the spec is set.
func (s taskSpec) empty() bool {
	return s.Clean == nil && s.Corrupt == nil && s.Answer == nil && s.Wrong == nil &&
		s.CleanIDs == nil && s.CorruptIDs == nil && s.AnswerID == nil && s.WrongID == nil
}

// taskBuilder turns task specs into checked interp.Tasks for one model.
type taskBuilder struct {
	m     *transformer.Model
	noBOS bool // do not add BOS to text prompts
	// jsonKeys makes messages about a missing field name the JSON keys of
	// a dataset line instead of the command's flags.
	jsonKeys bool
}

// missing returns the error for a task field given in neither form. key
// is the field's text name: clean, corrupt, answer or wrong.
func (b taskBuilder) missing(what, key string) error {
	ids := key + "-ids"
	if key == "answer" || key == "wrong" {
		ids = key + "-id"
	}
	if b.jsonKeys {
		return fmt.Errorf("missing the %s: give %q or %q", what, key, strings.ReplaceAll(ids, "-", "_"))
	}
	return fmt.Errorf("missing the %s: give --%s or --%s", what, key, ids)
}

// build tokenizes and checks one task. Text prompts get the special tokens
// that the vocabulary's metadata requests, unless noBOS is set. Answer
// texts never get them and must be exactly one token. Errors say which field is wrong and show its
// tokenization.
func (b taskBuilder) build(s taskSpec) (interp.Task, error) {
	var t interp.Task
	var err error
	if t.Clean, err = b.prompt("clean prompt", "clean", s.Clean, s.CleanIDs); err != nil {
		return t, err
	}
	if t.Corrupt, err = b.prompt("corrupted prompt", "corrupt", s.Corrupt, s.CorruptIDs); err != nil {
		return t, err
	}
	// Only a clean prompt given as text is a context for answer texts.
	context := s.Clean
	if s.CleanIDs != nil {
		context = nil
	}
	if t.Answer, err = b.token("answer", "answer", s.Answer, s.AnswerID, context); err != nil {
		return t, err
	}
	if t.Wrong, err = b.token("wrong answer", "wrong", s.Wrong, s.WrongID, context); err != nil {
		return t, err
	}

	tok := b.m.Tokenizer
	if len(t.Clean) != len(t.Corrupt) {
		return t, fmt.Errorf("the clean prompt has %d tokens and the corrupted prompt %d, but patching needs equal lengths; change the corrupted prompt so that its tokens line up with the clean one's:\n  clean:     %s\n  corrupted: %s",
			len(t.Clean), len(t.Corrupt), showTokens(tok, t.Clean), showTokens(tok, t.Corrupt))
	}
	if t.Answer == t.Wrong {
		return t, fmt.Errorf("the answer and the wrong answer are the same token %s, so their logit difference is always 0; give two different tokens",
			showTokens(tok, []int32{t.Answer}))
	}
	for _, p := range []struct {
		what string
		ids  []int32
	}{{"the clean prompt", t.Clean}, {"the corrupted prompt", t.Corrupt}} {
		if err := checkSequence(p.what, p.ids, b.m); err != nil {
			return t, err
		}
	}
	return t, nil
}

// prompt returns a prompt's ids: ids when given, otherwise text tokenized.
func (b taskBuilder) prompt(what, key string, text *string, ids []int32) ([]int32, error) {
	switch {
	case ids != nil:
		return ids, nil
	case text != nil:
		return encodePrompt(b.m.Tokenizer, *text, b.noBOS)
	}
	return nil, b.missing(what, key)
}

// token returns an answer token: id when given, otherwise text, which must
// be a single token. When the clean prompt is text, the answer is first
// tokenized as the continuation of that prompt, because SentencePiece
// vocabularies mark a word's leading space only in context (" Mary" alone
// is "▁" "▁Mary", after "to" it is "▁Mary").
func (b taskBuilder) token(what, key string, text *string, id *int32, context *string) (int32, error) {
	switch {
	case id != nil:
		return *id, checkID("the "+what, *id, b.m)
	case text == nil:
		return 0, b.missing(what, key)
	}
	tok := b.m.Tokenizer
	if context != nil {
		if next, ok := b.nextToken(*context, *text); ok {
			return next, nil
		}
	}
	ids, err := tok.Encode(*text, false)
	if err != nil {
		return 0, fmt.Errorf("tokenizing the %s %q: %w", what, *text, err)
	}
	if len(ids) != 1 {
		return 0, fmt.Errorf("the %s %q is %d tokens (%s), but it must be a single token; a word usually needs its leading space, as in \" Paris\", or give the id",
			what, *text, len(ids), showTokens(tok, ids))
	}
	return ids[0], nil
}

// nextToken returns the single token that text adds when appended to
// prompt, if it adds exactly one and leaves the prompt's tokens unchanged.
func (b taskBuilder) nextToken(prompt, text string) (int32, bool) {
	tok := b.m.Tokenizer
	head, err := tok.Encode(prompt, false)
	if err != nil {
		return 0, false
	}
	whole, err := tok.Encode(prompt+text, false)
	if err != nil || len(whole) != len(head)+1 || !slices.Equal(whole[:len(head)], head) {
		return 0, false
	}
	return whole[len(head)], true
}

// readDataset reads a JSON Lines file of task specs, one object a line,
// skipping blank lines. It also returns each spec's line number.
func readDataset(path string) ([]taskSpec, []int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading dataset: %w", err)
	}
	var specs []taskSpec
	var lines []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var s taskSpec
		if err := json.Unmarshal(line, &s); err != nil {
			return nil, nil, fmt.Errorf("dataset %s line %d: %w; each line must be a JSON object with clean, corrupt, answer and wrong", path, n, err)
		}
		specs = append(specs, s)
		lines = append(lines, n)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading dataset %s: %w", path, err)
	}
	if len(specs) == 0 {
		return nil, nil, fmt.Errorf("dataset %s has no tasks", path)
	}
	return specs, lines, nil
}

// demoTask returns the bundled demo task.
func demoTask(embedded []byte) (taskSpec, error) {
	var s taskSpec
	if err := json.Unmarshal(embedded, &s); err != nil {
		return s, fmt.Errorf("bundled demo task: %w", err)
	}
	return s, nil
}

// taskSource records where the task specs came from, for messages and the
// table's header.
type taskSource struct {
	demo    bool   // the bundled demo task
	dataset string // the --dataset file, or ""
	lines   []int  // the dataset line of each spec
}

// wrap adds the origin of spec i to an error about it.
func (src taskSource) wrap(i int, err error) error {
	switch {
	case src.dataset != "":
		return fmt.Errorf("dataset %s line %d: %w", src.dataset, src.lines[i], err)
	case src.demo:
		return fmt.Errorf("bundled demo task: %w; give a task for this model with --clean, --corrupt, --answer and --wrong", err)
	}
	return err
}

// describe returns the lines of the table header that say what was
// patched.
func (src taskSource) describe(tok *tokenizer.Tokenizer, tasks []interp.Task) ([]string, error) {
	if src.dataset != "" {
		return []string{
			fmt.Sprintf("dataset   %s: %d tasks, values and logit differences averaged", src.dataset, len(tasks)),
			"          positions are aligned at the last token; column labels show the longest task's tokens",
		}, nil
	}
	t := tasks[0]
	clean, err := tok.Decode(t.Clean)
	if err != nil {
		return nil, err
	}
	corrupt, err := tok.Decode(t.Corrupt)
	if err != nil {
		return nil, err
	}
	task := "task"
	if src.demo {
		task = "demo task"
	}
	return []string{
		fmt.Sprintf("%-9s clean %q, corrupted %q", task, clean, corrupt),
		fmt.Sprintf("metric    logit[%s] − logit[%s] at the last position", showTokens(tok, []int32{t.Answer}), showTokens(tok, []int32{t.Wrong})),
	}, nil
}
