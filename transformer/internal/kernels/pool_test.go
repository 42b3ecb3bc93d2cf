package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// withProcs runs f with GOMAXPROCS set to procs, so that the pool's
// helpers take part even on a machine with one core.
func withProcs(procs int, f func()) {
	saved := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(saved)
	f()
}

func TestParallelForVisitsEachIndexOnce(t *testing.T) {
	withProcs(4, func() {
		for _, n := range []int{0, 1, 2, 3, 7, 100, 10000} {
			counts := make([]atomic.Int32, n)
			ParallelFor(n, func(i int) { counts[i].Add(1) })
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Errorf("n=%d: fn(%d) ran %d times, want 1", n, i, c)
				}
			}
		}
	})
}

func TestParallelWorkersBuffersPerGoroutine(t *testing.T) {
	withProcs(4, func() {
		const n = 5000
		var workers atomic.Int32
		var visited [n]atomic.Int32
		parallelWorkers(n, func() func(int) {
			workers.Add(1)
			inUse := new(atomic.Bool) // models a worker's own buffer
			return func(i int) {
				if inUse.Swap(true) {
					t.Errorf("item %d: a worker's function ran on two goroutines at once", i)
				}
				visited[i].Add(1)
				inUse.Store(false)
			}
		})
		if w := workers.Load(); w < 1 || w > 4 {
			t.Errorf("newWorker ran %d times, want 1 to GOMAXPROCS (4)", w)
		}
		for i := range visited {
			if c := visited[i].Load(); c != 1 {
				t.Errorf("item %d processed %d times, want 1", i, c)
			}
		}
	})
}

// workerState is a state of parallelWithState in the tests: inUse catches
// two goroutines sharing it.
type workerState struct {
	inUse atomic.Bool
	items int
}

func TestParallelWithStateOneStatePerWorker(t *testing.T) {
	withProcs(4, func() {
		var mu sync.Mutex
		var created []*workerState
		states := sync.Pool{New: func() any {
			mu.Lock()
			defer mu.Unlock()
			created = append(created, new(workerState))
			return created[len(created)-1]
		}}
		const n = 3000
		var visited [n]atomic.Int32
		parallelWithState(3, n, &states, func(i int, state any) {
			s := state.(*workerState)
			if s.inUse.Swap(true) {
				t.Errorf("item %d: a state is in use on two goroutines at once", i)
			}
			s.items++
			visited[i].Add(1)
			s.inUse.Store(false)
		})
		if c := len(created); c < 1 || c > 3 {
			t.Errorf("%d states created, want 1 to 3 (the worker limit)", c)
		}
		for i := range visited {
			if c := visited[i].Load(); c != 1 {
				t.Errorf("item %d processed %d times, want 1", i, c)
			}
		}

		total := 0
		for _, s := range created {
			total += s.items
		}
		if total != n {
			t.Errorf("states counted %d items, want %d", total, n)
		}
	})
}

// TestParallelForNested checks that a loop started inside another loop's
// function finishes, when every helper is busy in the outer loop.
func TestParallelForNested(t *testing.T) {
	withProcs(3, func() {
		var total atomic.Int64
		ParallelFor(8, func(i int) {
			ParallelFor(50, func(j int) {
				ParallelFor(3, func(k int) { total.Add(1) })
			})
		})
		if got := total.Load(); got != 8*50*3 {
			t.Errorf("nested loops ran the innermost function %d times, want %d", got, 8*50*3)
		}
	})
}

func TestParallelForConcurrentCallers(t *testing.T) {
	withProcs(4, func() {
		var wg sync.WaitGroup
		sums := make([]int64, 8)
		for c := range sums {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 200 {
					var sum atomic.Int64
					ParallelFor(64, func(i int) { sum.Add(int64(i)) })
					sums[c] += sum.Load()
				}
			}()
		}
		wg.Wait()
		for c, s := range sums {
			if want := int64(200 * 64 * 63 / 2); s != want {
				t.Errorf("caller %d: sum %d, want %d", c, s, want)
			}
		}
	})
}

func TestParallelChunksCoversRange(t *testing.T) {
	withProcs(4, func() {
		for _, n := range []int{0, 5, minElementsPerWorker, 2*minElementsPerWorker + 3, 9*minElementsPerWorker - 1} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i)
			}
			out := make([]float32, n)
			parallelChunks(out, x, func(out, x []float32) {
				for i, v := range x {
					out[i] += v + 1
				}
			})
			for i, v := range out {
				if v != float32(i)+1 {
					t.Fatalf("n=%d: out[%d] = %g, want %d", n, i, v, i+1)
				}
			}
		}
	})
}

func TestPoolAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("skipping: the race detector's instrumentation allocates on its own")
	}
	withProcs(4, func() {
		var sink atomic.Int64
		fn := func(i int) { sink.Add(int64(i)) }
		x := make([]float32, 4*minElementsPerWorker)
		out := make([]float32, len(x))
		row := make([]float32, 100)
		states := sync.Pool{New: func() any { return new(workerState) }}
		countItem := func(i int, state any) { state.(*workerState).items++ }

		tests := []struct {
			name string
			run  func()
		}{
			{"ParallelFor", func() { ParallelFor(1000, fn) }},
			{"parallelWithState", func() { parallelWithState(4, 1000, &states, countItem) }},
			{"GELU", func() { GELU(out, x) }},
			{"SiLU", func() { SiLU(out, x) }},
			{"Softmax", func() { Softmax(row) }},
		}
		for _, tt := range tests {
			tt.run() // starts the helpers
			if allocs := testing.AllocsPerRun(100, tt.run); allocs != 0 {
				t.Errorf("%s: %v allocations per call, want 0", tt.name, allocs)
			}
		}
	})
}

// BenchmarkParallelFor times a loop of 2·GOMAXPROCS trivial items: the
// cost of handing work to the helpers and waiting for them.
func BenchmarkParallelFor(b *testing.B) {
	var sink atomic.Int64
	fn := func(i int) { sink.Add(1) }
	n := 2 * runtime.GOMAXPROCS(0)
	b.Run("pool", func(b *testing.B) {
		for b.Loop() {
			ParallelFor(n, fn)
		}
	})
	b.Run("goroutines", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			var next atomic.Int64
			for range runtime.GOMAXPROCS(0) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
						fn(i)
					}
				}()
			}
			wg.Wait()
		}
	})
}
