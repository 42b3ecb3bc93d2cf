package transformer

import "fmt"

// State is the KV cache of a batch of sequences across forward calls: the
// keys and values of every token run so far, which tokens are real (not
// padding), and the next position id of each sequence.
type State struct {
	batch    int
	capacity int         // token slots per sequence
	length   int         // slots filled
	real     []bool      // [batch, capacity]: slot holds a real token
	pos      []int32     // [batch, capacity]: position id of the slot's token
	nextPos  []int32     // [batch]: position id of the sequence's next real token
	k, v     [][]float32 // per block [batch, capacity, n_kv_heads, d_head]; keys after RoPE
	partial  bool        // a run started past block 0, so lower blocks' caches are empty
	resid    []float32   // residual stream buffer, reused across calls
	scratch  scratch     // intermediate buffers, reused across calls
	m        *Model

	// savedNextPos is nextPos before the current forward call, which a
	// failed call restores.
	savedNextPos []int32
}

// NewState returns an empty KV cache for batch sequences of up to capacity
// tokens each, padding included.
func (m *Model) NewState(batch, capacity int) (*State, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("transformer: batch size %d must be positive", batch)
	}
	if capacity <= 0 || capacity > m.NCtx {
		return nil, fmt.Errorf("transformer: %d tokens do not fit the context length %d", capacity, m.NCtx)
	}
	s := &State{
		batch:    batch,
		capacity: capacity,
		real:     make([]bool, batch*capacity),
		pos:      make([]int32, batch*capacity),
		nextPos:  make([]int32, batch),
		k:        make([][]float32, m.NLayers),
		v:        make([][]float32, m.NLayers),
		m:        m,
	}
	size := batch * capacity * m.NKVHeads * m.DHead
	for l := range s.k {
		s.k[l] = make([]float32, size)
		s.v[l] = make([]float32, size)
	}
	return s, nil
}

// Len returns the number of token slots filled so far, padding included.
func (s *State) Len() int { return s.length }

// Batch returns the number of sequences.
func (s *State) Batch() int { return s.batch }

// Input is one forward call's new tokens for every sequence of a batch.
// Tokens has one row per sequence, all of the same length. Mask marks real
// tokens (false for padding) and may be nil when every token is real.
// Positions gives explicit position ids and may be nil, in which case each
// real token's position counts the real tokens before it in its sequence.
type Input struct {
	Tokens    [][]int32
	Mask      [][]bool
	Positions [][]int32
}

// LeftPad builds an Input from sequences of different lengths by padding
// each on the left with pad tokens, masked out, to the longest length.
func LeftPad(seqs [][]int32, pad int32) Input {
	longest := 0
	for _, s := range seqs {
		longest = max(longest, len(s))
	}
	in := Input{Tokens: make([][]int32, len(seqs)), Mask: make([][]bool, len(seqs))}
	for b, s := range seqs {
		in.Tokens[b] = make([]int32, longest)
		in.Mask[b] = make([]bool, longest)
		n := longest - len(s)
		for j := range longest {
			if j < n {
				in.Tokens[b][j] = pad
				continue
			}
			in.Tokens[b][j] = s[j-n]
			in.Mask[b][j] = true
		}
	}
	return in
}

// check validates in against the state and the model.
func (s *State) check(in Input) (int, error) {
	if s.partial {
		return 0, fmt.Errorf("transformer: state was used by a run that started past block 0 and cannot continue")
	}
	if len(in.Tokens) != s.batch {
		return 0, fmt.Errorf("transformer: input has %d sequences, state has %d", len(in.Tokens), s.batch)
	}
	if in.Mask != nil && len(in.Mask) != s.batch || in.Positions != nil && len(in.Positions) != s.batch {
		return 0, fmt.Errorf("transformer: mask or positions do not have one row per sequence")
	}
	t := len(in.Tokens[0])
	if t == 0 {
		return 0, fmt.Errorf("transformer: input has no tokens")
	}
	for b, row := range in.Tokens {
		if len(row) != t {
			return 0, fmt.Errorf("transformer: sequence %d has %d tokens, sequence 0 has %d; pad them to equal length (LeftPad)", b, len(row), t)
		}
		for j, id := range row {
			if id < 0 || int(id) >= s.m.VocabSize {
				return 0, fmt.Errorf("transformer: sequence %d, position %d: token id %d out of range [0, %d)", b, j, id, s.m.VocabSize)
			}
		}
		if in.Mask != nil && len(in.Mask[b]) != t {
			return 0, fmt.Errorf("transformer: mask of sequence %d has length %d, want %d", b, len(in.Mask[b]), t)
		}
		if in.Positions != nil && len(in.Positions[b]) != t {
			return 0, fmt.Errorf("transformer: positions of sequence %d have length %d, want %d", b, len(in.Positions[b]), t)
		}
	}
	if s.length+t > s.capacity {
		return 0, fmt.Errorf("transformer: %d cached plus %d new tokens exceed the state's capacity of %d (context length %d)", s.length, t, s.capacity, s.m.NCtx)
	}
	return t, nil
}
