package transformer

import (
	"slices"

	"github.com/interp-go/interp/hooks"
)

// Tape records a forward pass for Backward: the value of every hook point
// after its forward hooks ran, with the run's shape and positions. Record a
// run by passing the tape in Options.Tape; a tape holds the latest run.
// Memory grows with every hook point of the run, about as much as caching
// all of them.
type Tape struct {
	m      *Model
	batch  int
	seq    int
	rows   int
	ids    []int32
	pos    []int32
	logits LogitsMode
	start  int               // first block the run computed
	acts   map[int][]float32 // by pointIndex
	output []float32         // the logits the run returned
}

// NewTape returns an empty tape.
func NewTape() *Tape { return &Tape{} }

// begin starts recording run r.
func (t *Tape) begin(r *run, opts *Options) {
	*t = Tape{
		m:      r.m,
		batch:  r.batch,
		seq:    r.seq,
		rows:   r.rows,
		ids:    slices.Clone(r.ids),
		pos:    slices.Clone(r.pos),
		logits: opts.Logits,
		start:  opts.StartLayer,
		acts:   map[int][]float32{},
	}
}

func (t *Tape) record(idx int, data []float32) {
	t.acts[idx] = slices.Clone(data)
}

// act returns the recorded value at (layer, kind), or nil.
func (t *Tape) act(layer int, kind hooks.Kind) []float32 {
	return t.acts[pointIndex(t.m.NLayers, hooks.Point{Layer: layer, Kind: kind})]
}
