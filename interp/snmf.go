package interp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// SNMF initializations, named as in `interp snmf --init`.
const (
	// SNMFInitSVD starts from a truncated SVD A ≈ U·Σ·Vᵀ: Z = U·√Σ and Y
	// the non-negative part of √Σ·Vᵀ (see initSVD).
	SNMFInitSVD = "svd"
	// SNMFInitKMeans starts from k-means clusters of the tokens' activation
	// vectors: Z holds the centroids and Y the cluster indicators plus 0.2.
	SNMFInitKMeans = "kmeans"
	// SNMFInitRandom starts from a Gaussian Z and a uniform Y.
	SNMFInitRandom = "random"
)

// Defaults of SNMFOptions, also those of `interp snmf`.
const (
	DefaultSNMFSparsity = 0.01
	DefaultSNMFIters    = 200
	DefaultSNMFPatience = 10
)

const (
	// snmfTolerance is the relative improvement of the best loss below
	// which an iteration counts towards the patience.
	snmfTolerance = 1e-4
	// snmfRidge is the ridge term λ of the least-squares step relative to
	// the mean diagonal of Y·Yᵀ, which is 1 once Y's rows have unit norm.
	snmfRidge = 1e-9
	// snmfEpsilon keeps the multiplicative update's denominator positive.
	// It matters only where an entry of Y is already zero.
	snmfEpsilon = 1e-300
)

// SNMFOptions configures SNMF. The zero value of every field but K selects
// its default.
type SNMFOptions struct {
	// K is the number of features, at least 1 and at most
	// min(d_mlp, tokens).
	K int
	// Sparsity is the fraction p of each column of Z that is kept, in
	// (0, 1]: ⌈p·d_mlp⌉ entries, at least one. 0 means
	// DefaultSNMFSparsity, and 1 keeps every entry and skips the step.
	Sparsity float64
	// Iters bounds the number of iterations. 0 means DefaultSNMFIters.
	Iters int
	// Patience stops the factorization after this many consecutive
	// iterations that improve the best loss by less than a relative 1e-4;
	// 0 means DefaultSNMFPatience.
	Patience int
	// Init is SNMFInitSVD (the default when empty), SNMFInitKMeans or
	// SNMFInitRandom.
	Init string
	// Seed seeds the random numbers of every initialization (the
	// randomized SVD's test matrix, k-means++ and the random factors).
	// The same seed, input and options give the same factors.
	Seed uint64
	// Progress, if set, is called after every iteration.
	Progress func(SNMFProgress)
}

// SNMFProgress reports one finished iteration.
type SNMFProgress struct {
	Iteration, Iters int
	// Loss is ‖A − Z·Y‖²_F after the iteration.
	Loss float64
	// RelativeError is ‖A − Z·Y‖_F / ‖A‖_F after the iteration.
	RelativeError float64
}

// SNMFResult is a factorization A ≈ Z·Y with the factors of the iteration
// with the lowest loss.
type SNMFResult struct {
	Z *mat.Dense // [d_mlp, k]: features, ⌈p·d_mlp⌉ non-zeros per column at most
	Y *mat.Dense // [k, tokens], non-negative, each row of unit norm (or zero)
	// Loss is ‖A − Z·Y‖²_F after each iteration, in order.
	Loss []float64
	// BestIteration is the iteration, counting from 1, whose factors Z and
	// Y are.
	BestIteration int
	// RelativeError is ‖A − Z·Y‖_F / ‖A‖_F of Z and Y.
	RelativeError float64
	// Interrupted is set when the context was cancelled before the last
	// iteration: Z and Y are then the best factors found so far.
	Interrupted bool
}

// SNMF factors a matrix of MLP hidden activations A [d_mlp, tokens] as
// A ≈ Z·Y with Y ≥ 0 (semi-nonnegative matrix factorization, from
// "Decomposing MLP Activations into Interpretable Features via
// Semi-Nonnegative Matrix Factorization", arXiv:2506.10920). Each column
// of Z [d_mlp, k] is a feature, a sparse signed combination of neurons. Row
// i of Y [k, tokens] gives how strongly each token expresses feature i.
//
// One iteration has four steps:
//  1. Z by least squares given Y, with a small ridge term:
//     Z = A·Yᵀ·(Y·Yᵀ + λI)⁻¹.
//  2. Sparsity: each column of Z keeps its ⌈p·d_mlp⌉ entries of largest
//     magnitude (at least one), and the kept entries are refitted by least
//     squares against the residual of the other columns.
//  3. Each row of Y is scaled to unit norm and its scale moved into Z, which
//     leaves Z·Y unchanged.
//  4. Y by the multiplicative update of Ding, Li and Jordan ("Convex and
//     Semi-Nonnegative Matrix Factorizations", IEEE TPAMI 2010), which
//     keeps Y ≥ 0 and never increases ‖A − Z·Y‖²_F for fixed Z:
//     Y ← Y ⊙ sqrt(([ZᵀA]⁺ + [ZᵀZ]⁻·Y) / ([ZᵀA]⁻ + [ZᵀZ]⁺·Y)),
//     where M⁺ and M⁻ are the positive and negative parts, M = M⁺ − M⁻.
//
// A that is the transpose of a *mat.Dense, such as Activations.Matrix.T(),
// is used in place, and any other matrix is copied once. It returns an error
// for invalid options or input (a zero or non-finite matrix), and when ctx
// is cancelled before the first iteration has finished. Cancelled later, it
// returns the best factors so far with Interrupted set.
func SNMF(ctx context.Context, a mat.Matrix, opts SNMFOptions) (*SNMFResult, error) {
	at := tokenMajor(a)
	opts, err := opts.withDefaults(at)
	if err != nil {
		return nil, err
	}
	s, err := newSNMFSolver(at, opts)
	if err != nil {
		return nil, err
	}
	if err := s.initialize(ctx); err != nil {
		return nil, fmt.Errorf("interp: snmf initialization: %w", err)
	}

	res := &SNMFResult{}
	best := math.Inf(1)
	var bestZ, bestYt mat.Dense
	stalled := 0
	for it := 1; it <= opts.Iters; it++ {
		if ctx.Err() != nil {
			res.Interrupted = true
			break
		}
		loss, err := s.iterate()
		if err == nil && math.IsNaN(loss) {
			err = errors.New("the loss is NaN")
		}
		if err != nil {
			return nil, fmt.Errorf("interp: snmf iteration %d: %w", it, err)
		}
		res.Loss = append(res.Loss, loss)
		if opts.Progress != nil {
			opts.Progress(SNMFProgress{Iteration: it, Iters: opts.Iters, Loss: loss, RelativeError: s.relativeError(loss)})
		}

		if best-loss < snmfTolerance*best {
			stalled++
		} else {
			stalled = 0
		}
		if loss < best {
			best = loss
			res.BestIteration = it
			bestZ.CloneFrom(s.z)
			bestYt.CloneFrom(s.yt)
		}
		if stalled >= opts.Patience {
			break
		}
	}
	if res.BestIteration == 0 {
		return nil, fmt.Errorf("interp: snmf: %w before the first iteration finished", context.Cause(ctx))
	}
	res.Z = &bestZ
	res.Y = mat.DenseCopyOf(bestYt.T())
	res.RelativeError = s.relativeError(best)
	return res, nil
}

// tokenMajor returns Aᵀ [tokens, d_mlp] as a *mat.Dense, without copying
// when a is the transpose of one.
func tokenMajor(a mat.Matrix) *mat.Dense {
	if t, ok := a.(mat.Transpose); ok {
		if d, ok := t.Matrix.(*mat.Dense); ok {
			return d
		}
	}
	return mat.DenseCopyOf(a.T())
}

// withDefaults fills in the defaults and checks the options against Aᵀ.
func (o SNMFOptions) withDefaults(at *mat.Dense) (SNMFOptions, error) {
	n, d := at.Dims()
	if o.Sparsity == 0 {
		o.Sparsity = DefaultSNMFSparsity
	}
	if o.Iters == 0 {
		o.Iters = DefaultSNMFIters
	}
	if o.Patience == 0 {
		o.Patience = DefaultSNMFPatience
	}
	if o.Init == "" {
		o.Init = SNMFInitSVD
	}
	switch {
	case o.K < 1 || o.K > min(d, n):
		return o, fmt.Errorf("interp: snmf: k = %d features for a matrix of %d neurons and %d tokens; k must be in [1, %d]", o.K, d, n, min(d, n))
	case !(o.Sparsity > 0 && o.Sparsity <= 1):
		return o, fmt.Errorf("interp: snmf: sparsity %g is not a fraction in (0, 1]", o.Sparsity)
	case o.Iters < 0:
		return o, fmt.Errorf("interp: snmf: %d iterations; want a positive count", o.Iters)
	case o.Patience < 0:
		return o, fmt.Errorf("interp: snmf: patience %d; want a positive count", o.Patience)
	}
	switch o.Init {
	case SNMFInitSVD, SNMFInitKMeans, SNMFInitRandom:
	default:
		return o, fmt.Errorf("interp: snmf: unknown initialization %q (valid: %s, %s, %s)", o.Init, SNMFInitSVD, SNMFInitKMeans, SNMFInitRandom)
	}
	return o, nil
}

// keptPerColumn returns ⌈p·d⌉ clamped to [1, d]. The small offset keeps a
// product such as 0.01·300 that rounds to just above an integer from
// gaining an entry.
func keptPerColumn(p float64, d int) int {
	kept := int(math.Ceil(p*float64(d) - 1e-9))
	return min(max(kept, 1), d)
}

// snmfSolver holds the factors and the products that the steps share. Y is
// kept transposed, as yt [tokens, k], so that every large product reads Aᵀ
// row by row.
type snmfSolver struct {
	opts    SNMFOptions
	at      *mat.Dense // Aᵀ [tokens, d_mlp]
	n, d, k int
	normA2  float64 // ‖A‖²_F
	kept    int     // entries kept per column of Z

	z   *mat.Dense // [d_mlp, k]
	yt  *mat.Dense // Yᵀ [tokens, k]
	yyt *mat.Dense // Y·Yᵀ [k, k] of the current Y
	ayt *mat.Dense // A·Yᵀ [d_mlp, k], set by solveZ
}

func newSNMFSolver(at *mat.Dense, opts SNMFOptions) (*snmfSolver, error) {
	n, d := at.Dims()
	s := &snmfSolver{opts: opts, at: at, n: n, d: d, k: opts.K, kept: keptPerColumn(opts.Sparsity, d)}
	for i := range n {
		for _, v := range at.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("interp: snmf: the activation matrix has a non-finite value (%g) at token %d", v, i)
			}
			s.normA2 += v * v
		}
	}
	if s.normA2 == 0 {
		return nil, errors.New("interp: snmf: the activation matrix is zero")
	}
	return s, nil
}

// initialize sets Z and Y by the chosen method, scales Y's rows to unit
// norm and computes Y·Yᵀ.
func (s *snmfSolver) initialize(ctx context.Context) error {
	var err error
	switch s.opts.Init {
	case SNMFInitSVD:
		err = s.initSVD(ctx)
	case SNMFInitKMeans:
		err = s.initKMeans(ctx)
	default:
		s.initRandom()
	}
	if err != nil {
		return err
	}
	s.normalizeRows()
	s.yyt = gram(s.yt)
	return nil
}

// iterate runs one iteration and returns ‖A − Z·Y‖²_F after it.
func (s *snmfSolver) iterate() (float64, error) {
	if err := s.solveZ(); err != nil {
		return 0, err
	}
	if s.kept < s.d {
		s.sparsify()
	}
	s.normalizeRows()
	return s.updateY(), nil
}

// solveZ sets Z = A·Yᵀ·(Y·Yᵀ + λI)⁻¹, the least-squares Z for the current Y
// with a ridge term, and leaves A·Yᵀ in s.ayt for sparsify.
func (s *snmfSolver) solveZ() error {
	s.ayt = mat.NewDense(s.d, s.k, nil)
	s.ayt.Mul(s.at.T(), s.yt)

	g := mat.NewSymDense(s.k, nil)
	lambda := s.ridge()
	for i := range s.k {
		for j := i; j < s.k; j++ {
			g.SetSym(i, j, s.yyt.At(i, j))
		}
		g.SetSym(i, i, g.At(i, i)+lambda)
	}
	var chol mat.Cholesky
	if !chol.Factorize(g) {
		return errors.New("Y·Yᵀ + λI is not positive definite; Y has non-finite values")
	}
	var zt mat.Dense
	if err := chol.SolveTo(&zt, s.ayt.T()); err != nil {
		return fmt.Errorf("least squares for Z: %w", err)
	}
	s.z = mat.DenseCopyOf(zt.T())
	return nil
}

// ridge returns λ, snmfRidge times the mean diagonal of Y·Yᵀ.
func (s *snmfSolver) ridge() float64 {
	trace := 0.0
	for i := range s.k {
		trace += s.yyt.At(i, i)
	}
	return snmfRidge * max(trace/float64(s.k), math.SmallestNonzeroFloat64)
}

// sparsify keeps the s.kept entries of largest magnitude in each column of
// Z and refits them. With all other columns fixed, the kept entries S of
// column j that minimize ‖A − Z·Y‖²_F + λ‖z_j‖² are
//
//	z_j[S] = (R·y_jᵀ)[S] / (y_j·y_jᵀ + λ),  R = A − Σ_{i≠j} z_i·y_i,
//
// where y_j is row j of Y and R·y_jᵀ = (A·Yᵀ)_{:,j} − Σ_{i≠j} z_i·(Y·Yᵀ)_{ij}.
// Columns are refitted in order, each against the already refitted ones.
func (s *snmfSolver) sparsify() {
	kept := make([][]int, s.k)
	magnitude := make([]float64, s.d)
	order := make([]int, s.d)
	for j := range s.k {
		for i := range s.d {
			magnitude[i] = math.Abs(s.z.At(i, j))
			order[i] = i
		}
		// Ties go to the lower neuron index, so the result is deterministic.
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case magnitude[a] > magnitude[b]:
				return -1
			case magnitude[a] < magnitude[b]:
				return 1
			}
			return 0
		})
		kept[j] = slices.Clone(order[:s.kept])
		for _, i := range order[s.kept:] {
			s.z.Set(i, j, 0)
		}
	}

	lambda := s.ridge()
	for j := range s.k {
		denominator := s.yyt.At(j, j) + lambda
		for _, i := range kept[j] {
			r := s.ayt.At(i, j)
			row := s.z.RawRowView(i)
			for c, zic := range row {
				if c != j {
					r -= zic * s.yyt.At(c, j)
				}
			}
			row[j] = r / denominator
		}
	}
}

// normalizeRows scales each row of Y to unit norm and the matching column
// of Z by the inverse, leaving Z·Y unchanged. A zero row stays zero.
func (s *snmfSolver) normalizeRows() {
	norms := make([]float64, s.k)
	for t := range s.n {
		for j, v := range s.yt.RawRowView(t) {
			norms[j] += v * v
		}
	}
	for j := range norms {
		norms[j] = math.Sqrt(norms[j])
	}
	for t := range s.n {
		row := s.yt.RawRowView(t)
		for j, nj := range norms {
			if nj > 0 {
				row[j] /= nj
			}
		}
	}
	for i := range s.d {
		row := s.z.RawRowView(i)
		for j, nj := range norms {
			if nj > 0 {
				row[j] *= nj
			}
		}
	}
}

// updateY applies the multiplicative update to Y, updates Y·Yᵀ, and returns
// ‖A − Z·Y‖²_F for the new Y, computed from the products the update
// already has as ‖A‖² − 2·⟨ZᵀA, Y⟩ + ⟨ZᵀZ, Y·Yᵀ⟩.
func (s *snmfSolver) updateY() float64 {
	zta := mat.NewDense(s.n, s.k, nil) // (ZᵀA)ᵀ
	zta.Mul(s.at, s.z)
	var ztz mat.Dense
	ztz.Mul(s.z.T(), s.z)
	posZtZ, negZtZ := splitSigns(&ztz)
	var upPos, upNeg mat.Dense // Yᵀ·[ZᵀZ]⁺ and Yᵀ·[ZᵀZ]⁻, the transposes of [ZᵀZ]^±·Y
	upPos.Mul(s.yt, posZtZ)
	upNeg.Mul(s.yt, negZtZ)

	for t := range s.n {
		y := s.yt.RawRowView(t)
		p := zta.RawRowView(t)
		qPos, qNeg := upPos.RawRowView(t), upNeg.RawRowView(t)
		for j, v := range y {
			numerator := max(p[j], 0) + qNeg[j]
			denominator := max(-p[j], 0) + qPos[j] + snmfEpsilon
			y[j] = v * math.Sqrt(numerator/denominator)
		}
	}
	s.yyt = gram(s.yt)

	cross := 0.0
	for t := range s.n {
		p := zta.RawRowView(t)
		for j, v := range s.yt.RawRowView(t) {
			cross += p[j] * v
		}
	}
	fit := 0.0
	for i := range s.k {
		for j := range s.k {
			fit += ztz.At(i, j) * s.yyt.At(i, j)
		}
	}
	// Rounding can take a near-perfect fit slightly below zero.
	return max(s.normA2-2*cross+fit, 0)
}

// relativeError returns ‖A − Z·Y‖_F / ‖A‖_F for loss = ‖A − Z·Y‖²_F.
func (s *snmfSolver) relativeError(loss float64) float64 {
	return math.Sqrt(loss / s.normA2)
}

// gram returns xᵀ·x.
func gram(x *mat.Dense) *mat.Dense {
	_, c := x.Dims()
	g := mat.NewDense(c, c, nil)
	g.Mul(x.T(), x)
	return g
}

// splitSigns returns the positive part max(m, 0) and the negative part
// max(−m, 0) of m, so that m = pos − neg.
func splitSigns(m *mat.Dense) (pos, neg *mat.Dense) {
	r, c := m.Dims()
	pos, neg = mat.NewDense(r, c, nil), mat.NewDense(r, c, nil)
	for i := range r {
		for j := range c {
			v := m.At(i, j)
			pos.Set(i, j, max(v, 0))
			neg.Set(i, j, max(-v, 0))
		}
	}
	return pos, neg
}
