package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The worker pool runs the parallel loops of this package on long-lived
// helper goroutines, so that a loop costs a channel send per helper and no
// goroutine start or allocation. The calling goroutine always takes part
// in its own loop and can finish it alone. A helper joins a loop only while
// the loop is open, so a loop started from inside another loop (whose
// helpers are all busy) never waits for a helper that cannot come.
var workerPool struct {
	mu      sync.Mutex
	helpers atomic.Int32 // helper goroutines started, at most maxPoolHelpers
	// jobs carries requests for help. A request can outlive its loop. The
	// helper that takes such a stale request finds the loop closed and
	// drops it.
	jobs chan *poolJob
}

// maxPoolHelpers bounds the buffer of workerPool.jobs. Loops never ask for
// more than GOMAXPROCS − 1 helpers, and a full buffer only means that a
// loop runs on fewer goroutines.
const maxPoolHelpers = 256

// jobClosed is the flag in poolJob.state set once the loop's caller has
// run out of items. The bits below it count the helpers inside the loop.
const jobClosed = 1 << 30

// poolJob is one parallel loop over items [0, n), claimed grain items at a
// time. Exactly one of each, newWorker, withState and unary is set.
type poolJob struct {
	n, grain int
	next     atomic.Int64
	state    atomic.Int32
	done     chan struct{} // receives once the last helper leaves a closed loop

	each      func(i int)
	newWorker func() func(item int)
	withState func(item int, state any)
	states    *sync.Pool             // of the states passed to withState
	unary     func(out, x []float32) // over contiguous ranges of out and x
	out, x    []float32
}

var poolJobs = sync.Pool{New: func() any {
	j := &poolJob{done: make(chan struct{}, 1)}
	j.state.Store(jobClosed)
	return j
}}

// ensureHelpers starts helper goroutines until there are at least n.
func ensureHelpers(n int) {
	n = min(n, maxPoolHelpers)
	workerPool.mu.Lock()
	defer workerPool.mu.Unlock()
	if workerPool.jobs == nil {
		workerPool.jobs = make(chan *poolJob, maxPoolHelpers)
	}
	for int(workerPool.helpers.Load()) < n {
		go helpLoop(workerPool.jobs)
		workerPool.helpers.Add(1)
	}
}

// helpLoop is the body of a helper goroutine.
func helpLoop(jobs <-chan *poolJob) {
	for j := range jobs {
		if !j.join() {
			continue
		}
		j.work()
		if j.state.Add(-1) == jobClosed {
			j.done <- struct{}{}
		}
	}
}

// join registers a helper in the loop and reports whether the loop was
// still open.
func (j *poolJob) join() bool {
	for {
		s := j.state.Load()
		if s&jobClosed != 0 {
			return false
		}
		if j.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// run executes the loop on the calling goroutine and up to workers − 1
// helpers, and returns once every item is done.
func (j *poolJob) run(workers int) {
	if int(workerPool.helpers.Load()) < min(workers-1, maxPoolHelpers) {
		ensureHelpers(workers - 1)
	}
	j.next.Store(0)
	j.state.Store(0) // opens the loop after its fields are set
	for range workers - 1 {
		select {
		case workerPool.jobs <- j:
		default:
		}
	}

	j.work()

	if j.state.Or(jobClosed) != 0 {
		<-j.done
	}
}

// work claims and processes items until none are left.
func (j *poolJob) work() {
	var process func(item int)
	var state any
	for {
		lo := int(j.next.Add(int64(j.grain))) - j.grain
		if lo >= j.n {
			break
		}
		hi := min(j.n, lo+j.grain)
		switch {
		case j.unary != nil:
			j.unary(j.out[lo:hi], j.x[lo:hi])
		case j.each != nil:
			for i := lo; i < hi; i++ {
				j.each(i)
			}
		case j.withState != nil:
			if state == nil {
				state = j.states.Get()
			}
			for i := lo; i < hi; i++ {
				j.withState(i, state)
			}
		default:
			if process == nil {
				process = j.newWorker()
			}
			for i := lo; i < hi; i++ {
				process(i)
			}
		}
	}
	if state != nil {
		j.states.Put(state)
	}
}

// release clears the job's references and returns it to poolJobs.
func (j *poolJob) release() {
	j.each, j.newWorker, j.unary = nil, nil, nil
	j.withState, j.states = nil, nil
	j.out, j.x = nil, nil
	poolJobs.Put(j)
}

// ParallelFor calls fn(i) for i in [0, n) on up to GOMAXPROCS goroutines:
// the caller's and the package's helper goroutines. It returns once every
// call has returned.
func ParallelFor(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	// Claims of about an eighth of a worker's share keep the workers
	// balanced while they take turns on the shared counter less often.
	j := poolJobs.Get().(*poolJob)
	j.n, j.grain, j.each = n, max(1, n/(8*workers)), fn
	j.run(workers)
	j.release()
}

// parallelWorkers processes items [0, n) on up to GOMAXPROCS goroutines
// that take the next unprocessed item in turn. newWorker runs once in each
// goroutine that gets an item and returns its function for one item, so a
// worker can keep buffers of its own across items.
func parallelWorkers(n int, newWorker func() func(item int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		if n <= 0 {
			return
		}
		process := newWorker()
		for i := range n {
			process(i)
		}
		return
	}
	j := poolJobs.Get().(*poolJob)
	j.n, j.grain, j.newWorker = n, 1, newWorker
	j.run(workers)
	j.release()
}

// parallelWithState calls fn(item, state) for items [0, n) on up to
// workers goroutines, at most GOMAXPROCS. Each goroutine that gets an item
// takes one state from states for all its items and puts it back after
// its last, so states can hold a worker's buffers.
func parallelWithState(workers, n int, states *sync.Pool, fn func(item int, state any)) {
	workers = min(workers, runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		if n <= 0 {
			return
		}
		state := states.Get()
		for i := range n {
			fn(i, state)
		}
		states.Put(state)
		return
	}
	j := poolJobs.Get().(*poolJob)
	j.n, j.grain = n, 1
	j.withState, j.states = fn, states
	j.run(workers)
	j.release()
}

// parallelFor calls fn(i) for i in [0, n) on up to workers goroutines, at
// most GOMAXPROCS, which take one item at a time. It returns once every
// call has returned.
func parallelFor(workers, n int, fn func(i int)) {
	workers = min(workers, runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	j := poolJobs.Get().(*poolJob)
	j.n, j.grain, j.each = n, 1, fn
	j.run(workers)
	j.release()
}

// minElementsPerWorker keeps waking a helper from dominating small
// elementwise loops, such as one decoding step's.
const minElementsPerWorker = 1 << 14

// parallelChunks calls fn on matching contiguous ranges of out and x, which
// have equal lengths, on up to GOMAXPROCS goroutines when they are long
// enough to pay for more than one.
func parallelChunks(out, x []float32, fn func(out, x []float32)) {
	n := len(x)
	out = out[:n]
	workers := min(runtime.GOMAXPROCS(0), n/minElementsPerWorker)
	if workers <= 1 {
		fn(out, x)
		return
	}
	j := poolJobs.Get().(*poolJob)
	j.n, j.grain = n, minElementsPerWorker
	j.unary, j.out, j.x = fn, out, x
	j.run(workers)
	j.release()
}
