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
	dh, kvw := c.DHead, c.NKVHeads*c.DHead
	group := c.NHeads / c.NKVHeads
	cacheK, cacheV := st.k[l], st.v[l]
	for b := range r.batch {
		dst := (b*st.capacity + r.past) * kvw
		copy(cacheK[dst:dst+r.seq*kvw], k[b*r.seq*kvw:(b+1)*r.seq*kvw])
		copy(cacheV[dst:dst+r.seq*kvw], v[b*r.seq*kvw:(b+1)*r.seq*kvw])
	}

	scale, softLimit := c.AttnScale, c.AttnSoftCap
	window := 0
	if c.SlidingLayer(l) {
		window = c.SlidingWindow
	}
	negInf := float32(math.Inf(-1))
	scores := r.s.scores // [batch, heads, seq, keys]
	kernels.ParallelFor(r.batch*c.NHeads, func(bh int) {
		b, h := bh/c.NHeads, bh%c.NHeads
		g := h / group
		real := st.real[b*st.capacity : b*st.capacity+r.keys]
		keyPos := st.pos[b*st.capacity : b*st.capacity+r.keys]
		for i := range r.seq {
			qi := q[((b*r.seq+i)*c.NHeads+h)*dh:][:dh]
			row := scores[(bh*r.seq+i)*r.keys:][:r.keys]
			queryPos := r.pos[b*r.seq+i]
			for s := range r.keys {
				if s > r.past+i || !real[s] || window > 0 && int(queryPos-keyPos[s]) >= window {
					row[s] = negInf
					continue
				}
				ks := cacheK[((b*st.capacity+s)*c.NKVHeads+g)*dh:][:dh]
				row[s] = kernels.Dot(qi, ks) * scale
				if softLimit > 0 {
					row[s] = softCapValue(row[s], softLimit)
				}
			}
		}
	})
	r.hook(l, hooks.AttnScores, scores, c.NHeads, r.seq, r.keys)

	kernels.ParallelFor(r.batch*c.NHeads*r.seq, func(row int) {
		kernels.Softmax(scores[row*r.keys:][:r.keys])
	})
	r.hook(l, hooks.Pattern, scores, c.NHeads, r.seq, r.keys)

	kernels.ParallelFor(r.batch*c.NHeads, func(bh int) {
		b, h := bh/c.NHeads, bh%c.NHeads
		g := h / group
		for i := range r.seq {
			zi := z[((b*r.seq+i)*c.NHeads+h)*dh:][:dh]
			clear(zi)
			row := scores[(bh*r.seq+i)*r.keys:][:r.keys]
			for s, p := range row {
				if p != 0 {
					kernels.Axpy(p, cacheV[((b*st.capacity+s)*c.NKVHeads+g)*dh:][:dh], zi)
				}
			}
		}
	})
	r.hook(l, hooks.Z, z, r.seq, c.NHeads, dh)
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
	ropeRotate(r.m, x, r.pos, heads, base, false)
}

// ropeRotate rotates x [len(pos), heads, d_head] in place as rotate
// describes, row i by position pos[i]. With inverse it turns by the negated
// angle, the transpose of the rotation, which carries gradients back.
func ropeRotate(m *Model, x []float32, pos []int32, heads int, base float64, inverse bool) {
	c := m.Config
	half := c.RopeDim / 2
	freqs := make([]float64, half)
	for j := range freqs {
		freqs[j] = math.Pow(base, -2*float64(j)/float64(c.RopeDim))
		if m.ropeFactors != nil {
			freqs[j] /= float64(m.ropeFactors[j])
		}
	}
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
