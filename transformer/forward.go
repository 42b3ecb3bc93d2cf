package transformer

import (
	"fmt"
	"math"
	"slices"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// LogitsMode selects the positions whose logits a forward call computes.
type LogitsMode int

const (
	// LastLogits computes the logits of each sequence's last position.
	LastLogits LogitsMode = iota
	// AllLogits computes the logits of every position.
	AllLogits
	// NoLogits skips the unembedding.
	NoLogits
)

// Options configures a forward call. The zero value runs the whole model
// without hooks and returns the last position's logits.
type Options struct {
	Hooks  *hooks.Hooks
	Logits LogitsMode

	// StartLayer, when positive, starts the run at
	// blocks.StartLayer.hook_resid_pre with StartResid as its value
	// ([batch, seq, d_model], or [seq, d_model] for one sequence), skipping
	// the embedding and the blocks before it. An activation patch at block L
	// leaves everything before L unchanged, so a patching sweep can reuse the
	// unpatched run's residual stream there. The state's caches of the
	// skipped blocks stay empty, so the state cannot run further tokens.
	StartLayer int
	StartResid *hooks.Tensor

	// Tape, when set, records the activations that Backward needs. The run
	// must start from an empty state.
	Tape *Tape
}

// Output is the result of a forward call.
type Output struct {
	// Logits is [batch, positions, vocab]: one position per sequence with
	// LastLogits, every new position with AllLogits, nil with NoLogits.
	Logits *hooks.Tensor
}

// Row returns the logits of sequence b at the i-th returned position.
func (o *Output) Row(b, i int) []float32 {
	v := o.Logits.Shape[2]
	off := (b*o.Logits.Shape[1] + i) * v
	return o.Logits.Data[off : off+v]
}

// run is the state of one forward call.
type run struct {
	m     *Model
	st    *State
	batch int
	seq   int     // new tokens per sequence
	rows  int     // batch·seq
	past  int     // slots cached before this call
	keys  int     // past + seq
	ids   []int32 // [rows]
	pos   []int32 // [rows] position ids
	resid []float32
	hooks [][]hooks.Func // by pointIndex; nil without hooks
	tape  *Tape          // records activations for Backward; nil when not recording
	err   error
	s     scratch
}

// scratch holds a run's intermediate buffers, reused by every block.
type scratch struct {
	normed, scale        []float32 // [rows, d_model], [rows]
	q, k, v, z           []float32 // [rows, heads·d_head]
	qkv                  []float32 // [rows, (n_heads + 2·n_kv_heads)·d_head], fused projections
	gateUp               []float32 // [rows, 2·d_mlp], fused gate and up projections
	headScale            []float32 // [rows·n_heads], divisors of per-head Q and K norms
	attnOut, mlpOut      []float32 // [rows, d_model]
	pre, preLinear, post []float32 // [rows, d_mlp]
	scores               []float32 // [batch, heads, seq, keys]
	lastRows             []float32 // [batch, d_model], each sequence's last normalized row
	ids, pos             []int32   // [rows], the run's token and position ids
	ropeFreqs            []float64 // [rope_dim/2], the rotation frequencies of one RoPE base
	attn                 *attention
}

// Run runs one sequence of token ids through the model from an empty cache.
func (m *Model) Run(ids []int32, opts *Options) (*Output, error) {
	st, err := m.NewState(1, max(1, len(ids)))
	if err != nil {
		return nil, err
	}
	return m.Forward(st, Input{Tokens: [][]int32{ids}}, opts)
}

// RunBatch runs sequences of possibly different lengths as one left-padded
// batch from an empty cache. The result for each sequence equals a Run of it
// alone, up to float32 rounding.
func (m *Model) RunBatch(seqs [][]int32, opts *Options) (*Output, error) {
	in := LeftPad(seqs, 0)
	if len(in.Tokens) == 0 {
		return nil, fmt.Errorf("transformer: empty batch")
	}
	st, err := m.NewState(len(seqs), max(1, len(in.Tokens[0])))
	if err != nil {
		return nil, err
	}
	return m.Forward(st, in, opts)
}

// Forward runs the input's tokens through the model, appending their keys
// and values to st, and returns the requested logits. Hooks see tensors with
// a leading batch axis only when the batch has more than one sequence.
func (m *Model) Forward(st *State, in Input, opts *Options) (*Output, error) {
	if opts == nil {
		opts = &Options{}
	}
	if st.m != m {
		return nil, fmt.Errorf("transformer: state belongs to another model")
	}
	seq, err := st.check(in)
	if err != nil {
		return nil, err
	}
	// A failed run must leave the state as it was: placeTokens advances
	// each sequence's next position before the blocks run.
	st.savedNextPos = append(st.savedNextPos[:0], st.nextPos...)
	out, err := m.forward(st, in, seq, opts)
	if err != nil {
		copy(st.nextPos, st.savedNextPos)
		return nil, err
	}
	return out, nil
}

// forward runs Forward's checked input.
func (m *Model) forward(st *State, in Input, seq int, opts *Options) (*Output, error) {
	r := &run{m: m, st: st, batch: st.batch, seq: seq, rows: st.batch * seq, past: st.length}
	r.keys = r.past + seq
	if err := r.resolveHooks(opts.Hooks); err != nil {
		return nil, err
	}
	if err := r.placeTokens(in); err != nil {
		return nil, err
	}
	r.allocate()
	if opts.Tape != nil {
		if r.past != 0 {
			return nil, fmt.Errorf("transformer: a run recorded for the backward pass needs an empty state")
		}
		opts.Tape.begin(r, opts)
		r.tape = opts.Tape
	}

	start := 0
	if opts.StartLayer > 0 || opts.StartResid != nil {
		if err := r.startAt(opts.StartLayer, opts.StartResid); err != nil {
			return nil, err
		}
		start = opts.StartLayer
		st.partial = true
	} else {
		m.arch.embed(r)
	}
	for l := start; l < m.NLayers && r.err == nil; l++ {
		m.arch.block(r, l)
	}
	st.scratch = r.s
	if r.err != nil {
		return nil, r.err
	}
	st.length += seq

	out := &Output{}
	normW, _ := m.arch.final()
	r.normalize(-1, hooks.LnFinalScale, r.resid, normW)
	if r.err != nil {
		return nil, r.err
	}
	out.Logits = r.logits(opts.Logits, m.unembed)
	if r.tape != nil && out.Logits != nil {
		r.tape.output = slices.Clone(out.Logits.Data)
	}
	return out, nil
}

// resolveHooks matches the hooks' patterns against the model's points.
func (r *run) resolveHooks(h *hooks.Hooks) error {
	if h.Len() == 0 {
		return nil
	}
	perPoint, err := h.Resolve(r.m.points, r.m.names)
	if err != nil {
		return err
	}
	r.hooks = make([][]hooks.Func, (r.m.NLayers+1)*int(hooks.NumKinds))
	for i, p := range r.m.points {
		r.hooks[pointIndex(r.m.NLayers, p)] = perPoint[i]
	}
	return nil
}

// placeTokens records the input's ids, position ids and mask in the run and
// the state.
func (r *run) placeTokens(in Input) error {
	st := r.st
	st.scratch.ids = growInts(st.scratch.ids, r.rows)
	st.scratch.pos = growInts(st.scratch.pos, r.rows)
	r.ids, r.pos = st.scratch.ids, st.scratch.pos
	for b := range r.batch {
		next := st.nextPos[b]
		for j := range r.seq {
			i := b*r.seq + j
			r.ids[i] = in.Tokens[b][j]
			isReal := in.Mask == nil || in.Mask[b][j]
			st.real[b*st.capacity+r.past+j] = isReal
			switch {
			case in.Positions != nil:
				r.pos[i] = in.Positions[b][j]
			case isReal:
				r.pos[i] = next
			}
			if isReal {
				next = r.pos[i] + 1
			}
			if r.pos[i] < 0 || int(r.pos[i]) >= r.m.NCtx {
				return fmt.Errorf("transformer: sequence %d, token %d: position %d out of range [0, %d) of the context length", b, j, r.pos[i], r.m.NCtx)
			}
			st.pos[b*st.capacity+r.past+j] = r.pos[i]
		}
		st.nextPos[b] = next
	}
	return nil
}

func (r *run) allocate() {
	c := r.m.Config
	n := r.rows
	qWidth := c.NHeads * c.DHead
	kvWidth := c.NKVHeads * c.DHead
	// The state keeps the buffers between calls, so decoding step by step
	// does not allocate them anew; forward stores any that grew back.
	st := r.st
	st.resid = grow(st.resid, n*c.DModel)
	r.resid = st.resid
	s := st.scratch
	s.normed = grow(s.normed, n*c.DModel)
	s.scale = grow(s.scale, n)
	s.q = grow(s.q, n*qWidth)
	s.k = grow(s.k, n*kvWidth)
	s.v = grow(s.v, n*kvWidth)
	s.z = grow(s.z, n*qWidth)
	s.attnOut = grow(s.attnOut, n*c.DModel)
	s.mlpOut = grow(s.mlpOut, n*c.DModel)
	s.pre = grow(s.pre, n*c.DMLP)
	s.post = grow(s.post, n*c.DMLP)
	s.lastRows = grow(s.lastRows, r.batch*c.DModel)
	s.scores = growScores(s.scores, r.batch*c.NHeads*r.seq, r.keys, st.capacity)
	if r.m.arch.hasKind(hooks.MLPPreLinear) {
		s.preLinear = grow(s.preLinear, n*c.DMLP)
	}
	r.s = s
}

// grow returns buf resliced to n elements, or a new slice when its capacity
// is too small. The contents are not cleared: every user writes before it
// reads.
func grow(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]float32, n)
}

// growScores returns buf resliced to rows·keys scores. When it must
// allocate, it leaves room for twice the keys, up to the state's capacity,
// so that decoding step by step reallocates only now and then.
func growScores(buf []float32, rows, keys, capacity int) []float32 {
	n := rows * keys
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]float32, n, rows*min(2*keys, capacity))
}

// growInts is grow for int32 slices.
func growInts(buf []int32, n int) []int32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]int32, n)
}

// startAt loads the residual stream of a run that starts at block layer.
func (r *run) startAt(layer int, resid *hooks.Tensor) error {
	if layer < 0 || layer >= r.m.NLayers {
		return fmt.Errorf("transformer: start layer %d out of range [0, %d)", layer, r.m.NLayers)
	}
	if resid == nil {
		return fmt.Errorf("transformer: start layer %d needs the residual stream entering it", layer)
	}
	if len(resid.Data) != len(r.resid) {
		return fmt.Errorf("transformer: start residual of shape %v does not match %d sequences of %d tokens and width %d", resid.Shape, r.batch, r.seq, r.m.DModel)
	}
	if r.past != 0 {
		return fmt.Errorf("transformer: a run starting at block %d needs an empty state", layer)
	}
	copy(r.resid, resid.Data)
	return nil
}

// hook calls the hooks registered at (layer, kind) on data, whose shape for
// one sequence is dims (the batch axis is prepended for batches), and then
// records the value on the run's tape, if any.
func (r *run) hook(layer int, kind hooks.Kind, data []float32, dims ...int) {
	if r.hooks == nil && r.tape == nil || r.err != nil {
		return
	}
	p := hooks.Point{Layer: layer, Kind: kind}
	idx := pointIndex(r.m.NLayers, p)
	if r.hooks != nil {
		if err := callHooks(r.hooks[idx], p, data, r.batch, dims); err != nil {
			r.err = fmt.Errorf("transformer: hook at %s: %w", p.Name(), err)
			return
		}
	}
	if r.tape != nil {
		r.tape.record(idx, data)
	}
}

// callHooks runs fns on data, a tensor whose shape for one sequence is dims
// (a batch axis of size batch is prepended when batch > 1). A hook may
// change the data in place or replace the slice with one of equal length.
func callHooks(fns []hooks.Func, p hooks.Point, data []float32, batch int, dims []int) error {
	if len(fns) == 0 {
		return nil
	}
	// A fresh shape slice keeps dims from escaping, so unhooked calls do
	// not allocate.
	shape := make([]int, 0, len(dims)+1)
	if batch > 1 {
		shape = append(shape, batch)
	}
	shape = append(shape, dims...)
	t := &hooks.Tensor{Shape: shape, Data: data}
	for _, fn := range fns {
		if err := fn(t, p); err != nil {
			return err
		}
		if len(t.Data) != len(data) {
			return fmt.Errorf("hook replaced a tensor of %d elements with %d", len(data), len(t.Data))
		}
		if &t.Data[0] != &data[0] {
			copy(data, t.Data)
			t.Data = data
		}
	}
	return nil
}

// hooked reports whether any hook is registered at (layer, kind), so that
// callers can skip building a hook's tensor.
func (r *run) hooked(layer int, kind hooks.Kind) bool {
	return r.hooks != nil && len(r.hooks[pointIndex(r.m.NLayers, hooks.Point{Layer: layer, Kind: kind})]) > 0
}

// normalize applies the architecture's norm to x (LayerNorm for gpt2,
// RMSNorm for llama), writing r.s.normed and calling the scale and
// normalized hooks of scaleKind and the kind after it, before the norm's
// weight and bias are applied.
func (r *run) normalize(layer int, scaleKind hooks.Kind, x []float32, w norm) {
	d := r.m.DModel
	if r.m.Arch == "gpt2" {
		kernels.LayerNormalize(r.s.normed, r.s.scale, x, d, r.m.NormEps)
	} else {
		kernels.RMSNormalize(r.s.normed, r.s.scale, x, d, r.m.NormEps)
	}
	hooked := r.hooked(layer, scaleKind)
	r.hook(layer, scaleKind, r.s.scale, r.seq, 1)
	if hooked {
		// As in TransformerLens, the input is divided by the hooked scale,
		// so an edit of the scale reaches the normalized values.
		kernels.DivideRows(r.s.normed, x, r.s.scale, d, r.m.Arch == "gpt2")
	}
	r.hook(layer, scaleKind+1, r.s.normed, r.seq, d)
	kernels.Affine(r.s.normed, r.s.normed, w.weight, w.bias)
}

// linear sets out = x·Wᵀ + b for the run's rows. l is a pointer so that
// the weights, which the products' workers share, stay in the model and
// are not copied to the heap on every call.
func (r *run) linear(out, x []float32, l *linear) {
	r.m.product(out, x, r.rows, &l.weight)
	if l.bias != nil {
		kernels.AddBias(out, l.bias)
	}
}

// logits unembeds the normalized final residual stream at the positions
// mode selects.
func (r *run) logits(mode LogitsMode, unembed *matrix) *hooks.Tensor {
	d, vocab := r.m.DModel, unembed.Rows
	var rows []float32
	n := 0
	switch mode {
	case NoLogits:
		return nil
	case AllLogits:
		rows, n = r.s.normed, r.seq
	default:
		n = 1
		rows = r.s.lastRows
		for b := range r.batch {
			last := (b*r.seq + r.seq - 1) * d
			copy(rows[b*d:(b+1)*d], r.s.normed[last:last+d])
		}
	}
	// Built in place of hooks.NewTensor, whose variadic shape costs one
	// more allocation per call.
	out := &hooks.Tensor{Shape: []int{r.batch, n, vocab}, Data: make([]float32, r.batch*n*vocab)}
	r.m.product(out.Data, rows, r.batch*n, unembed)
	if limit := r.m.FinalSoftCap; limit > 0 {
		softCap(out.Data, limit)
	}
	return out
}

// softCap replaces each x[i] by limit·tanh(x[i]/limit), which keeps its
// sign and bounds it by ±limit (Gemma 2's soft-capping of attention scores
// and logits).
func softCap(x []float32, limit float32) {
	for i, v := range x {
		x[i] = softCapValue(v, limit)
	}
}

func softCapValue(v, limit float32) float32 {
	return limit * float32(math.Tanh(float64(v/limit)))
}
