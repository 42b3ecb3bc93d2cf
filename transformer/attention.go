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

	scale := float32(1 / math.Sqrt(float64(dh)))
	negInf := float32(math.Inf(-1))
	scores := r.s.scores // [batch, heads, seq, keys]
	kernels.ParallelFor(r.batch*c.NHeads, func(bh int) {
		b, h := bh/c.NHeads, bh%c.NHeads
		g := h / group
		real := st.real[b*st.capacity : b*st.capacity+r.keys]
		for i := range r.seq {
			qi := q[((b*r.seq+i)*c.NHeads+h)*dh:][:dh]
			row := scores[(bh*r.seq+i)*r.keys:][:r.keys]
			for s := range r.keys {
				if s > r.past+i || !real[s] {
					row[s] = negInf
					continue
				}
				ks := cacheK[((b*st.capacity+s)*c.NKVHeads+g)*dh:][:dh]
				row[s] = kernels.Dot(qi, ks) * scale
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

// applyRoPE rotates x [rows, heads, d_head] in place by each row's position,
// as llama.cpp's rope of type NORM does for the llama architecture: the
// adjacent pairs (x[2i], x[2i+1]) of the first RopeDim dimensions of each
// head turn by the angle pos·base^(−2i/RopeDim).
func (r *run) applyRoPE(x []float32, heads int) {
	c := r.m.Config
	half := c.RopeDim / 2
	freqs := make([]float64, half)
	for j := range freqs {
		freqs[j] = math.Pow(c.RopeBase, -2*float64(j)/float64(c.RopeDim))
	}
	for i := range r.rows {
		pos := float64(r.pos[i])
		for h := range heads {
			head := x[(i*heads+h)*c.DHead:][:c.DHead]
			for j := range half {
				sin, cos := math.Sincos(pos * freqs[j])
				x0, x1 := float64(head[2*j]), float64(head[2*j+1])
				head[2*j] = float32(x0*cos - x1*sin)
				head[2*j+1] = float32(x0*sin + x1*cos)
			}
		}
	}
}
