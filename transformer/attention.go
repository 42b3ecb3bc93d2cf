package transformer

import (
	"math"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// attend runs causal scaled dot-product attention for block l. q is
// [rows, n_heads, d_head] and k, v are [rows, n_kv_heads, d_head], all after
// RoPE where the model has it; the new keys and values are appended to the
// KV cache. It writes the per-head outputs to z [rows, n_heads, d_head] and
// calls the scores, pattern and z hooks. Query head h reads KV head
// h / (n_heads / n_kv_heads), as grouped-query attention shares them.
//
// A score is q·k·AttnScale, then soft-capped when AttnSoftCap is set; the
// scores hook sees that value, with masked keys at −Inf. On sliding-window
// blocks a key is masked when its position id is SlidingWindow or more
// before the query's, as llama.cpp's LLAMA_SWA_TYPE_STANDARD does.
func (r *run) attend(l int, q, k, v, z []float32) {
	c := r.m.Config
	st := r.st
	kvw := c.NKVHeads * c.DHead
	cacheK, cacheV := st.k[l], st.v[l]
	for b := range r.batch {
		dst := (b*st.capacity + r.past) * kvw
		copy(cacheK[dst:dst+r.seq*kvw], k[b*r.seq*kvw:(b+1)*r.seq*kvw])
		copy(cacheV[dst:dst+r.seq*kvw], v[b*r.seq*kvw:(b+1)*r.seq*kvw])
	}

	a := r.s.attn
	if a == nil {
		a = newAttention()
		r.s.attn = a
	}
	a.r, a.q, a.z = r, q, z
	a.cacheK, a.cacheV = cacheK, cacheV
	a.window = 0
	if c.SlidingLayer(l) {
		a.window = c.SlidingWindow
	}
	scores := r.s.scores // [batch, heads, seq, keys]

	kernels.ParallelFor(r.batch*c.NHeads, a.scoreHead)
	r.hook(l, hooks.AttnScores, scores, c.NHeads, r.seq, r.keys)

	kernels.ParallelFor(r.batch*c.NHeads*r.seq, a.softmaxRow)
	r.hook(l, hooks.Pattern, scores, c.NHeads, r.seq, r.keys)

	kernels.ParallelFor(r.batch*c.NHeads, a.mixHead)
	r.hook(l, hooks.Z, z, r.seq, c.NHeads, c.DHead)
	a.release()
}

// attention holds the operands of one attend call for the pool's workers.
// Its loop bodies are bound to it once, when newAttention creates it, and
// the run's scratch keeps it, so that the parallel loops of attend
// allocate nothing.
type attention struct {
	r              *run
	q, z           []float32
	cacheK, cacheV []float32
	window         int // sliding window in positions, 0 on global blocks

	scoreHead, softmaxRow, mixHead func(i int)
}

// release drops the references to the run and its buffers, so that the
// state's scratch does not keep them alive between calls.
func (a *attention) release() {
	a.r, a.q, a.z = nil, nil, nil
	a.cacheK, a.cacheV = nil, nil
}

func newAttention() *attention {
	a := new(attention)
	a.scoreHead, a.softmaxRow, a.mixHead = a.computeScores, a.normalizeRow, a.mixValues
	return a
}

// computeScores sets the scores of head bh (batch·n_heads + head) for
// every query of the run.
func (a *attention) computeScores(bh int) {
	r := a.r
	c := r.m.Config
	st := r.st
	dh := c.DHead
	scale, softLimit := c.AttnScale, c.AttnSoftCap
	negInf := float32(math.Inf(-1))
	b, h := bh/c.NHeads, bh%c.NHeads
	g := h / (c.NHeads / c.NKVHeads)
	real := st.real[b*st.capacity : b*st.capacity+r.keys]
	keyPos := st.pos[b*st.capacity : b*st.capacity+r.keys]
	for i := range r.seq {
		qi := a.q[((b*r.seq+i)*c.NHeads+h)*dh:][:dh]
		row := r.s.scores[(bh*r.seq+i)*r.keys:][:r.keys]
		queryPos := r.pos[b*r.seq+i]
		// DotRows takes the products with the keys up to the query's own
		// position, four cached keys a pass, and the loop masks and scales.
		visible := min(r.keys, r.past+i+1)
		kernels.DotRows(row[:visible], qi, a.cacheK[(b*st.capacity*c.NKVHeads+g)*dh:], c.NKVHeads*dh)
		for s := range r.keys {
			if s > r.past+i || !real[s] || a.window > 0 && int(queryPos-keyPos[s]) >= a.window {
				row[s] = negInf
				continue
			}
			row[s] *= scale
			if softLimit > 0 {
				row[s] = softCapValue(row[s], softLimit)
			}
		}
	}
}

// normalizeRow replaces row i of the scores ([batch, heads, seq] rows of
// keys) with its softmax.
func (a *attention) normalizeRow(i int) {
	keys := a.r.keys
	kernels.Softmax(a.r.s.scores[i*keys:][:keys])
}

// mixValues sets the output z of head bh for every query of the run to
// the values weighted by the pattern.
func (a *attention) mixValues(bh int) {
	r := a.r
	c := r.m.Config
	st := r.st
	dh := c.DHead
	b, h := bh/c.NHeads, bh%c.NHeads
	g := h / (c.NHeads / c.NKVHeads)
	for i := range r.seq {
		zi := a.z[((b*r.seq+i)*c.NHeads+h)*dh:][:dh]
		clear(zi)
		// Masked keys have weight 0 unless a pattern hook changed them,
		// and their cached values are finite, so they add nothing.
		row := r.s.scores[(bh*r.seq+i)*r.keys:][:r.keys]
		kernels.AxpyRows(zi, row, a.cacheV[(b*st.capacity*c.NKVHeads+g)*dh:], c.NKVHeads*dh)
	}
}

// applyRoPE rotates x [rows, heads, d_head] in place by each row's position
// with the model's RoPE base; see rotate.
func (r *run) applyRoPE(x []float32, heads int) { r.rotate(x, heads, r.m.RopeBase) }

// applyBlockRoPE rotates x as applyRoPE does, with block l's RoPE base,
// which differs on the sliding-window blocks of some architectures.
func (r *run) applyBlockRoPE(l int, x []float32, heads int) { r.rotate(x, heads, r.m.ropeBase(l)) }

// rotate applies RoPE to x [rows, heads, d_head] in place, as llama.cpp's
// ggml_rope_ext does without YaRN: dimension pair i of the first RopeDim
// dimensions of each head turns by the angle RopeScale·pos·base^(−2i/RopeDim),
// divided by the file's rope_freqs.weight[i] when it has that tensor.
// The pair is (x[2i], x[2i+1]) for rope type NORM (the llama architecture)
// and (x[i], x[i+RopeDim/2]) for type NEOX (RopeNeox). Dimensions from
// RopeDim on pass through unchanged.
func (r *run) rotate(x []float32, heads int, base float64) {
	r.s.ropeFreqs = ropeFrequencies(r.m, base, r.s.ropeFreqs)
	ropeRotateWith(r.m, x, r.pos, heads, r.s.ropeFreqs, false)
}

// ropeRotate rotates x [len(pos), heads, d_head] in place as rotate
// describes, row i by position pos[i]. With inverse it turns by the negated
// angle, the transpose of the rotation, which carries gradients back.
func ropeRotate(m *Model, x []float32, pos []int32, heads int, base float64, inverse bool) {
	ropeRotateWith(m, x, pos, heads, ropeFrequencies(m, base, nil), inverse)
}

// ropeFrequencies returns the rotation frequency of each dimension pair
// for the given RoPE base, in buf when it has the capacity.
func ropeFrequencies(m *Model, base float64, buf []float64) []float64 {
	c := m.Config
	freqs := buf[:0]
	for j := range c.RopeDim / 2 {
		f := math.Pow(base, -2*float64(j)/float64(c.RopeDim))
		if m.ropeFactors != nil {
			f /= float64(m.ropeFactors[j])
		}
		freqs = append(freqs, f)
	}
	return freqs
}

// ropeRotateWith is ropeRotate with the frequencies that ropeFrequencies
// returns.
func ropeRotateWith(m *Model, x []float32, pos []int32, heads int, freqs []float64, inverse bool) {
	c := m.Config
	half := c.RopeDim / 2
	stride, offset := 2, 1 // NORM: pair j is (2j, 2j+1)
	if c.RopeNeox {
		stride, offset = 1, half // NEOX: pair j is (j, j+half)
	}
	for i, p := range pos {
		angle := float64(p) * c.RopeScale
		for h := range heads {
			head := x[(i*heads+h)*c.DHead:][:c.DHead]
			for j := range half {
				a, b := stride*j, stride*j+offset
				sin, cos := math.Sincos(angle * freqs[j])
				if inverse {
					sin = -sin
				}
				x0, x1 := float64(head[a]), float64(head[b])
				head[a] = float32(x0*cos - x1*sin)
				head[b] = float32(x0*sin + x1*cos)
			}
		}
	}
}
