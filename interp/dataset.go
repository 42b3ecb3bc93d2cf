package interp

import (
	"fmt"

	"github.com/interp-go/interp/transformer"
)

// PatchDataset runs ActivationPatching on every task and averages the
// normalized values, and the clean and corrupted metrics, over tasks. Tasks
// of different lengths are aligned at their last position: position i of
// the result is the (n−i)-th position from the end, where n is the longest
// task's length, averaged over the tasks long enough to have it.
func PatchDataset(m *transformer.Model, tasks []Task, opts PatchOptions) (*PatchResult, error) {
	if len(tasks) == 0 {
		return nil, fmt.Errorf("interp: dataset has no tasks")
	}
	longest := 0
	for _, t := range tasks {
		longest = max(longest, len(t.Clean))
	}
	sum := &PatchResult{Sites: map[string][][]float64{}}
	counts := map[string][][]int{}
	progress := opts.Progress
	for n, t := range tasks {
		if progress != nil {
			opts.Progress = func(done, total int) { progress(n*total+done, len(tasks)*total) }
		}
		r, err := ActivationPatching(m, t, opts)
		if err != nil {
			return nil, fmt.Errorf("task %d: %w", n+1, err)
		}
		sum.CleanValue += r.CleanValue
		sum.CorruptValue += r.CorruptValue
		for site, layers := range r.Sites {
			if sum.Sites[site] == nil {
				w := longest
				if site == SiteZ {
					w = m.NHeads
				}
				sum.Sites[site] = make([][]float64, len(layers))
				counts[site] = make([][]int, len(layers))
				for l := range layers {
					sum.Sites[site][l] = make([]float64, w)
					counts[site][l] = make([]int, w)
				}
			}
			shift := 0
			if site != SiteZ {
				shift = longest - len(t.Clean)
			}
			for l, row := range layers {
				for i, v := range row {
					sum.Sites[site][l][i+shift] += v
					counts[site][l][i+shift]++
				}
			}
		}
	}
	sum.CleanValue /= float64(len(tasks))
	sum.CorruptValue /= float64(len(tasks))
	for site, layers := range sum.Sites {
		for l, row := range layers {
			for i := range row {
				if c := counts[site][l][i]; c > 0 {
					row[i] /= float64(c)
				}
			}
		}
	}
	return sum, nil
}
