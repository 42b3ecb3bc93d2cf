package transformer

import (
	"runtime"
	"testing"

	"github.com/interp-go/interp/transformer/internal/kernels"
)

// maxDecodeStepAllocs bounds the heap allocations of one decoding step
// without hooks. What a step must allocate is its result: the Output, its
// logits tensor and the tensor's shape and data. The run's record of the
// call takes one more.
const maxDecodeStepAllocs = 5

// TestDecodeStepAllocations runs one-token steps after a prompt and checks
// that a step allocates no more than its result, so that the buffers of
// the forward pass are reused across steps and layers.
func TestDecodeStepAllocations(t *testing.T) {
	if !kernels.Assembly() {
		t.Skip("skipping: the bound holds for the assembly kernels; the portable path's sgemm allocates in every call")
	}
	if raceEnabled {
		t.Skip("skipping: the race detector's instrumentation allocates on its own")
	}
	// F32, F16 (gpt2-tiny's unembedding) and Q8_0 products.
	for _, name := range []string{"llama-tiny.gguf", "gpt2-tiny.gguf", "llama-tiny-q8.gguf"} {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, fixture(t, name))
			const promptLen, steps = 8, 20
			// AllocsPerRun makes one more call than steps, and step
			// warms up with one.
			st, err := m.NewState(1, promptLen+steps+2)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Forward(st, Input{Tokens: [][]int32{benchmarkIDs(promptLen)}}, nil); err != nil {
				t.Fatal(err)
			}
			next := Input{Tokens: [][]int32{{1}}}
			step := func() {
				if _, err := m.Forward(st, next, nil); err != nil {
					t.Fatal(err)
				}
			}
			step()

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			allocs := testing.AllocsPerRun(steps, step)
			runtime.ReadMemStats(&after)
			bytes := float64(after.TotalAlloc-before.TotalAlloc) / (steps + 1)
			t.Logf("%s: %.0f allocations and %.0f bytes per decoding step", name, allocs, bytes)
			if allocs > maxDecodeStepAllocs {
				t.Errorf("%s: %.0f allocations per decoding step, want at most %d", name, allocs, maxDecodeStepAllocs)
			}
		})
	}
}
