package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/interp-go/interp/interp"
	"github.com/interp-go/interp/transformer"
)

// sweepResult is the --sweep part of `interp bench`: a full activation
// patching sweep (resid_pre, attn_out and mlp_out by layer and position, z
// by layer and head) timed against one full forward pass per site.
type sweepResult struct {
	Tokens         int     `json:"tokens"`
	Sites          int     `json:"sites"`
	SweepSeconds   float64 `json:"sweep_seconds"`
	ForwardSeconds float64 `json:"forward_seconds"` // one forward pass of the prompt, median of --runs
	// RelativeCost is the sweep's time over Sites forward passes: the
	// saving of starting each patched pass at its block.
	RelativeCost float64 `json:"relative_cost"`
}

// benchSweep times one patching sweep on a task of n pseudo-random tokens
// whose clean and corrupted prompts differ in the middle token.
func benchSweep(stderr io.Writer, m *transformer.Model, n, runs int) (*sweepResult, error) {
	if n < 2 {
		return nil, fmt.Errorf("--sweep needs --prompt-tokens of at least 2, got %d", n)
	}
	rng := rand.New(rand.NewPCG(benchSeed, 1))
	clean := make([]int32, n)
	for i := range clean {
		clean[i] = int32(rng.IntN(m.VocabSize))
	}
	corrupt := append([]int32(nil), clean...)
	corrupt[n/2] = (clean[n/2] + 1) % int32(m.VocabSize)
	task := interp.Task{Clean: clean, Corrupt: corrupt, Answer: 0, Wrong: 1}

	forward := make([]float64, 0, runs)
	for range runs {
		runtime.GC()
		start := time.Now()
		if _, err := m.Run(corrupt, nil); err != nil {
			return nil, err
		}
		forward = append(forward, time.Since(start).Seconds())
	}

	progress := newSweepProgress(stderr, "patching sweep")
	defer progress.finish()
	runtime.GC()
	start := time.Now()
	res, err := interp.ActivationPatching(m, task, interp.PatchOptions{Progress: progress.update})
	if err != nil {
		return nil, fmt.Errorf("--sweep: %w", err)
	}
	sweep := time.Since(start).Seconds()

	out := &sweepResult{Tokens: n, SweepSeconds: sweep, ForwardSeconds: median(forward)}
	for _, layers := range res.Sites {
		for _, row := range layers {
			out.Sites += len(row)
		}
	}
	out.RelativeCost = sweep / (float64(out.Sites) * out.ForwardSeconds)
	return out, nil
}
