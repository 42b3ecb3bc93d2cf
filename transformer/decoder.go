package transformer

import (
	"slices"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// decoderBlock is one pre-RMSNorm block of the Llama family, with the
// variations of its members: separate or fused Q, K and V projections,
// per-head norms of queries and keys, norms of the sublayer outputs, and a
// SiLU or GELU gated MLP whose gate and up projections may be fused. Each
// architecture's file says which parts its blocks have.
type decoderBlock struct {
	attnNorm, mlpNorm norm
	q, k, v           linear // separate projections, unless qkv is set
	qkv               linear // fused rows [Q; K; V] (phi3)
	qNorm, kNorm      *norm  // RMSNorm of each query and key head (qwen3)
	attnOut           linear
	attnPostNorm      *norm  // RMSNorm of the attention output (gemma2)
	gate, up          linear // separate projections, unless gateUp is set
	gateUp            linear // fused rows [gate; up] (phi3)
	down              linear
	mlpPostNorm       *norm // RMSNorm of the MLP output (gemma2)
	gelu              bool  // GELU gate (gemma2) instead of SiLU
}

func (b *decoderBlock) fusedQKV() bool    { return b.qkv.weight.Rows > 0 }
func (b *decoderBlock) fusedGateUp() bool { return b.gateUp.weight.Rows > 0 }

// forward runs block l:
// x += postnorm(attn(rmsnorm1(x)));
// x += postnorm(down(act(gate(h)) ⊙ up(h))) with h = rmsnorm2(x),
// where the post-norms are the identity unless the block has them.
func (b *decoderBlock) forward(r *run, l int) {
	s := &r.s
	d, dmlp, dh := r.m.DModel, r.m.DMLP, r.m.DHead
	heads, kvHeads := r.m.NHeads, r.m.NKVHeads

	r.hook(l, hooks.ResidPre, r.resid, r.seq, d)
	r.normalize(l, hooks.Ln1Scale, r.resid, b.attnNorm)
	b.projectQKV(r, s.normed)
	if b.qNorm != nil {
		r.normalizeHeads(s.q, heads, *b.qNorm)
		r.normalizeHeads(s.k, kvHeads, *b.kNorm)
	}
	r.hook(l, hooks.Q, s.q, r.seq, heads, dh)
	r.hook(l, hooks.K, s.k, r.seq, kvHeads, dh)
	r.hook(l, hooks.V, s.v, r.seq, kvHeads, dh)
	r.applyBlockRoPE(l, s.q, heads)
	r.applyBlockRoPE(l, s.k, kvHeads)
	r.hook(l, hooks.RotQ, s.q, r.seq, heads, dh)
	r.hook(l, hooks.RotK, s.k, r.seq, kvHeads, dh)
	r.attend(l, s.q, s.k, s.v, s.z)
	r.linear(s.attnOut, s.z, &b.attnOut)
	if b.attnPostNorm != nil {
		r.rmsNormInPlace(s.attnOut, *b.attnPostNorm)
	}
	r.hook(l, hooks.AttnOut, s.attnOut, r.seq, d)
	kernels.Add(r.resid, s.attnOut)
	r.hook(l, hooks.ResidMid, r.resid, r.seq, d)

	r.normalize(l, hooks.Ln2Scale, r.resid, b.mlpNorm)
	b.projectGateUp(r, s.normed)
	r.hook(l, hooks.MLPPre, s.pre, r.seq, dmlp)
	r.hook(l, hooks.MLPPreLinear, s.preLinear, r.seq, dmlp)
	if b.gelu {
		gate := &b.gate.weight
		if b.fusedGateUp() {
			gate = &b.gateUp.weight
		}
		r.m.gelu(s.post, s.pre, gate)
	} else {
		kernels.SiLU(s.post, s.pre)
	}
	kernels.Mul(s.post, s.preLinear)
	r.hook(l, hooks.MLPPost, s.post, r.seq, dmlp)
	r.linear(s.mlpOut, s.post, &b.down)
	if b.mlpPostNorm != nil {
		r.rmsNormInPlace(s.mlpOut, *b.mlpPostNorm)
	}
	r.hook(l, hooks.MLPOut, s.mlpOut, r.seq, d)
	kernels.Add(r.resid, s.mlpOut)
	r.hook(l, hooks.ResidPost, r.resid, r.seq, d)
}

// projectQKV sets r.s.q, r.s.k and r.s.v from the attention input h.
func (b *decoderBlock) projectQKV(r *run, h []float32) {
	s := &r.s
	if !b.fusedQKV() {
		r.linear(s.q, h, &b.q)
		r.linear(s.k, h, &b.k)
		r.linear(s.v, h, &b.v)
		return
	}
	qw, kvw := r.m.NHeads*r.m.DHead, r.m.NKVHeads*r.m.DHead
	s.qkv = grow(s.qkv, r.rows*(qw+2*kvw))
	r.linear(s.qkv, h, &b.qkv)
	splitColumns(s.qkv, r.rows, [][]float32{s.q, s.k, s.v}, []int{qw, kvw, kvw})
}

// projectGateUp sets r.s.pre (gate) and r.s.preLinear (up) from the MLP
// input h.
func (b *decoderBlock) projectGateUp(r *run, h []float32) {
	s := &r.s
	if !b.fusedGateUp() {
		r.linear(s.pre, h, &b.gate)
		r.linear(s.preLinear, h, &b.up)
		return
	}
	dmlp := r.m.DMLP
	s.gateUp = grow(s.gateUp, r.rows*2*dmlp)
	r.linear(s.gateUp, h, &b.gateUp)
	splitColumns(s.gateUp, r.rows, [][]float32{s.pre, s.preLinear}, []int{dmlp, dmlp})
}

// splitColumns copies each row of src, the concatenation of parts of the
// given widths, into the parts' rows.
func splitColumns(src []float32, rows int, parts [][]float32, widths []int) {
	total := 0
	for _, w := range widths {
		total += w
	}
	for i := range rows {
		off := i * total
		for p, w := range widths {
			copy(parts[p][i*w:(i+1)*w], src[off:off+w])
			off += w
		}
	}
}

// joinColumns is the inverse of splitColumns: it returns rows that
// concatenate the parts' rows.
func joinColumns(rows int, parts [][]float32, widths []int) []float32 {
	total := 0
	for _, w := range widths {
		total += w
	}
	out := make([]float32, rows*total)
	for i := range rows {
		off := i * total
		for p, w := range widths {
			copy(out[off:off+w], parts[p][i*w:(i+1)*w])
			off += w
		}
	}
	return out
}

// normalizeHeads applies an RMSNorm with weight w to each head of x
// [rows, heads, d_head] in place.
func (r *run) normalizeHeads(x []float32, heads int, w norm) {
	n := r.rows * heads
	r.s.headScale = grow(r.s.headScale, n)
	kernels.RMSNormalize(x, r.s.headScale[:n], x, r.m.DHead, r.m.NormEps)
	kernels.Affine(x, x, w.weight, w.bias)
}

// rmsNormInPlace applies an RMSNorm with weight w to x [rows, d_model],
// calling no hooks.
func (r *run) rmsNormInPlace(x []float32, w norm) {
	kernels.RMSNormalize(x, r.s.scale, x, r.m.DModel, r.m.NormEps)
	kernels.Affine(x, x, w.weight, w.bias)
}

// backward carries the gradient back through block l, in the reverse order
// of forward. Values that no hook point holds (projections before a head
// norm, sublayer outputs before a post-norm) are recomputed from recorded
// ones.
func (b *decoderBlock) backward(g *grad, l int) {
	seq, d, dmlp, dh := g.t.seq, g.m.DModel, g.m.DMLP, g.m.DHead
	heads, kvHeads := g.m.NHeads, g.m.NKVHeads
	rows := g.t.rows

	g.hook(l, hooks.ResidPost, g.resid, seq, d)
	dmlpOut := slices.Clone(g.resid)
	g.hook(l, hooks.MLPOut, dmlpOut, seq, d)
	post := g.act(l, hooks.MLPPost)
	if b.mlpPostNorm != nil {
		dmlpOut = g.plainRMSNorm(dmlpOut, g.linearOutput(post, b.down), *b.mlpPostNorm)
	}
	dpost := g.linear(nil, dmlpOut, post, b.down)
	g.hook(l, hooks.MLPPost, dpost, seq, dmlp)
	act, actGrad := kernels.SiLU, kernels.SiLUGrad
	if b.gelu {
		act, actGrad = kernels.GELU, kernels.GELUGrad
	}
	dgate, dup := g.gated(dpost, g.act(l, hooks.MLPPre), g.act(l, hooks.MLPPreLinear), act, actGrad)
	g.hook(l, hooks.MLPPreLinear, dup, seq, dmlp)
	g.hook(l, hooks.MLPPre, dgate, seq, dmlp)
	h2 := g.affine(l, hooks.Ln2Normalized, b.mlpNorm)
	var dh2 []float32
	if b.fusedGateUp() {
		dh2 = g.linear(nil, joinColumns(rows, [][]float32{dgate, dup}, []int{dmlp, dmlp}), h2, b.gateUp)
	} else {
		dh2 = g.linear(nil, dgate, h2, b.gate)
		g.linear(dh2, dup, h2, b.up)
	}
	kernels.Add(g.resid, g.norm(l, hooks.Ln2Scale, b.mlpNorm, dh2, false))
	g.hook(l, hooks.ResidMid, g.resid, seq, d)

	dattnOut := slices.Clone(g.resid)
	g.hook(l, hooks.AttnOut, dattnOut, seq, d)
	z := g.act(l, hooks.Z)
	if b.attnPostNorm != nil {
		dattnOut = g.plainRMSNorm(dattnOut, g.linearOutput(z, b.attnOut), *b.attnPostNorm)
	}
	dz := g.linear(nil, dattnOut, z, b.attnOut)
	g.hook(l, hooks.Z, dz, seq, heads, dh)
	dq, dk, dv := g.attention(l, dz, hooks.RotQ, hooks.RotK)
	g.hook(l, hooks.RotK, dk, seq, kvHeads, dh)
	g.hook(l, hooks.RotQ, dq, seq, heads, dh)
	g.unrotate(l, dq, heads)
	g.unrotate(l, dk, kvHeads)
	g.hook(l, hooks.V, dv, seq, kvHeads, dh)
	g.hook(l, hooks.K, dk, seq, kvHeads, dh)
	g.hook(l, hooks.Q, dq, seq, heads, dh)

	h1 := g.affine(l, hooks.Ln1Normalized, b.attnNorm)
	if b.qNorm != nil {
		dq = g.headRMSNorm(dq, g.linearOutput(h1, b.q), heads, *b.qNorm)
		dk = g.headRMSNorm(dk, g.linearOutput(h1, b.k), kvHeads, *b.kNorm)
	}
	var dh1 []float32
	if b.fusedQKV() {
		qw, kvw := heads*dh, kvHeads*dh
		dh1 = g.linear(nil, joinColumns(rows, [][]float32{dq, dk, dv}, []int{qw, kvw, kvw}), h1, b.qkv)
	} else {
		dh1 = g.linear(nil, dq, h1, b.q)
		g.linear(dh1, dk, h1, b.k)
		g.linear(dh1, dv, h1, b.v)
	}
	kernels.Add(g.resid, g.norm(l, hooks.Ln1Scale, b.attnNorm, dh1, false))
	g.hook(l, hooks.ResidPre, g.resid, seq, d)
}

// linearOutput recomputes x·Wᵀ + b over the run's rows.
func (g *grad) linearOutput(x []float32, l linear) []float32 {
	out := make([]float32, g.t.rows*l.weight.Rows)
	g.m.product(out, x, g.t.rows, &l.weight)
	if l.bias != nil {
		kernels.AddBias(out, l.bias)
	}
	return out
}

// plainRMSNorm carries dy back through y = rmsnorm(x)·w + b for rows of x,
// a norm that has no hook points, and returns the gradient of x.
func (g *grad) plainRMSNorm(dy, x []float32, w norm) []float32 {
	n := len(w.weight)
	rows := len(x) / n
	normalized := make([]float32, len(x))
	scale := make([]float32, rows)
	kernels.RMSNormalize(normalized, scale, x, n, g.m.NormEps)
	dn := make([]float32, len(dy))
	kernels.Affine(dn, dy, w.weight, nil)
	if g.param != nil {
		dw := g.paramGrad(w.name+".weight", n)
		for i, v := range dy {
			dw[i%n] += v * normalized[i]
		}
		if w.bias != nil {
			db := g.paramGrad(w.name+".bias", n)
			for r := range rows {
				kernels.Add(db, dy[r*n:(r+1)*n])
			}
		}
	}
	dx := make([]float32, len(x))
	kernels.RMSNormGrad(dx, dn, normalized, scale, n, g.rules.Norm)
	return dx
}

// headRMSNorm carries dy back through the per-head RMSNorm that turned raw
// projections x [rows, heads, d_head] into the hooked queries or keys.
func (g *grad) headRMSNorm(dy, x []float32, heads int, w norm) []float32 {
	return g.plainRMSNorm(dy, x, w)
}

// embedTokens sets the residual stream to the token embeddings times scale
// and calls hook_embed.
func embedTokens(r *run, emb matrix, scale float32) {
	d := r.m.DModel
	for i, id := range r.ids {
		row := r.resid[i*d : (i+1)*d]
		emb.Row(row, int(id))
		if scale != 1 {
			kernels.Scale(row, scale)
		}
	}
	r.hook(-1, hooks.Embed, r.resid, r.seq, d)
}

// backwardEmbedTokens hands the gradient at block 0's input to hook_embed
// and the token embedding's weight gradient.
func backwardEmbedTokens(g *grad, emb matrix, scale float32) {
	dtok := slices.Clone(g.resid)
	g.hook(-1, hooks.Embed, dtok, g.t.seq, g.m.DModel)
	g.embedRows(emb, dtok, g.t.ids, scale)
}
