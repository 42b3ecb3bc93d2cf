package interp

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSNMFIteration times one iteration of the factorization (least
// squares, sparsity, rescaling, multiplicative update) on a random
// Gaussian 3072 × 50,000 matrix with k = 50, GPT-2 small's d_mlp and a
// corpus of 50,000 tokens. The matrix takes 1.2 GB.
func BenchmarkSNMFIteration(b *testing.B) {
	benchmarkIteration(b, 3072, 50000, 50)
}

// BenchmarkSNMFIterationSmall is the same on 172 × 20,000 with k = 32,
// stories260K's d_mlp.
func BenchmarkSNMFIterationSmall(b *testing.B) {
	benchmarkIteration(b, 172, 20000, 32)
}

func benchmarkIteration(b *testing.B, d, n, k int) {
	at := randomActivations(d, n, 1)
	opts, err := SNMFOptions{K: k}.withDefaults(at)
	if err != nil {
		b.Fatal(err)
	}
	s, err := newSNMFSolver(at, opts)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := s.initialize(context.Background()); err != nil {
		b.Fatal(err)
	}
	initSeconds := time.Since(start).Seconds()
	for b.Loop() {
		if _, err := s.iterate(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(initSeconds, "init-s")
}
