package interp

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/interp-go/interp/internal/synth"
	"github.com/interp-go/interp/transformer"
)

// BenchmarkPatchSweepDemo times a full sweep (resid_pre, attn_out, mlp_out
// by layer and position, z by layer and head) of the bundled demo task.
func BenchmarkPatchSweepDemo(b *testing.B) {
	m, err := transformer.Load(filepath.Join("..", "testdata", "gpt2-tiny.gguf"))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	task := Task{
		Clean:   []int32{2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 1757, 2921, 257, 4144, 284},
		Corrupt: []int32{2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 5335, 2921, 257, 4144, 284},
		Answer:  5335,
		Wrong:   1757,
	}
	for b.Loop() {
		if _, err := ActivationPatching(m, task, PatchOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPatchSweep124M times a full sweep of a 16-token task on a GPT-2
// small-shaped model (720 patched passes) and reports its cost relative to
// one full forward pass per site. The model is the file INTERP_BENCH_MODEL
// names, or one written into a temporary folder (about 500 MB).
func BenchmarkPatchSweep124M(b *testing.B) {
	path := os.Getenv("INTERP_BENCH_MODEL")
	if path == "" {
		path = filepath.Join(b.TempDir(), "gpt2-124m.gguf")
		if err := synth.Write(path, synth.Default124M()); err != nil {
			b.Fatal(err)
		}
	}
	m, err := transformer.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	clean := make([]int32, 16)
	for i := range clean {
		clean[i] = int32(100 + 7*i)
	}
	corrupt := append([]int32(nil), clean...)
	corrupt[5] = 4242
	task := Task{Clean: clean, Corrupt: corrupt, Answer: 300, Wrong: 301}

	const forwardRuns = 5
	start := time.Now()
	for range forwardRuns {
		if _, err := m.Run(corrupt, nil); err != nil {
			b.Fatal(err)
		}
	}
	forward := time.Since(start).Seconds() / forwardRuns

	sites := 0
	b.ResetTimer()
	for b.Loop() {
		res, err := ActivationPatching(m, task, PatchOptions{})
		if err != nil {
			b.Fatal(err)
		}
		sites = 0
		for _, layers := range res.Sites {
			for _, row := range layers {
				sites += len(row)
			}
		}
	}
	perSweep := b.Elapsed().Seconds() / float64(b.N)
	naive := float64(sites) * forward
	b.ReportMetric(float64(sites), "sites")
	b.ReportMetric(perSweep/naive, "x-naive")
}
