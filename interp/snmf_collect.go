package interp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"unicode/utf8"

	"gonum.org/v1/gonum/mat"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// CorpusFormat is the layout of a corpus file.
type CorpusFormat int

const (
	// CorpusText is plain UTF-8 text, read as one continuous stream.
	CorpusText CorpusFormat = iota
	// CorpusJSONL has one JSON object per line whose text field (by
	// default "text") is a document. Each document starts a new sequence.
	CorpusJSONL
)

// DefaultSequenceTokens bounds the tokens per forward pass when
// CollectOptions.SequenceTokens is 0, because a model's stated context
// length can exceed what it was trained on and what one forward pass fits
// in memory (131,072 tokens for Llama 3.1).
const DefaultSequenceTokens = 512

const (
	// textBlockBytes is how much plain text is tokenized at a time. Blocks
	// end at a line break where the text has one, so a block boundary
	// rarely splits a word.
	textBlockBytes = 64 << 10
	// maxJSONLLineBytes bounds one line of a JSONL corpus.
	maxJSONLLineBytes = 64 << 20
)

// CollectOptions configures CollectMLPActivations.
type CollectOptions struct {
	// Layer is the block whose blocks.Layer.mlp.hook_post is collected.
	Layer int
	// MaxTokens bounds the tokens collected, and so the matrix: the
	// collection stops there, or at the end of the corpus.
	MaxTokens int
	// SequenceTokens is the length of each forward pass, BOS included. 0
	// means the model's context length, at most DefaultSequenceTokens.
	SequenceTokens int
	// Normalize scales each token's activation vector to unit L2 norm
	// (all-zero vectors stay zero).
	Normalize bool
	// Format is the corpus layout. TextField names the JSONL field that
	// contains the text (default "text").
	Format    CorpusFormat
	TextField string
	// Progress, if set, is called after each forward pass with the number
	// of tokens collected so far.
	Progress func(tokens int)
}

// Activations holds one block's MLP hidden activations over a corpus, one
// row per collected token, with the token ids that identify each row's text.
type Activations struct {
	Layer int
	// Matrix is Aᵀ [tokens, d_mlp]: row t is mlp.hook_post at token t.
	// SNMF takes A as Matrix.T().
	Matrix *mat.Dense
	// IDs are the collected tokens, IDs[t] at row t. BOS tokens are not
	// collected.
	IDs []int32
	// SequenceStarts are the rows where each forward pass's tokens begin,
	// in increasing order, so that a token's context stays within what
	// the model saw.
	SequenceStarts []int
	// Normalized records that each row was scaled to unit norm.
	Normalized bool
}

// Context returns the ids of token t and of up to before tokens preceding it
// in the same forward pass.
func (a *Activations) Context(t, before int) []int32 {
	seq := sort.Search(len(a.SequenceStarts), func(i int) bool { return a.SequenceStarts[i] > t }) - 1
	start := 0
	if seq >= 0 {
		start = a.SequenceStarts[seq]
	}
	return a.IDs[max(start, t-before) : t+1]
}

// errCollected stops a forward pass once the collected block has run.
var errCollected = errors.New("activations collected")

// CollectMLPActivations streams a corpus through m and records
// blocks.Layer.mlp.hook_post at every token except BOS. Text is tokenized a
// block at a time and run in sequences of opts.SequenceTokens tokens, each
// from an empty cache and starting with BOS where the tokenizer adds one;
// each JSONL document starts a new sequence. Memory holds the matrix of
// the tokens collected so far, which grows by doubling up to MaxTokens
// rows, one block of text and one forward pass, whatever the corpus size.
// It returns an error for invalid
// options, unreadable or invalid input (naming the line), a corpus without
// tokens, and when ctx is cancelled.
func CollectMLPActivations(ctx context.Context, m *transformer.Model, corpus io.Reader, opts CollectOptions) (*Activations, error) {
	c, err := newCollector(m, opts)
	if err != nil {
		return nil, err
	}
	switch opts.Format {
	case CorpusText:
		err = c.readText(ctx, corpus)
	case CorpusJSONL:
		err = c.readJSONL(ctx, corpus)
	default:
		err = fmt.Errorf("interp: unknown corpus format %d", opts.Format)
	}
	if err != nil {
		return nil, err
	}
	if len(c.ids) == 0 {
		return nil, errors.New("interp: the corpus has no tokens")
	}

	n := len(c.ids)
	return &Activations{
		Layer:          opts.Layer,
		Matrix:         mat.NewDense(n, m.DMLP, c.data[:n*m.DMLP]),
		IDs:            c.ids,
		SequenceStarts: c.starts,
		Normalized:     opts.Normalize,
	}, nil
}

// collector accumulates activations until MaxTokens.
type collector struct {
	m       *transformer.Model
	opts    CollectOptions
	content int    // tokens per sequence after BOS
	hook    string // blocks.L.mlp.hook_post
	data    []float64
	ids     []int32
	starts  []int
	pending []int32 // plain-text tokens not yet run
}

func newCollector(m *transformer.Model, opts CollectOptions) (*collector, error) {
	if opts.Layer < 0 || opts.Layer >= m.NLayers {
		return nil, fmt.Errorf("interp: block %d out of range; the model has blocks 0 to %d", opts.Layer, m.NLayers-1)
	}
	if opts.MaxTokens < 1 {
		return nil, fmt.Errorf("interp: collecting at most %d tokens; want a positive count", opts.MaxTokens)
	}
	if opts.MaxTokens > math.MaxInt/8/m.DMLP {
		return nil, fmt.Errorf("interp: a matrix of %d tokens × d_mlp %d does not fit in memory; lower the maximum token count", opts.MaxTokens, m.DMLP)
	}
	seq := opts.SequenceTokens
	if seq == 0 {
		seq = min(m.NCtx, DefaultSequenceTokens)
	}
	bos := 0
	if m.Tokenizer.AddBOS() {
		bos = 1
	}
	if seq <= bos || seq > m.NCtx {
		return nil, fmt.Errorf("interp: sequences of %d tokens; want %d to %d (the context length)", seq, bos+1, m.NCtx)
	}
	if opts.TextField == "" {
		opts.TextField = "text"
	}
	return &collector{
		m:       m,
		opts:    opts,
		content: seq - bos,
		hook:    hooks.Point{Layer: opts.Layer, Kind: hooks.MLPPost}.Name(),
		data:    make([]float64, 0, min(opts.MaxTokens, initialRows)*m.DMLP),
		ids:     make([]int32, 0, min(opts.MaxTokens, initialRows)),
	}, nil
}

// initialRows is the number of tokens the collector's matrix has room
// for before it first grows.
const initialRows = 4096

// grow makes room in c.data for rows more tokens, doubling the matrix as
// needed but never past MaxTokens rows.
func (c *collector) grow(rows int) {
	d := c.m.DMLP
	need := (len(c.ids) + rows) * d
	if need <= cap(c.data) {
		c.data = c.data[:need]
		return
	}
	grown := make([]float64, need, min(max(2*cap(c.data), need), c.opts.MaxTokens*d))
	copy(grown, c.data)
	c.data = grown
}

func (c *collector) full() bool { return len(c.ids) >= c.opts.MaxTokens }

// readText tokenizes the plain text a block at a time and runs full
// sequences as they fill, then the rest.
func (c *collector) readText(ctx context.Context, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 2*textBlockBytes), 2*textBlockBytes)
	sc.Split(splitTextBlocks)
	offset := 0
	for sc.Scan() && !c.full() {
		block := sc.Bytes()
		if !utf8.Valid(block) {
			bad := offset + invalidUTF8At(block)
			return fmt.Errorf("interp: corpus byte %d is not valid UTF-8; convert the file to UTF-8", bad)
		}
		offset += len(block)
		ids, err := c.m.Tokenizer.Encode(string(block), false)
		if err != nil {
			return fmt.Errorf("interp: tokenizing the corpus: %w", err)
		}
		c.pending = append(c.pending, ids...)
		for len(c.pending) >= c.content && !c.full() {
			if err := c.run(ctx, c.pending[:c.content]); err != nil {
				return err
			}
			c.pending = c.pending[c.content:]
		}
		c.pending = append([]int32(nil), c.pending...)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("interp: reading the corpus: %w", err)
	}
	if len(c.pending) > 0 && !c.full() {
		return c.run(ctx, c.pending)
	}
	return nil
}

// splitTextBlocks is a bufio.SplitFunc that returns blocks of about
// textBlockBytes, ending after a line break when the block has one and
// otherwise at a UTF-8 character boundary.
func splitTextBlocks(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if len(data) <= textBlockBytes {
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	}
	window := data[:textBlockBytes]
	if i := bytes.LastIndexByte(window, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	cut := textBlockBytes
	for cut > textBlockBytes-utf8.UTFMax && !utf8.RuneStart(data[cut]) {
		cut--
	}
	return cut, data[:cut], nil
}

// invalidUTF8At returns the offset of the first invalid byte of b.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// readJSONL runs each document of a JSONL corpus in sequences of its own.
func (c *collector) readJSONL(ctx context.Context, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), maxJSONLLineBytes)
	line := 0
	for sc.Scan() && !c.full() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var record map[string]json.RawMessage
		if err := json.Unmarshal(raw, &record); err != nil {
			return fmt.Errorf("interp: corpus line %d: invalid JSON object: %w", line, err)
		}
		field, ok := record[c.opts.TextField]
		if !ok {
			return fmt.Errorf("interp: corpus line %d has no field %q; choose the field that holds the documents' text", line, c.opts.TextField)
		}
		var text string
		if err := json.Unmarshal(field, &text); err != nil {
			return fmt.Errorf("interp: corpus line %d: field %q is not a string", line, c.opts.TextField)
		}
		ids, err := c.m.Tokenizer.Encode(text, false)
		if err != nil {
			return fmt.Errorf("interp: corpus line %d: %w", line, err)
		}
		for len(ids) > 0 && !c.full() {
			n := min(len(ids), c.content)
			if err := c.run(ctx, ids[:n]); err != nil {
				return err
			}
			ids = ids[n:]
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("interp: corpus line %d is longer than %d MiB", line+1, maxJSONLLineBytes>>20)
		}
		return fmt.Errorf("interp: reading the corpus: %w", err)
	}
	return nil
}

// run runs one sequence of tokens (BOS is prepended where the tokenizer
// adds one) and records the activations of as many of its tokens as the
// matrix has room for.
func (c *collector) run(ctx context.Context, tokens []int32) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interp: collecting activations: %w", err)
	}
	tokens = tokens[:min(len(tokens), c.opts.MaxTokens-len(c.ids))]
	seq := tokens
	skip := 0
	if c.m.Tokenizer.AddBOS() {
		seq = append([]int32{c.m.Tokenizer.BOS()}, tokens...)
		skip = 1
	}

	d := c.m.DMLP
	row := len(c.ids)
	c.grow(len(tokens))
	h := &hooks.Hooks{}
	h.Add(c.hook, func(t *hooks.Tensor, p hooks.Point) error {
		for i := range tokens {
			dst := c.data[(row+i)*d : (row+i+1)*d]
			for j, v := range t.Data[(skip+i)*d : (skip+i+1)*d] {
				dst[j] = float64(v)
			}
			if c.opts.Normalize {
				normalizeVector(dst)
			}
		}
		return errCollected
	})
	_, err := c.m.Run(seq, &transformer.Options{Hooks: h, Logits: transformer.NoLogits})
	switch {
	case err == nil:
		return fmt.Errorf("interp: collecting activations: %s did not run", c.hook)
	case !errors.Is(err, errCollected):
		return fmt.Errorf("interp: collecting activations: %w", err)
	}

	c.starts = append(c.starts, row)
	c.ids = append(c.ids, tokens...)
	if c.opts.Progress != nil {
		c.opts.Progress(len(c.ids))
	}
	return nil
}

// normalizeVector scales v to unit L2 norm unless it is zero.
func normalizeVector(v []float64) {
	norm := math.Sqrt(dot64(v, v))
	if norm == 0 {
		return
	}
	for i := range v {
		v[i] /= norm
	}
}
