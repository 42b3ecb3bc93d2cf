package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	bundle "github.com/interp-go/interp"
	"github.com/interp-go/interp/interp"
	"github.com/interp-go/interp/transformer"
	"github.com/interp-go/interp/transformer/tokenizer"
)

// ioiPrefix starts a --dataset value that generates IOI tasks instead of
// naming a file, as in ioi:20.
const ioiPrefix = "ioi:"

// taskHelp describes the task flags in the long help of patch and
// attribute.
const taskHelp = `Give the task as text (--clean, --corrupt, --answer, --wrong), as token ids
(--clean-ids, --corrupt-ids, --answer-id, --wrong-id; ids win over text), or
as a JSON Lines --dataset with one {"clean", "corrupt", "answer", "wrong"}
object a line (optionally "clean_ids", "corrupt_ids", "answer_id",
"wrong_id", which win over the text); a dataset's values are averaged over
its tasks, aligned at the last position. --dataset ioi:N generates N
indirect-object-identification tasks from 10 templates, 30 first names, 10
places and 10 objects, seeded by --seed, in which the corrupted prompt
names the indirect object where the clean one repeats the subject; the
vocabulary must encode the names as single tokens, as GPT-2's does. Without
any of these, the command runs the bundled demo task (an
indirect-object-identification prompt pair).

Clean and corrupted prompts must have the same number of tokens, and the
answers must be single tokens. Text prompts get the BOS token where llama.cpp
adds it for the vocabulary, unless --no-bos; answers never do.`

// taskFlags are the flags that give patch and attribute their task: a
// clean/corrupted pair as text or ids, a --dataset file, or a generated
// IOI dataset.
type taskFlags struct {
	clean, corrupt, answer, wrong string
	cleanIDs, corruptIDs          string
	answerID, wrongID             int32
	dataset                       string
	seed                          uint64
	noBOS                         bool
}

func (f *taskFlags) register(cmd *cobra.Command) {
	flags := cmd.Flags()
	flags.StringVar(&f.clean, "clean", "", "clean prompt `text`")
	flags.StringVar(&f.corrupt, "corrupt", "", "corrupted prompt `text`, of the same token length as the clean one")
	flags.StringVar(&f.answer, "answer", "", "correct answer `token` as text, such as \" Mary\" (with its leading space)")
	flags.StringVar(&f.wrong, "wrong", "", "wrong answer `token` as text, the one the corrupted prompt favours")
	flags.StringVar(&f.cleanIDs, "clean-ids", "", "clean prompt as comma-separated token `ids`, used as given")
	flags.StringVar(&f.corruptIDs, "corrupt-ids", "", "corrupted prompt as comma-separated token `ids`")
	flags.Int32Var(&f.answerID, "answer-id", 0, "correct answer token `id`")
	flags.Int32Var(&f.wrongID, "wrong-id", 0, "wrong answer token `id`")
	flags.StringVar(&f.dataset, "dataset", "", "JSON Lines `file` of tasks to average over, or ioi:N for N generated indirect-object-identification tasks")
	flags.Uint64Var(&f.seed, "seed", 0, "random `seed` of --dataset ioi:N")
	flags.BoolVar(&f.noBOS, "no-bos", false, "do not add the BOS token to text prompts")
}

// specs collects the task specs from the flags, the dataset file or the
// bundled demo task, and returns their source. For --dataset ioi:N it
// returns no specs and a source that gives the number of tasks to generate.
func (f *taskFlags) specs(cmd *cobra.Command) ([]taskSpec, taskSource, error) {
	changed := cmd.Flags().Changed
	var s taskSpec
	if changed("clean") {
		s.Clean = &f.clean
	}
	if changed("corrupt") {
		s.Corrupt = &f.corrupt
	}
	if changed("answer") {
		s.Answer = &f.answer
	}
	if changed("wrong") {
		s.Wrong = &f.wrong
	}
	var err error
	if changed("clean-ids") {
		if s.CleanIDs, err = parseIDs("--clean-ids", f.cleanIDs); err != nil {
			return nil, taskSource{}, err
		}
	}
	if changed("corrupt-ids") {
		if s.CorruptIDs, err = parseIDs("--corrupt-ids", f.corruptIDs); err != nil {
			return nil, taskSource{}, err
		}
	}
	if changed("answer-id") {
		s.AnswerID = &f.answerID
	}
	if changed("wrong-id") {
		s.WrongID = &f.wrongID
	}

	ioiCount, isIOI, err := parseIOIDataset(f.dataset)
	if err != nil {
		return nil, taskSource{}, err
	}
	switch {
	case changed("seed") && !isIOI:
		return nil, taskSource{}, fmt.Errorf("--seed applies only to --dataset %sN", ioiPrefix)
	case f.dataset != "" && !s.empty():
		return nil, taskSource{}, fmt.Errorf("--dataset cannot be combined with --clean, --corrupt, --answer, --wrong or their -id forms")
	case isIOI && f.noBOS:
		return nil, taskSource{}, fmt.Errorf("--no-bos does not apply to --dataset %s, whose prompts get BOS where the vocabulary asks for it", f.dataset)
	case isIOI:
		return nil, taskSource{dataset: f.dataset, ioi: ioiCount, seed: f.seed}, nil
	case f.dataset != "":
		specs, lines, err := readDataset(f.dataset)
		return specs, taskSource{dataset: f.dataset, lines: lines}, err
	case !s.empty():
		return []taskSpec{s}, taskSource{}, nil
	}
	demo, err := demoTask(bundle.DemoTask)
	return []taskSpec{demo}, taskSource{demo: true}, err
}

// parseIOIDataset parses a --dataset value of the form ioi:N. It returns
// isIOI false for any other value, which names a file.
func parseIOIDataset(dataset string) (n int, isIOI bool, err error) {
	count, ok := strings.CutPrefix(dataset, ioiPrefix)
	if !ok {
		return 0, false, nil
	}
	n, err = strconv.Atoi(count)
	if err != nil || n < 1 {
		return 0, true, fmt.Errorf("invalid --dataset %q: give the number of IOI tasks to generate, such as %s20 (a file whose name starts with %q needs a folder, as in ./%s)",
			dataset, ioiPrefix, ioiPrefix, dataset)
	}
	if n > interp.MaxIOITasks {
		return 0, true, fmt.Errorf("invalid --dataset %q: give at most %d IOI tasks", dataset, interp.MaxIOITasks)
	}
	return n, true, nil
}

// build turns the specs into checked tasks for model m, or generates the
// IOI dataset that src requests. bundled reports whether m is the bundled
// model, whose vocabulary the demo task's ids are for.
func (f *taskFlags) build(m *transformer.Model, specs []taskSpec, src taskSource, bundled bool) ([]interp.Task, error) {
	if src.ioi > 0 {
		tasks, err := interp.IOIDataset(m.Tokenizer, src.ioi, src.seed)
		if err != nil {
			return nil, fmt.Errorf("--dataset %s: %w", src.dataset, err)
		}
		for i, t := range tasks {
			if err := t.Validate(m); err != nil {
				return nil, fmt.Errorf("--dataset %s task %d: %w", src.dataset, i+1, err)
			}
		}
		return tasks, nil
	}

	if src.demo && !bundled {
		// The demo's ids are GPT-2 ids, so another model tokenizes the text.
		specs[0] = specs[0].textOnly()
	}
	b := taskBuilder{m: m, noBOS: f.noBOS, jsonKeys: src.dataset != ""}
	tasks := make([]interp.Task, len(specs))
	for i, s := range specs {
		var err error
		if tasks[i], err = b.build(s); err != nil {
			return nil, src.wrap(i, err)
		}
	}
	return tasks, nil
}

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
			return nil, nil, fmt.Errorf("dataset %s line %d: %w; each line must be a JSON object with clean, corrupt, answer and wrong", path, n, jsonError(err))
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
	dataset string // the --dataset file or ioi:N, or ""
	lines   []int  // the dataset line of each spec
	ioi     int    // the number of IOI tasks to generate, or 0
	seed    uint64 // the seed of the IOI tasks
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
	if src.ioi > 0 {
		return []string{
			fmt.Sprintf("dataset   %s: %d generated IOI tasks (seed %d), values and logit differences averaged", src.dataset, len(tasks), src.seed),
			"          positions are aligned at the last token; column labels show the longest task's tokens",
		}, nil
	}
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
