package interp

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

const (
	// svdOversampling is the number of extra columns of the randomized
	// SVD's test matrix, and svdPowerIterations the passes of subspace
	// iteration that sharpen its spectrum (Halko, Martinsson and Tropp,
	// "Finding Structure with Randomness", 2011).
	svdOversampling    = 10
	svdPowerIterations = 2
	// exactSVDMaxElements bounds the matrices that get an exact thin SVD
	// instead of the randomized one.
	exactSVDMaxElements = 1 << 22
	// svdFloor is the value, relative to the mean of a row's positive
	// entries, that replaces the entries of the initial Y that clipping set
	// to zero. The multiplicative update cannot move an exact zero, so
	// without a floor those entries would stay zero for good. On synthetic
	// 40 × 300 products Z·Y of rank 4 (see TestSNMFRecoversSyntheticMatrix),
	// 300 iterations reached a relative error of about 1e-6 from a floor of
	// 0.5, 3e-3 from 0.01, and 0.1 with no floor.
	svdFloor = 0.5
	// kmeansIterations bounds Lloyd's iterations of the k-means
	// initialization.
	kmeansIterations = 20
	// kmeansOffset is added to the cluster indicators of the k-means
	// initialization, as Ding, Li and Jordan do, so that every entry of Y
	// starts positive.
	kmeansOffset = 0.2
)

// snmfRand returns the random source of an initialization.
func (s *snmfSolver) snmfRand() *rand.Rand {
	return rand.New(rand.NewPCG(s.opts.Seed, s.opts.Seed^0x9e3779b97f4a7c15))
}

// initSVD sets Z = U·√Σ and Yᵀ = V·√Σ from the k leading singular triplets
// of A ≈ U·Σ·Vᵀ. Each component's sign is chosen so that its row of Y has
// more positive than negative mass, Y is clipped to its non-negative part,
// and the clipped entries are raised to a floor (see svdFloor).
func (s *snmfSolver) initSVD(ctx context.Context) error {
	u, sigma, v, err := s.truncatedSVD(ctx)
	if err != nil {
		return err
	}
	s.z = mat.NewDense(s.d, s.k, nil)
	s.yt = mat.NewDense(s.n, s.k, nil)
	rng := s.snmfRand()
	for j := range s.k {
		root := math.Sqrt(sigma[j])
		var pos, neg float64
		for t := range s.n {
			x := v.At(t, j)
			if x > 0 {
				pos += x * x
			} else {
				neg += x * x
			}
		}
		sign := 1.0
		if neg > pos {
			sign = -1
		}
		for i := range s.d {
			s.z.Set(i, j, sign*root*u.At(i, j))
		}

		sum, count := 0.0, 0
		for t := range s.n {
			x := sign * root * v.At(t, j)
			if x > 0 {
				s.yt.Set(t, j, x)
				sum += x
				count++
			}
		}
		if count == 0 {
			// A singular value of zero (A has rank below k): any
			// non-negative row will do, and the first update fits it.
			for t := range s.n {
				s.yt.Set(t, j, rng.Float64())
			}
			continue
		}
		floor := svdFloor * sum / float64(count)
		for t := range s.n {
			if s.yt.At(t, j) < floor {
				s.yt.Set(t, j, floor)
			}
		}
	}
	return nil
}

// truncatedSVD returns the k leading singular triplets of A: U [d, k], Σ
// [k] and V [tokens, k]. Small matrices get an exact thin SVD, larger ones
// the randomized SVD with oversampling and power iterations, whose random
// test matrix is seeded.
func (s *snmfSolver) truncatedSVD(ctx context.Context) (u *mat.Dense, sigma []float64, v *mat.Dense, err error) {
	width := s.k + svdOversampling
	if s.n*s.d <= exactSVDMaxElements || width >= min(s.n, s.d) {
		// Aᵀ = U'·Σ·V'ᵀ, so A's left singular vectors are V' and its
		// right ones U'.
		var svd mat.SVD
		if !svd.Factorize(s.at, mat.SVDThin) {
			return nil, nil, nil, errors.New("the SVD of the activation matrix did not converge")
		}
		var left, right mat.Dense
		svd.UTo(&right)
		svd.VTo(&left)
		return denseColumns(&left, s.k), svd.Values(nil)[:s.k], denseColumns(&right, s.k), nil
	}

	rng := s.snmfRand()
	omega := mat.NewDense(s.n, width, nil)
	for t := range s.n {
		for j := range width {
			omega.Set(t, j, rng.NormFloat64())
		}
	}
	q := mat.NewDense(s.d, width, nil) // an orthonormal basis of A·Ω
	q.Mul(s.at.T(), omega)
	orthonormalize(q, rng)
	w := mat.NewDense(s.n, width, nil)
	for range svdPowerIterations {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, err
		}
		w.Mul(s.at, q)
		orthonormalize(w, rng)
		q.Mul(s.at.T(), w)
		orthonormalize(q, rng)
	}

	// With B = Qᵀ·A: Bᵀ = Aᵀ·Q = U_b·Σ·V_bᵀ, so A ≈ Q·B = (Q·V_b)·Σ·U_bᵀ.
	w.Mul(s.at, q)
	var svd mat.SVD
	if !svd.Factorize(w, mat.SVDThin) {
		return nil, nil, nil, errors.New("the SVD of the projected activation matrix did not converge")
	}
	var ub, vb mat.Dense
	svd.UTo(&ub)
	svd.VTo(&vb)
	left := mat.NewDense(s.d, width, nil)
	left.Mul(q, &vb)
	return denseColumns(left, s.k), svd.Values(nil)[:s.k], denseColumns(&ub, s.k), nil
}

// denseColumns returns a copy of the first k columns of m.
func denseColumns(m *mat.Dense, k int) *mat.Dense {
	r, _ := m.Dims()
	return mat.DenseCopyOf(m.Slice(0, r, 0, k))
}

// orthonormalize replaces the columns of m by an orthonormal basis of their
// span, by modified Gram–Schmidt applied twice. A column that is
// (numerically) in the span of the ones before it is replaced by a random
// vector, so the result has full column rank.
func orthonormalize(m *mat.Dense, rng *rand.Rand) {
	cols := mat.DenseCopyOf(m.T()) // one row per column of m
	c, r := cols.Dims()
	for j := range c {
		col := cols.RawRowView(j)
		original := math.Sqrt(dot64(col, col))
		for attempt := 0; ; attempt++ {
			for range 2 {
				for i := range j {
					prev := cols.RawRowView(i)
					proj := dot64(prev, col)
					for t := range r {
						col[t] -= proj * prev[t]
					}
				}
			}
			norm := math.Sqrt(dot64(col, col))
			if norm > 1e-10*original && norm > 0 || attempt == 3 {
				for t := range col {
					col[t] /= norm
				}
				break
			}
			for t := range col {
				col[t] = rng.NormFloat64()
			}
			original = math.Sqrt(dot64(col, col))
		}
	}
	m.Copy(cols.T())
}

// dot64 returns the dot product of a and b.
func dot64(a, b []float64) float64 {
	var s float64
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

// initRandom sets Z to standard normal values and Y to uniform values in
// [0, 1).
func (s *snmfSolver) initRandom() {
	rng := s.snmfRand()
	s.z = mat.NewDense(s.d, s.k, nil)
	for i := range s.d {
		for j := range s.k {
			s.z.Set(i, j, rng.NormFloat64())
		}
	}
	s.yt = mat.NewDense(s.n, s.k, nil)
	for t := range s.n {
		for j := range s.k {
			s.yt.Set(t, j, rng.Float64())
		}
	}
}

// initKMeans clusters the tokens' activation vectors (the columns of A)
// into k clusters with k-means++ seeding and Lloyd's iterations, then sets
// Z's columns to the centroids and Y to the cluster indicators plus
// kmeansOffset.
func (s *snmfSolver) initKMeans(ctx context.Context) error {
	rng := s.snmfRand()
	centroids := s.kmeansPlusPlus(rng) // [d, k]
	assign := make([]int, s.n)
	for i := range assign {
		assign[i] = -1
	}
	for range kmeansIterations {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !s.assignClusters(centroids, assign) {
			break
		}
		s.updateCentroids(centroids, assign)
	}

	s.z = centroids
	s.yt = mat.NewDense(s.n, s.k, nil)
	for t := range s.n {
		for j := range s.k {
			s.yt.Set(t, j, kmeansOffset)
		}
		s.yt.Set(t, assign[t], 1+kmeansOffset)
	}
	return nil
}

// kmeansPlusPlus picks k tokens as initial centroids, each next one with
// probability proportional to its squared distance from the nearest
// centroid so far, and returns them as the columns of a [d, k] matrix.
func (s *snmfSolver) kmeansPlusPlus(rng *rand.Rand) *mat.Dense {
	centroids := mat.NewDense(s.d, s.k, nil)
	nearest := make([]float64, s.n)
	for t := range nearest {
		nearest[t] = math.Inf(1)
	}
	pick := rng.IntN(s.n)
	for j := range s.k {
		c := s.at.RawRowView(pick)
		centroids.SetCol(j, c)
		total := 0.0
		for t := range s.n {
			dist := squaredDistance(s.at.RawRowView(t), c)
			nearest[t] = min(nearest[t], dist)
			total += nearest[t]
		}
		if total == 0 {
			// Every token sits on a centroid, so any token can repeat one.
			pick = rng.IntN(s.n)
			continue
		}
		target := rng.Float64() * total
		for t, dist := range nearest {
			target -= dist
			if target < 0 {
				pick = t
				break
			}
		}
	}
	return centroids
}

// assignClusters sets assign[t] to the centroid nearest token t and
// reports whether any assignment changed.
func (s *snmfSolver) assignClusters(centroids *mat.Dense, assign []int) bool {
	cross := mat.NewDense(s.n, s.k, nil) // x_t·c_j
	cross.Mul(s.at, centroids)
	norms := make([]float64, s.k) // ‖c_j‖²
	for i := range s.d {
		for j, v := range centroids.RawRowView(i) {
			norms[j] += v * v
		}
	}
	changed := false
	for t := range s.n {
		row := cross.RawRowView(t)
		best, bestDist := 0, math.Inf(1)
		for j, x := range row {
			// ‖x − c‖² = ‖x‖² − 2x·c + ‖c‖², without the constant ‖x‖².
			if dist := norms[j] - 2*x; dist < bestDist {
				best, bestDist = j, dist
			}
		}
		if assign[t] != best {
			assign[t] = best
			changed = true
		}
	}
	return changed
}

// updateCentroids sets each centroid to the mean of its tokens. An empty
// cluster takes the token farthest from its own centroid.
func (s *snmfSolver) updateCentroids(centroids *mat.Dense, assign []int) {
	sums := mat.NewDense(s.k, s.d, nil)
	counts := make([]int, s.k)
	for t, c := range assign {
		row := sums.RawRowView(c)
		for i, v := range s.at.RawRowView(t) {
			row[i] += v
		}
		counts[c]++
	}
	for j, count := range counts {
		if count == 0 {
			far, farDist := 0, -1.0
			col := make([]float64, s.d)
			for t, c := range assign {
				mat.Col(col, c, centroids)
				if dist := squaredDistance(s.at.RawRowView(t), col); dist > farDist {
					far, farDist = t, dist
				}
			}
			copy(sums.RawRowView(j), s.at.RawRowView(far))
			counts[j] = 1
		}
		row := sums.RawRowView(j)
		for i := range row {
			row[i] /= float64(counts[j])
		}
		centroids.SetCol(j, row)
	}
}

func squaredDistance(a, b []float64) float64 {
	var s float64
	for i, x := range a {
		diff := x - b[i]
		s += diff * diff
	}
	return s
}
