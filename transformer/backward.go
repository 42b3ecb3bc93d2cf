package transformer

import (
	"fmt"
	"slices"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// RelPRules selects the changes that Relevance Patching (RelP) makes to the
// backward pass; the forward pass is unchanged. The zero value computes the
// ordinary gradient. The rules are those of layer-wise relevance
// propagation (LRP) for transformers, applied to attribution patching.
type RelPRules struct {
	// Norm treats a LayerNorm's or RMSNorm's divisor as a constant (the
	// LN-rule), so no gradient flows through the norm's statistics.
	Norm bool
	// Activation passes dy·f(x)/x through an elementwise activation y =
	// f(x) (GELU, SiLU) instead of dy·f'(x) (the identity rule).
	Activation bool
	// Gate gives each factor of a gated product (SwiGLU, GeGLU) half of its
	// ordinary gradient (the half rule).
	Gate bool
	// Pattern treats the attention pattern as a constant, so the gradient
	// flows through the values only (the AH-rule).
	Pattern bool
}

// AllRelPRules returns every RelP rule switched on.
func AllRelPRules() RelPRules {
	return RelPRules{Norm: true, Activation: true, Gate: true, Pattern: true}
}

// BackwardOptions configures Backward.
type BackwardOptions struct {
	// Hooks are backward hooks: each receives the gradient of the metric
	// with respect to its point's activation, with the activation's shape,
	// and may read or change it in place before it flows further back.
	// hooks.Cache.Attach on these hooks caches gradients.
	Hooks *hooks.Hooks
	// Rules modifies the backward pass for RelP; the zero value gives the
	// ordinary gradient.
	Rules RelPRules
	// Params also computes the gradient with respect to every weight.
	Params bool
}

// Gradients is the result of Backward.
type Gradients struct {
	// Params maps a GGUF tensor name to the gradient with respect to that
	// tensor, in the tensor's row-major layout (float32, whatever the file's
	// type), when BackwardOptions.Params is set. A tied output matrix adds
	// its gradient to the token embedding's.
	Params map[string][]float32
}

// backwardArch is implemented by architectures that support Backward.
type backwardArch interface {
	// backwardBlock carries g.resid, the gradient at the block's
	// hook_resid_post, back to its hook_resid_pre.
	backwardBlock(g *grad, l int)
	// backwardEmbed carries g.resid, the gradient at block 0's
	// hook_resid_pre, to the embedding points and weights.
	backwardEmbed(g *grad)
}

// grad is the state of one backward pass.
type grad struct {
	m     *Model
	t     *Tape
	rules RelPRules
	hooks [][]hooks.Func // backward hooks by pointIndex; nil without hooks
	resid []float32      // gradient of the residual stream [rows, d_model]
	param map[string][]float32
	err   error
}

// Backward runs the backward pass of the forward run recorded on t, from
// dlogits, the gradient of a scalar metric with respect to the run's logits
// (the shape of Output.Logits: [batch, positions, vocab]). It calls the
// backward hooks at every point, from the logits back to the embedding
// (or to the run's start block), and returns the weight gradients when
// requested. Forward hooks count as the identity: the gradient at a hooked
// point flows on to what produced it, as if the hook had not changed the
// value.
func (m *Model) Backward(t *Tape, dlogits *hooks.Tensor, opts *BackwardOptions) (*Gradients, error) {
	if opts == nil {
		opts = &BackwardOptions{}
	}
	arch, ok := m.arch.(backwardArch)
	if !ok {
		return nil, fmt.Errorf("transformer: the backward pass does not support the %s architecture yet", m.Arch)
	}
	if t == nil || t.m != m {
		return nil, fmt.Errorf("transformer: the tape holds no forward run of this model")
	}
	positions := t.seq
	if t.logits == LastLogits {
		positions = 1
	}
	if t.logits == NoLogits || dlogits == nil || !slices.Equal(dlogits.Shape, []int{t.batch, positions, m.VocabSize}) {
		return nil, fmt.Errorf("transformer: the logits gradient must have the recorded run's logits shape [%d %d %d]", t.batch, positions, m.VocabSize)
	}
	g := &grad{m: m, t: t, rules: opts.Rules}
	if opts.Params {
		g.param = map[string][]float32{}
	}
	if opts.Hooks.Len() > 0 {
		perPoint, err := opts.Hooks.Resolve(m.points, m.names)
		if err != nil {
			return nil, err
		}
		g.hooks = make([][]hooks.Func, (m.NLayers+1)*int(hooks.NumKinds))
		for i, p := range m.points {
			g.hooks[pointIndex(m.NLayers, p)] = perPoint[i]
		}
	}

	g.unembed(dlogits)
	for l := m.NLayers - 1; l >= t.start && g.err == nil; l-- {
		arch.backwardBlock(g, l)
	}
	if t.start == 0 && g.err == nil {
		arch.backwardEmbed(g)
	}
	if g.err != nil {
		return nil, g.err
	}
	return &Gradients{Params: g.param}, nil
}

// hook calls the backward hooks at (layer, kind) on the gradient data,
// whose shape for one sequence is dims.
func (g *grad) hook(layer int, kind hooks.Kind, data []float32, dims ...int) {
	if g.hooks == nil || g.err != nil {
		return
	}
	p := hooks.Point{Layer: layer, Kind: kind}
	if err := callHooks(g.hooks[pointIndex(g.m.NLayers, p)], p, data, g.t.batch, dims); err != nil {
		g.err = fmt.Errorf("transformer: backward hook at %s: %w", p.Name(), err)
	}
}

// act returns the recorded activation at (layer, kind).
func (g *grad) act(layer int, kind hooks.Kind) []float32 {
	a := g.t.act(layer, kind)
	if a == nil && g.err == nil {
		g.err = fmt.Errorf("transformer: the tape has no %s", hooks.Point{Layer: layer, Kind: kind}.Name())
	}
	return a
}

// paramGrad returns the gradient buffer of the named tensor, of n values.
func (g *grad) paramGrad(name string, n int) []float32 {
	buf, ok := g.param[name]
	if !ok {
		buf = make([]float32, n)
		g.param[name] = buf
	}
	return buf
}

// linear returns dx = dy·W for y = x·Wᵀ + b over the run's rows, and adds
// the weight and bias gradients when they are requested. dx may be nil, in
// which case a new slice is returned; otherwise dy·W is added to it.
func (g *grad) linear(dx, dy, x []float32, l linear) []float32 {
	rows := g.t.rows
	w := &l.weight
	out := make([]float32, rows*w.Cols)
	kernels.MatMulInputGrad(out, dy, rows, &w.Matrix)
	if g.param != nil {
		kernels.AddOuterGrad(g.paramGrad(w.name, w.Rows*w.Cols), dy, x, rows, w.Rows, w.Cols)
		if l.bias != nil {
			db := g.paramGrad(l.name+".bias", w.Rows)
			for r := range rows {
				kernels.Add(db, dy[r*w.Rows:(r+1)*w.Rows])
			}
		}
	}
	if dx == nil {
		return out
	}
	kernels.Add(dx, out)
	return dx
}

// affine recomputes a norm's output, normalized·w + b, from the recorded
// normalized values at (layer, normalizedKind).
func (g *grad) affine(layer int, normalizedKind hooks.Kind, w norm) []float32 {
	n := g.act(layer, normalizedKind)
	out := make([]float32, len(n))
	if n != nil {
		kernels.Affine(out, n, w.weight, w.bias)
	}
	return out
}

// norm carries dh, the gradient at a norm's output (after its weight and
// bias), back to the norm's input, calling the hooks of the normalized
// values and of the scale (scaleKind and the kind after it). layerNorm
// selects LayerNorm over RMSNorm.
func (g *grad) norm(layer int, scaleKind hooks.Kind, w norm, dh []float32, layerNorm bool) []float32 {
	d := len(w.weight)
	rows := g.t.rows
	normalized, scale := g.act(layer, scaleKind+1), g.act(layer, scaleKind)
	if g.err != nil {
		return make([]float32, rows*d)
	}
	dn := make([]float32, rows*d)
	kernels.Affine(dn, dh, w.weight, nil)
	if g.param != nil {
		dw := g.paramGrad(w.name+".weight", d)
		for i, v := range dh {
			dw[i%d] += v * normalized[i]
		}
		if w.bias != nil {
			db := g.paramGrad(w.name+".bias", d)
			for r := range rows {
				kernels.Add(db, dh[r*d:(r+1)*d])
			}
		}
	}
	g.hook(layer, scaleKind+1, dn, g.t.seq, d)

	dscale := make([]float32, rows)
	kernels.ScaleGrad(dscale, dn, normalized, scale, d)
	g.hook(layer, scaleKind, dscale, g.t.seq, 1)

	dx := make([]float32, rows*d)
	if layerNorm {
		kernels.LayerNormGrad(dx, dn, normalized, scale, d, true)
	} else {
		kernels.RMSNormGrad(dx, dn, normalized, scale, d, true)
	}
	if !g.rules.Norm {
		// The divisor's own gradient: ∂scale/∂x_i = normalized_i / d for
		// both norms.
		for r, ds := range dscale {
			for i := range d {
				dx[r*d+i] += normalized[r*d+i] * ds / float32(d)
			}
		}
	}
	return dx
}

// unembed starts the pass: it carries the logits gradient through the
// unembedding and the final norm into g.resid.
func (g *grad) unembed(dlogits *hooks.Tensor) {
	t, m := g.t, g.m
	d := m.DModel
	normW, out := m.arch.final()

	// dh: gradient at the final norm's output, zero at rows without logits.
	dh := make([]float32, t.rows*d)
	h := g.affine(-1, hooks.LnFinalNormalized, normW)
	positions := dlogits.Shape[1]
	for b := range t.batch {
		for i := range positions {
			row := b*t.seq + i
			if positions == 1 {
				row = b*t.seq + t.seq - 1
			}
			dl := dlogits.Data[(b*positions+i)*m.VocabSize:][:m.VocabSize]
			if limit := m.FinalSoftCap; limit > 0 {
				// logits = limit·tanh(u/limit), so du = dlogits·(1 − (logits/limit)²).
				capped := t.output[(b*positions+i)*m.VocabSize:][:m.VocabSize]
				du := make([]float32, len(dl))
				for j, v := range dl {
					r := capped[j] / limit
					du[j] = v * (1 - r*r)
				}
				dl = du
			}
			kernels.MatMulInputGrad(dh[row*d:(row+1)*d], dl, 1, &out.Matrix)
			if g.param != nil {
				kernels.AddOuterGrad(g.paramGrad(out.name, out.Rows*out.Cols), dl, h[row*d:(row+1)*d], 1, out.Rows, out.Cols)
			}
		}
	}
	g.resid = g.norm(-1, hooks.LnFinalScale, normW, dh, m.Arch == "gpt2")
}

// attention carries dz [rows, n_heads, d_head], the gradient at hook_z,
// back through attention. qKind and kKind name the points holding the
// queries and keys that met in the scores (after RoPE where the model has
// it). It calls the pattern and scores hooks and returns the gradients of
// the queries, keys and values.
func (g *grad) attention(l int, dz []float32, qKind, kKind hooks.Kind) (dq, dk, dv []float32) {
	c, t := g.m.Config, g.t
	dh, heads, kvHeads := c.DHead, c.NHeads, c.NKVHeads
	group := heads / kvHeads
	seq := t.seq
	q, k, v := g.act(l, qKind), g.act(l, kKind), g.act(l, hooks.V)
	pattern, scores := g.act(l, hooks.Pattern), g.act(l, hooks.AttnScores)
	dq = make([]float32, t.rows*heads*dh)
	dk = make([]float32, t.rows*kvHeads*dh)
	dv = make([]float32, t.rows*kvHeads*dh)
	if g.err != nil {
		return
	}

	// dpattern[b, h, i, s] = dz[b, i, h]·v[b, s, h/group]; dv sums pattern·dz
	// over queries and the heads sharing a KV head.
	dpattern := make([]float32, t.batch*heads*seq*seq)
	for b := range t.batch {
		for h := range heads {
			kv := h / group
			for i := range seq {
				dzi := dz[((b*seq+i)*heads+h)*dh:][:dh]
				row := (((b*heads + h) * seq) + i) * seq
				// Masked keys get a pattern gradient too (their probability
				// is 0, but a hook could change it); only real ones pass
				// gradient to the values.
				for s := range seq {
					vs := v[((b*seq+s)*kvHeads+kv)*dh:][:dh]
					dpattern[row+s] = kernels.Dot(dzi, vs)
					if p := pattern[row+s]; p != 0 {
						kernels.Axpy(p, dzi, dv[((b*seq+s)*kvHeads+kv)*dh:][:dh])
					}
				}
			}
		}
	}
	g.hook(l, hooks.Pattern, dpattern, heads, seq, seq)

	dscores := make([]float32, len(dpattern))
	if !g.rules.Pattern {
		for row := 0; row < len(dpattern); row += seq {
			kernels.SoftmaxGrad(dscores[row:row+seq], dpattern[row:row+seq], pattern[row:row+seq])
		}
	}
	g.hook(l, hooks.AttnScores, dscores, heads, seq, seq)
	if g.rules.Pattern {
		return
	}

	// scores = cap·tanh(scale·q·k / cap) with a soft cap, else scale·q·k.
	softCap := c.AttnSoftCap
	for b := range t.batch {
		for h := range heads {
			kv := h / group
			for i := range seq {
				qi := q[((b*seq+i)*heads+h)*dh:][:dh]
				dqi := dq[((b*seq+i)*heads+h)*dh:][:dh]
				row := (((b*heads + h) * seq) + i) * seq
				for s := 0; s <= i; s++ {
					ds := dscores[row+s]
					if ds == 0 {
						continue
					}
					if softCap > 0 {
						r := scores[row+s] / softCap
						ds *= 1 - r*r
					}
					ds *= c.AttnScale
					kernels.Axpy(ds, k[((b*seq+s)*kvHeads+kv)*dh:][:dh], dqi)
					kernels.Axpy(ds, qi, dk[((b*seq+s)*kvHeads+kv)*dh:][:dh])
				}
			}
		}
	}
	return
}

// unrotate carries a gradient at rotated queries or keys back through
// block l's RoPE.
func (g *grad) unrotate(l int, dx []float32, heads int) {
	ropeRotate(g.m, dx, g.t.pos, heads, g.m.ropeBase(l), true)
}

// activation carries dy back through y = f(pre), an elementwise activation
// with derivative fGrad, or by the identity rule under RelP.
func (g *grad) activation(dy, pre, post []float32, fGrad func(dx, dy, x []float32)) []float32 {
	dx := make([]float32, len(dy))
	if g.rules.Activation {
		kernels.RatioGrad(dx, dy, pre, post)
	} else {
		fGrad(dx, dy, pre)
	}
	return dx
}

// gated carries dpost back through post = f(gate) ⊙ up, returning the
// gradients of gate and up. Under RelP each factor gets half of its
// gradient and f passes the output/input ratio.
func (g *grad) gated(dpost, gate, up []float32, f func(out, x []float32), fGrad func(dx, dy, x []float32)) (dgate, dup []float32) {
	act := make([]float32, len(gate))
	f(act, gate)
	dup = make([]float32, len(dpost))
	dact := make([]float32, len(dpost))
	for i, d := range dpost {
		dup[i] = d * act[i]
		dact[i] = d * up[i]
	}
	if g.rules.Gate {
		kernels.Scale(dup, 0.5)
		kernels.Scale(dact, 0.5)
	}
	return g.activation(dact, gate, act, fGrad), dup
}

// embedRows adds dx's rows into the gradient of an embedding matrix at the
// rows ids select, when weight gradients are requested.
func (g *grad) embedRows(w matrix, dx []float32, ids []int32, scale float32) {
	if g.param == nil {
		return
	}
	d := w.Cols
	dw := g.paramGrad(w.name, w.Rows*d)
	for i, id := range ids {
		kernels.Axpy(scale, dx[i*d:(i+1)*d], dw[int(id)*d:(int(id)+1)*d])
	}
}
