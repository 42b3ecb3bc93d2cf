package interp

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// syntheticActivations returns A = Z·Y [d, n] with a Z of nonZeros signed
// entries per column and a non-negative Y of which about half the entries
// are zero, as the token-major Aᵀ [n, d] that Activations holds.
func syntheticActivations(d, n, k, nonZeros int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 1))
	z := mat.NewDense(d, k, nil)
	for j := range k {
		for _, i := range rng.Perm(d)[:nonZeros] {
			z.Set(i, j, rng.NormFloat64())
		}
	}
	y := mat.NewDense(k, n, nil)
	for j := range k {
		for t := range n {
			if rng.Float64() < 0.5 {
				y.Set(j, t, rng.ExpFloat64())
			}
		}
	}
	at := mat.NewDense(n, d, nil)
	at.Mul(y.T(), z.T())
	return at
}

// randomActivations returns a dense Gaussian Aᵀ [n, d], a matrix without
// low-rank structure.
func randomActivations(d, n int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 2))
	at := mat.NewDense(n, d, nil)
	for t := range n {
		for i := range d {
			at.Set(t, i, rng.NormFloat64())
		}
	}
	return at
}

// directLoss returns ‖A − Z·Y‖²_F computed entry by entry.
func directLoss(at, z, yt *mat.Dense) float64 {
	var fit mat.Dense
	fit.Mul(yt, z.T())
	fit.Sub(at, &fit)
	norm := mat.Norm(&fit, 2)
	return norm * norm
}

func newTestSolver(t *testing.T, at *mat.Dense, opts SNMFOptions) *snmfSolver {
	t.Helper()
	opts, err := opts.withDefaults(at)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSNMFSolver(at, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.initialize(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSNMFKeepsYNonNegative(t *testing.T) {
	for _, init := range []string{SNMFInitSVD, SNMFInitKMeans, SNMFInitRandom} {
		t.Run(init, func(t *testing.T) {
			s := newTestSolver(t, randomActivations(30, 120, 1), SNMFOptions{K: 6, Sparsity: 0.2, Init: init})
			for it := 1; it <= 15; it++ {
				if _, err := s.iterate(); err != nil {
					t.Fatal(err)
				}
				for tok := range s.n {
					for j, v := range s.yt.RawRowView(tok) {
						if !(v >= 0) {
							t.Fatalf("iteration %d: Y[%d, %d] = %g", it, j, tok, v)
						}
					}
				}
			}
		})
	}
}

func TestSNMFColumnSparsity(t *testing.T) {
	at := randomActivations(50, 100, 3)
	for _, tc := range []struct {
		sparsity float64
		maxKept  int
	}{
		{0.01, 1}, // ⌈0.5⌉
		{0.02, 1}, // exactly 1
		{0.1, 5},
		{0.13, 7}, // ⌈6.5⌉
		{1, 50},
	} {
		res, err := SNMF(context.Background(), at.T(), SNMFOptions{K: 5, Sparsity: tc.sparsity, Iters: 5})
		if err != nil {
			t.Fatal(err)
		}
		for j := range 5 {
			nonZeros := 0
			for i := range 50 {
				if res.Z.At(i, j) != 0 {
					nonZeros++
				}
			}
			if nonZeros > tc.maxKept {
				t.Errorf("sparsity %g: column %d has %d non-zeros, want at most %d", tc.sparsity, j, nonZeros, tc.maxKept)
			}
			if nonZeros == 0 {
				t.Errorf("sparsity %g: column %d has no non-zero entry", tc.sparsity, j)
			}
		}
	}
}

// The multiplicative update never increases the loss for fixed Z, and
// updateY's loss from products equals the loss computed entry by entry.
func TestSNMFMultiplicativeStepNeverIncreasesLoss(t *testing.T) {
	for _, init := range []string{SNMFInitSVD, SNMFInitRandom} {
		t.Run(init, func(t *testing.T) {
			s := newTestSolver(t, randomActivations(30, 150, 4), SNMFOptions{K: 8, Sparsity: 1, Init: init})
			for it := 1; it <= 20; it++ {
				if err := s.solveZ(); err != nil {
					t.Fatal(err)
				}
				s.normalizeRows()
				before := directLoss(s.at, s.z, s.yt)
				got := s.updateY()
				after := directLoss(s.at, s.z, s.yt)
				if after > before*(1+1e-12) {
					t.Errorf("iteration %d: the update raised the loss from %.15g to %.15g", it, before, after)
				}
				if math.Abs(got-after) > 1e-9*s.normA2 {
					t.Errorf("iteration %d: updateY returned loss %.15g, entry by entry it is %.15g", it, got, after)
				}
			}
		})
	}
}

func TestSNMFRecoversSyntheticMatrix(t *testing.T) {
	at := synthesizedForRecovery()
	res, err := SNMF(context.Background(), at.T(), SNMFOptions{K: 4, Sparsity: 1, Iters: 300, Patience: 300})
	if err != nil {
		t.Fatal(err)
	}
	if res.RelativeError >= 1e-3 {
		t.Errorf("relative error %g after %d iterations, want below 1e-3", res.RelativeError, len(res.Loss))
	}
	var fit mat.Dense
	fit.Mul(res.Z, res.Y)
	fit.Sub(at.T(), &fit)
	direct := mat.Norm(&fit, 2) / mat.Norm(at, 2)
	if math.Abs(direct-res.RelativeError) > 1e-6 {
		t.Errorf("reported relative error %g, entry by entry %g", res.RelativeError, direct)
	}
}

func synthesizedForRecovery() *mat.Dense { return syntheticActivations(40, 300, 4, 6, 5) }

func TestSNMFSameSeedSameFactors(t *testing.T) {
	at := randomActivations(40, 200, 6)
	for _, init := range []string{SNMFInitSVD, SNMFInitKMeans, SNMFInitRandom} {
		t.Run(init, func(t *testing.T) {
			opts := SNMFOptions{K: 5, Sparsity: 0.1, Iters: 10, Init: init, Seed: 42}
			first, err := SNMF(context.Background(), at.T(), opts)
			if err != nil {
				t.Fatal(err)
			}
			second, err := SNMF(context.Background(), at.T(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if !mat.Equal(first.Z, second.Z) {
				t.Error("Z differs between two runs with the same seed")
			}
			if !mat.Equal(first.Y, second.Y) {
				t.Error("Y differs between two runs with the same seed")
			}
		})
	}
}

// The randomized SVD (for matrices above exactSVDMaxElements) also
// depends on the seed alone, and finds the leading singular values.
func TestTruncatedSVDRandomizedPath(t *testing.T) {
	d, n, k := 64, 1<<16+1, 3
	at := syntheticActivations(d, n, k, 8, 7)
	s := newTestSolver(t, at, SNMFOptions{K: k, Iters: 1})
	_, sigma, _, err := s.truncatedSVD(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var exact mat.SVD
	if !exact.Factorize(at, mat.SVDNone) {
		t.Fatal("exact SVD failed")
	}
	want := exact.Values(nil)
	for j := range k {
		if math.Abs(sigma[j]-want[j]) > 1e-8*want[0] {
			t.Errorf("singular value %d: randomized %g, exact %g", j, sigma[j], want[j])
		}
	}
}

func TestSNMFKeepsBestFactors(t *testing.T) {
	at := randomActivations(30, 100, 8)
	res, err := SNMF(context.Background(), at.T(), SNMFOptions{K: 6, Sparsity: 0.05, Iters: 20, Patience: 20})
	if err != nil {
		t.Fatal(err)
	}
	best := res.Loss[res.BestIteration-1]
	for i, loss := range res.Loss {
		if loss < best {
			t.Errorf("iteration %d has loss %g, below the kept iteration %d's %g", i+1, loss, res.BestIteration, best)
		}
	}
	var fit mat.Dense
	fit.Mul(res.Z, res.Y)
	fit.Sub(at.T(), &fit)
	norm := mat.Norm(&fit, 2)
	if math.Abs(norm*norm-best) > 1e-8*best {
		t.Errorf("the returned factors have loss %g, the kept iteration reported %g", norm*norm, best)
	}
}

func TestSNMFStopsWhenNoLongerImproving(t *testing.T) {
	at := synthesizedForRecovery()
	res, err := SNMF(context.Background(), at.T(), SNMFOptions{K: 4, Sparsity: 0.25, Iters: 1000, Patience: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Loss) == 1000 {
		t.Error("ran all 1000 iterations; patience 3 should have stopped it")
	}
}

func TestSNMFInterruptReturnsBestSoFar(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := SNMFOptions{K: 4, Iters: 50, Patience: 50, Progress: func(p SNMFProgress) {
		if p.Iteration == 3 {
			cancel()
		}
	}}
	res, err := SNMF(ctx, randomActivations(20, 80, 9).T(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted {
		t.Error("Interrupted not set")
	}
	if len(res.Loss) != 3 {
		t.Errorf("%d iterations ran, want 3", len(res.Loss))
	}
	if res.Z == nil || res.Y == nil {
		t.Error("no factors returned")
	}
}

func TestSNMFInterruptBeforeFirstIteration(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := SNMF(ctx, randomActivations(20, 80, 9).T(), SNMFOptions{K: 4, Init: SNMFInitRandom})
	if err == nil || !strings.Contains(err.Error(), "before the first iteration") {
		t.Errorf("got error %v, want one about the first iteration", err)
	}
}

func TestSNMFRejectsInvalidInput(t *testing.T) {
	at := randomActivations(10, 20, 10)
	nan := mat.DenseCopyOf(at)
	nan.Set(3, 4, math.NaN())
	for _, tc := range []struct {
		name string
		at   *mat.Dense
		opts SNMFOptions
		want string
	}{
		{"k zero", at, SNMFOptions{}, "k = 0"},
		{"k above neurons", at, SNMFOptions{K: 11}, "k = 11"},
		{"sparsity above one", at, SNMFOptions{K: 2, Sparsity: 1.5}, "sparsity 1.5"},
		{"negative sparsity", at, SNMFOptions{K: 2, Sparsity: -0.1}, "sparsity -0.1"},
		{"negative iterations", at, SNMFOptions{K: 2, Iters: -1}, "iterations"},
		{"unknown init", at, SNMFOptions{K: 2, Init: "pca"}, `initialization "pca"`},
		{"zero matrix", mat.NewDense(20, 10, nil), SNMFOptions{K: 2}, "is zero"},
		{"not a number", nan, SNMFOptions{K: 2}, "non-finite value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SNMF(context.Background(), tc.at.T(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSNMFCopiesOtherMatrices(t *testing.T) {
	at := randomActivations(12, 40, 11)
	a := mat.DenseCopyOf(at.T()) // a [d, n] that is not a transpose
	opts := SNMFOptions{K: 3, Iters: 5, Seed: 1}
	fromDense, err := SNMF(context.Background(), a, opts)
	if err != nil {
		t.Fatal(err)
	}
	fromTranspose, err := SNMF(context.Background(), at.T(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !mat.EqualApprox(fromDense.Z, fromTranspose.Z, 1e-12) {
		t.Error("a dense A and the transpose of Aᵀ give different factors")
	}
}
