package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/interp-go/interp/interp"
	"github.com/interp-go/interp/transformer"
)

// readExamples expands --positive or --negative values: a value that starts
// with @ names a file with one example per line (blank lines skipped), any
// other value is one example.
func readExamples(flag string, values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		path, isFile := strings.CutPrefix(v, "@")
		if !isFile {
			out = append(out, v)
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s examples: %w", flag, err)
		}
		n := len(out)
		for line := range strings.SplitSeq(string(data), "\n") {
			line = strings.TrimSuffix(line, "\r")
			if strings.TrimSpace(line) != "" {
				out = append(out, line)
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("%s file %s has no examples; write one example a line", flag, path)
		}
	}
	return out, nil
}

// contrastPair is one line of a --pairs file, as AUSteer's data gives
// them: the examples are prompt+positive and prompt+negative.
type contrastPair struct {
	Prompt   string  `json:"prompt"`
	Positive *string `json:"positive"`
	Negative *string `json:"negative"`
}

// readPairs reads a --pairs JSON Lines file into positive and negative
// example texts.
func readPairs(path string) (pos, neg []string, err error) {
	err = readJSONLines(path, "--pairs", func(line int, dec *json.Decoder) error {
		var p contrastPair
		if err := dec.Decode(&p); err != nil {
			return jsonError(err)
		}
		if p.Positive == nil || p.Negative == nil {
			return fmt.Errorf(`missing "positive" or "negative"; each line is {"prompt": ..., "positive": ..., "negative": ...}`)
		}
		pos = append(pos, p.Prompt+*p.Positive)
		neg = append(neg, p.Prompt+*p.Negative)
		return nil
	})
	return pos, neg, err
}

// readJSONLines calls decode for every non-blank line of a JSON Lines file,
// with a decoder that rejects unknown fields. Errors name the flag, the
// file and the line.
func readJSONLines(path, flag string, decode func(line int, dec *json.Decoder) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading %s file: %w", flag, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line, count := 0, 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := decode(line, dec); err != nil {
			return fmt.Errorf("%s file %s, line %d: %w", flag, path, line, err)
		}
		count++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s file %s: %w", flag, path, err)
	}
	if count == 0 {
		return fmt.Errorf("%s file %s has no lines", flag, path)
	}
	return nil
}

// encodeExamples tokenizes example texts as prompts (with BOS where the
// vocabulary asks for it, unless noBOS) and checks them against the model.
// label names the examples in errors, such as "positive".
func encodeExamples(m *transformer.Model, label string, texts []string, noBOS bool) ([][]int32, error) {
	out := make([][]int32, len(texts))
	for i, text := range texts {
		ids, err := encodePrompt(m.Tokenizer, text, noBOS)
		if err != nil {
			return nil, err
		}
		if err := checkSequence(fmt.Sprintf("%s example %d", label, i+1), ids, m); err != nil {
			return nil, err
		}
		out[i] = ids
	}
	return out, nil
}

// choiceLine is one line of an --eval file.
type choiceLine struct {
	Prompt  *string  `json:"prompt"`
	Options []string `json:"options"`
	Answer  *int     `json:"answer"`
}

// readChoiceItems reads and tokenizes an --eval JSON Lines file.
func readChoiceItems(m *transformer.Model, path string, noBOS bool) ([]interp.ChoiceItem, error) {
	var items []interp.ChoiceItem
	err := readJSONLines(path, "--eval", func(line int, dec *json.Decoder) error {
		var c choiceLine
		if err := dec.Decode(&c); err != nil {
			return jsonError(err)
		}
		if c.Prompt == nil || c.Answer == nil || len(c.Options) < 2 {
			return fmt.Errorf(`each line needs "prompt", at least 2 "options" and "answer" (the index of the correct option)`)
		}
		if *c.Answer < 0 || *c.Answer >= len(c.Options) {
			return fmt.Errorf("answer %d is not an index of the %d options (they count from 0)", *c.Answer, len(c.Options))
		}
		item, err := encodeChoice(m, *c.Prompt, c.Options, noBOS)
		if err != nil {
			return err
		}
		item.Answer = *c.Answer
		items = append(items, item)
		return nil
	})
	return items, err
}

// encodeChoice tokenizes a prompt and the continuation each option adds
// to it. The option's tokens are those that the prompt's tokenization
// gains when the option is appended to its text, so that a word keeps its
// leading space as the tokenizer merges it; when the prompt's tokens are
// not a prefix of the joined text's, the option is tokenized alone.
func encodeChoice(m *transformer.Model, prompt string, options []string, noBOS bool) (interp.ChoiceItem, error) {
	item := interp.ChoiceItem{}
	ids, err := encodePrompt(m.Tokenizer, prompt, noBOS)
	if err != nil {
		return item, err
	}
	if len(ids) == 0 {
		return item, fmt.Errorf("prompt %q has no tokens", prompt)
	}
	item.Prompt = ids
	for o, option := range options {
		joined, err := encodePrompt(m.Tokenizer, prompt+option, noBOS)
		if err != nil {
			return item, err
		}
		var tokens []int32
		if len(joined) > len(ids) && slices.Equal(joined[:len(ids)], ids) {
			tokens = joined[len(ids):]
		} else if tokens, err = m.Tokenizer.Encode(option, false); err != nil {
			return item, fmt.Errorf("tokenizing option %d %q: %w", o, option, err)
		}
		if len(tokens) == 0 {
			return item, fmt.Errorf("option %d %q has no tokens", o, option)
		}
		item.Options = append(item.Options, tokens)
	}
	return item, nil
}

// parseLayers parses a --layer value: a block "3", a range "1-4", a list
// "1,3,5" of either, or "all".
func parseLayers(spec string, nLayers int) ([]int, error) {
	spec = strings.TrimSpace(spec)
	if spec == "all" {
		layers := make([]int, nLayers)
		for l := range layers {
			layers[l] = l
		}
		return layers, nil
	}
	var layers []int
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		first, err1 := strconv.Atoi(strings.TrimSpace(lo))
		last, err2 := first, error(nil)
		if isRange {
			last, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || first > last {
			return nil, fmt.Errorf("invalid --layer %q: give a block such as 3, a range such as 1-4, a comma-separated list of them, or all", spec)
		}
		for l := first; l <= last; l++ {
			if l < 0 || l >= nLayers {
				return nil, fmt.Errorf("invalid --layer %q: block %d is out of range; the model has blocks 0 to %d", spec, l, nLayers-1)
			}
			layers = append(layers, l)
		}
	}
	slices.Sort(layers)
	return slices.Compact(layers), nil
}

// parseControlVector parses a --control-vector value FILE[:STRENGTH]. A
// suffix after the last colon that is not a number belongs to the path.
func parseControlVector(value string) (interp.ControlVectorFile, error) {
	file := interp.ControlVectorFile{Path: value, Strength: 1}
	if i := strings.LastIndex(value, ":"); i >= 0 {
		s, err := strconv.ParseFloat(value[i+1:], 64)
		switch {
		case err == nil:
			file.Path, file.Strength = value[:i], s
		case !fileExists(value):
			// A path may contain a colon, so only a missing file makes the
			// suffix a strength.
			return file, fmt.Errorf("invalid --control-vector %q: %q after the last colon is not a strength; give FILE.gguf or FILE.gguf:STRENGTH such as happy.gguf:0.8", value, value[i+1:])
		}
	}
	if file.Path == "" || math.IsNaN(file.Strength) || math.IsInf(file.Strength, 0) {
		return file, fmt.Errorf("invalid --control-vector %q: give FILE.gguf or FILE.gguf:STRENGTH with a finite strength", value)
	}
	return file, nil
}

// fileExists reports whether path names an existing file or folder.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
