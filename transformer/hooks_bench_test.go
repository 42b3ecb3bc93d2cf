package transformer

import (
	"testing"
	"time"

	"github.com/interp-go/interp/hooks"
)

// BenchmarkDecode124MCachingResidPost is BenchmarkDecode124M with a cache
// of every block's hook_resid_post, so that the fixed cost of each hook
// call (the point's name, the map entry, the copy) shows against a
// one-token step.
func BenchmarkDecode124MCachingResidPost(b *testing.B) {
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
	cache := hooks.NewCache("blocks.*.hook_resid_post")
	h := &hooks.Hooks{}
	cache.Attach(h)
	opts := &Options{Hooks: h}

	b.ResetTimer()
	for b.Loop() {
		if st.Len() == m.NCtx {
			b.StopTimer()
			st, _ = m.NewState(1, m.NCtx)
			m.Forward(st, Input{Tokens: [][]int32{ids}}, nil)
			b.StartTimer()
		}
		if _, err := m.Forward(st, Input{Tokens: next}, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if cache.Len() != m.NLayers {
		b.Fatalf("cache holds %d points, want %d", cache.Len(), m.NLayers)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkPrefill124MHookOverhead alternates a 128-token run without hooks
// and one that caches every block's hook_resid_post, and reports the
// second's extra time in percent. Alternating the runs exposes both to the
// same changes in the load of a shared machine.
func BenchmarkPrefill124MHookOverhead(b *testing.B) {
	m := loadModel(b, model124M(b))
	ids := benchmarkIDs(128)
	var plain, caching time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := m.Run(ids, nil); err != nil {
			b.Fatal(err)
		}
		plain += time.Since(start)

		start = time.Now()
		cache := hooks.NewCache("blocks.*.hook_resid_post")
		h := &hooks.Hooks{}
		cache.Attach(h)
		if _, err := m.Run(ids, &Options{Hooks: h}); err != nil {
			b.Fatal(err)
		}
		caching += time.Since(start)
	}
	b.ReportMetric(100*(caching.Seconds()/plain.Seconds()-1), "overhead-%")
}
