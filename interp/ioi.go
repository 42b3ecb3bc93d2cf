package interp

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/interp-go/interp/transformer/tokenizer"
)

// Indirect-object identification (IOI): in "When Mary and John went to the
// store, John gave a drink to", a model that tracks who is who continues
// with the indirect object " Mary" rather than the repeated subject " John".

// ioiTemplates hold the placeholders {A} and {B} for the two names in
// order of first mention, {S} for the second mention of the subject,
// {PLACE} and {OBJECT}. Each name placeholder follows a space, so a name
// is a whole word.
var ioiTemplates = []string{
	"When {A} and {B} went to the {PLACE}, {S} gave a {OBJECT} to",
	"When {A} and {B} got a {OBJECT} at the {PLACE}, {S} decided to give it to",
	"After {A} and {B} went to the {PLACE}, {S} gave a {OBJECT} to",
	"While {A} and {B} were working at the {PLACE}, {S} gave a {OBJECT} to",
	"Then, {A} and {B} went to the {PLACE}. {S} gave a {OBJECT} to",
	"Afterwards, {A} and {B} went to the {PLACE}. {S} handed the {OBJECT} to",
	"When {A} and {B} arrived at the {PLACE}, {S} passed the {OBJECT} to",
	"Friends {A} and {B} found a {OBJECT} at the {PLACE}. {S} gave it to",
	"Later, {A} and {B} were at the {PLACE}, and {S} threw the {OBJECT} to",
	"Today {A} and {B} had a long day at the {PLACE}. {S} brought a {OBJECT} to",
}

// ioiNames are common English first names. IOIDataset keeps those that
// are one token, with their leading space, in the model's vocabulary.
var ioiNames = []string{
	"Mary", "John", "Tom", "James", "David", "Michael", "Robert", "Daniel",
	"Peter", "Mark", "George", "Henry", "Frank", "Kevin", "Adam", "Paul",
	"Sarah", "Linda", "Susan", "Anna", "Emma", "Kate", "Laura", "Lisa",
	"Alice", "Rachel", "Jessica", "Karen", "Amy", "Steve",
}

var ioiPlaces = []string{
	"store", "park", "school", "office", "hospital",
	"restaurant", "station", "library", "beach", "garden",
}

// ioiObjects start with a consonant, because the templates write "a
// {OBJECT}".
var ioiObjects = []string{
	"drink", "book", "pen", "bag", "key",
	"ring", "letter", "gift", "phone", "ball",
}

// minIOINames is the smallest usable name list, because with fewer names
// the dataset would repeat a handful of pairs.
const minIOINames = 4

// ioiContext precedes a name when IOIDataset looks up the name's token, so
// that SentencePiece vocabularies, which mark a leading space only inside
// a text, tokenize it as they do inside a prompt.
const ioiContext = "to"

// MaxIOITasks bounds the tasks of one IOIDataset call. All of them are
// built up front, so a mistyped count fails instead of exhausting memory.
// It is a sanity limit, not a measured one.
const MaxIOITasks = 100_000

// IOIDataset generates n clean/corrupted IOI tasks, deterministic for a
// seed (PCG from math/rand/v2). Each task picks a template, two different
// names, a place and an object, and alternates the name orders ABB and
// BAB. The clean prompt repeats the subject ("When Mary and John went to
// the store, John gave a drink to"); the corrupted prompt replaces that
// second mention by the indirect object ("…, Mary gave a drink to"), so
// exactly one token differs. Answer is the indirect object and Wrong the
// subject, so the logit difference is positive on a clean prompt that the
// model gets right and negative on its corrupted prompt.
//
// Only names that the vocabulary encodes as one token after a space take
// part, and IOIDataset returns an error when fewer than 4 do, as in small
// byte-level vocabularies. GPT-2's and Llama-2's vocabularies keep all 30
// names. Prompts start with BOS when tok.AddBOS reports true, as llama.cpp
// encodes them, and never end with EOS. IOIDataset also returns an error if
// a pair does not tokenize to equal lengths differing in that one position.
func IOIDataset(tok *tokenizer.Tokenizer, n int, seed uint64) ([]Task, error) {
	if n < 1 || n > MaxIOITasks {
		return nil, fmt.Errorf("interp: IOI dataset of %d tasks: n must be 1 to %d", n, MaxIOITasks)
	}
	names, ids, err := ioiNameTokens(tok)
	if err != nil {
		return nil, err
	}

	rng := rand.New(rand.NewPCG(seed, 0))
	tasks := make([]Task, n)
	for i := range tasks {
		template := ioiTemplates[rng.IntN(len(ioiTemplates))]
		indirect := rng.IntN(len(names))
		subject := rng.IntN(len(names) - 1)
		if subject >= indirect {
			subject++
		}
		place := ioiPlaces[rng.IntN(len(ioiPlaces))]
		object := ioiObjects[rng.IntN(len(ioiObjects))]

		first, second := names[indirect], names[subject] // ABB: the subject is B
		if i%2 == 1 {
			first, second = second, first // BAB
		}
		fill := func(s2 string) string {
			return strings.NewReplacer(
				"{A}", first, "{B}", second, "{S}", s2,
				"{PLACE}", place, "{OBJECT}", object,
			).Replace(template)
		}
		clean, corrupt := fill(names[subject]), fill(names[indirect])
		t := Task{Answer: ids[indirect], Wrong: ids[subject]}
		if t.Clean, err = encodeIOI(tok, clean); err != nil {
			return nil, err
		}
		if t.Corrupt, err = encodeIOI(tok, corrupt); err != nil {
			return nil, err
		}
		if err := checkIOIPair(t, clean, corrupt); err != nil {
			return nil, err
		}
		tasks[i] = t
	}
	return tasks, nil
}

// ioiNameTokens returns the names that are a single token after a space
// and those tokens.
func ioiNameTokens(tok *tokenizer.Tokenizer) ([]string, []int32, error) {
	head, err := tok.Encode(ioiContext, false)
	if err != nil {
		return nil, nil, fmt.Errorf("interp: IOI dataset: %w", err)
	}
	var names []string
	var ids []int32
	for _, name := range ioiNames {
		whole, err := tok.Encode(ioiContext+" "+name, false)
		if err != nil {
			return nil, nil, fmt.Errorf("interp: IOI dataset: name %q: %w", name, err)
		}
		if len(whole) == len(head)+1 && slices.Equal(whole[:len(head)], head) {
			names = append(names, name)
			ids = append(ids, whole[len(head)])
		}
	}
	if len(names) < minIOINames {
		return nil, nil, fmt.Errorf("interp: IOI dataset: only %d of %d first names (%s, …) are single tokens in this vocabulary, and at least %d must be: the vocabulary is not GPT-2-like; use a model whose vocabulary has whole-word name tokens, as GPT-2's and Llama-2's do",
			len(names), len(ioiNames), strings.Join(ioiNames[:3], ", "), minIOINames)
	}
	return names, ids, nil
}

// encodeIOI tokenizes a prompt without EOS, so that the last position is
// the prompt's last word, and with BOS where the vocabulary adds one.
func encodeIOI(tok *tokenizer.Tokenizer, text string) ([]int32, error) {
	ids, err := tok.Encode(text, false)
	if err != nil {
		return nil, fmt.Errorf("interp: IOI dataset: prompt %q: %w", text, err)
	}
	if tok.AddBOS() && tok.BOS() >= 0 {
		ids = slices.Insert(ids, 0, tok.BOS())
	}
	return ids, nil
}

// checkIOIPair checks that the two prompts have equal lengths and differ
// in exactly one position, which holds the subject in the clean prompt and
// the indirect object in the corrupted one.
func checkIOIPair(t Task, clean, corrupt string) error {
	if len(t.Clean) != len(t.Corrupt) {
		return fmt.Errorf("interp: IOI dataset: %q is %d tokens but %q is %d; patching needs equal lengths",
			clean, len(t.Clean), corrupt, len(t.Corrupt))
	}
	var differ []int
	for i := range t.Clean {
		if t.Clean[i] != t.Corrupt[i] {
			differ = append(differ, i)
		}
	}
	if len(differ) != 1 || t.Clean[differ[0]] != t.Wrong || t.Corrupt[differ[0]] != t.Answer {
		return fmt.Errorf("interp: IOI dataset: %q and %q differ at positions %v, but they must differ only at the second mention of the subject, by one name token",
			clean, corrupt, differ)
	}
	return nil
}
