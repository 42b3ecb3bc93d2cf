package transformer

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/internal/synth"
)

var (
	model124MOnce sync.Once
	model124MDir  string // the temporary folder of a written model, or ""
	model124MPath string
	model124MErr  error
)

// TestMain removes the model that model124M wrote, so benchmark runs do
// not leave half a gigabyte behind each time.
func TestMain(m *testing.M) {
	code := m.Run()
	if model124MDir != "" {
		os.RemoveAll(model124MDir)
	}
	os.Exit(code)
}

// model124M returns a GGUF file of GPT-2 small's shape (124M parameters,
// F32): the file INTERP_BENCH_MODEL names, or one written once per process
// into a temporary folder (about 500 MB, a few seconds).
func model124M(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("INTERP_BENCH_MODEL"); p != "" {
		return p
	}
	model124MOnce.Do(func() {
		dir, err := os.MkdirTemp("", "interp-bench-")
		if err != nil {
			model124MErr = err
			return
		}
		model124MDir = dir
		model124MPath = filepath.Join(dir, "gpt2-124m.gguf")
		model124MErr = synth.Write(model124MPath, synth.Default124M())
	})
	if model124MErr != nil {
		b.Fatal(model124MErr)
	}
	return model124MPath
}

func benchmarkIDs(n int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(1000 + 37*i)
	}
	return ids
}

// BenchmarkPrefill124M runs a 128-token prompt through a GPT-2 small-shaped
// model in one batch, as llama.cpp's bench measures prompt processing.
// Tokens per second = 128 / (ns/op · 1e-9).
func BenchmarkPrefill124M(b *testing.B) {
	m := loadModel(b, model124M(b))
	ids := benchmarkIDs(128)
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Run(ids, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ids))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkDecode124M times one decoding step with the KV cache after a
// 128-token prompt.
func BenchmarkDecode124M(b *testing.B) {
	m := loadModel(b, model124M(b))
	ids := benchmarkIDs(128)
	st, err := m.NewState(1, m.NCtx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Forward(st, Input{Tokens: [][]int32{ids}}, nil); err != nil {
		b.Fatal(err)
	}
	next := [][]int32{{42}}
	b.ResetTimer()
	for b.Loop() {
		if st.Len() == m.NCtx {
			b.StopTimer()
			st, _ = m.NewState(1, m.NCtx)
			m.Forward(st, Input{Tokens: [][]int32{ids}}, nil)
			b.StartTimer()
		}
		if _, err := m.Forward(st, Input{Tokens: next}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkPrefill124MCachingResidPost is BenchmarkPrefill124M with a cache
// of every block's hook_resid_post, to compare the cost of hooks with a
// run that has none.
func BenchmarkPrefill124MCachingResidPost(b *testing.B) {
	m := loadModel(b, model124M(b))
	ids := benchmarkIDs(128)
	b.ResetTimer()
	for b.Loop() {
		cache := hooks.NewCache("blocks.*.hook_resid_post")
		h := &hooks.Hooks{}
		cache.Attach(h)
		if _, err := m.Run(ids, &Options{Hooks: h}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ids))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
