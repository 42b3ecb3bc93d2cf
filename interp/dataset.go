package interp

import (
	"fmt"
	"slices"
	"strings"

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
	acc := newPatchAverage(m, tasks)
	progress := opts.Progress
	for n, t := range tasks {
		if progress != nil {
			opts.Progress = func(done, total int) { progress(n*total+done, len(tasks)*total) }
		}
		r, err := ActivationPatching(m, t, opts)
		if err != nil {
			return nil, taskError{n + 1, err}
		}
		acc.add(r, len(t.Clean))
	}
	return acc.result(), nil
}

// patchAverage averages the patching results of tasks, as PatchDataset
// returns them.
type patchAverage struct {
	tasks          float64
	clean, corrupt float64
	sites          *siteAverage
}

func newPatchAverage(m *transformer.Model, tasks []Task) *patchAverage {
	return &patchAverage{tasks: float64(len(tasks)), sites: newSiteAverage(m, tasks)}
}

// add accumulates the result of one task of seq tokens.
func (a *patchAverage) add(r *PatchResult, seq int) {
	a.clean += r.CleanValue / a.tasks
	a.corrupt += r.CorruptValue / a.tasks
	a.sites.add(r.Sites, seq)
}

func (a *patchAverage) result() *PatchResult {
	return &PatchResult{CleanValue: a.clean, CorruptValue: a.corrupt, Sites: a.sites.mean()}
}

// siteAverage averages site maps of tasks of different lengths, aligning
// positions at the last one: position i of the result is the (n−i)-th from
// the end, where n is the longest task's length.
type siteAverage struct {
	heads, dmlp, longest int
	sum                  map[string][][]float64
	count                map[string][][]int
}

func newSiteAverage(m *transformer.Model, tasks []Task) *siteAverage {
	a := &siteAverage{heads: m.NHeads, dmlp: m.DMLP, sum: map[string][][]float64{}, count: map[string][][]int{}}
	for _, t := range tasks {
		a.longest = max(a.longest, len(t.Clean))
	}
	return a
}

// add accumulates one task's sites; seq is the task's length.
func (a *siteAverage) add(sites map[string][][]float64, seq int) {
	for site, layers := range sites {
		if a.sum[site] == nil {
			w := a.longest
			switch site {
			case SiteZ:
				w = a.heads
			case SiteMLPPost:
				w = a.dmlp
			case SitePattern:
				w = len(layers[0])
			}
			a.sum[site] = make([][]float64, len(layers))
			a.count[site] = make([][]int, len(layers))
			for l := range layers {
				a.sum[site][l] = make([]float64, w)
				a.count[site][l] = make([]int, w)
			}
		}
		shift := 0
		if positional(site) {
			shift = a.longest - seq
		}
		for l, row := range layers {
			for i, v := range row {
				a.sum[site][l][i+shift] += v
				a.count[site][l][i+shift]++
			}
		}
	}
}

// mean returns the averages; a position no task reached stays 0.
func (a *siteAverage) mean() map[string][][]float64 {
	for site, layers := range a.sum {
		for l, row := range layers {
			for i := range row {
				if c := a.count[site][l][i]; c > 0 {
					row[i] /= float64(c)
				}
			}
		}
	}
	return a.sum
}

// AttributeDataset runs Attribute on every task and averages over tasks,
// aligning positions at the end as PatchDataset does. PatchDataset averages
// each task's normalized values, so the scores are averaged as fractions of
// each task's M_clean − M_corrupt and then scaled by the mean clean minus
// the mean corrupted metric. Correlation then compares two averages in the
// same units.
func AttributeDataset(m *transformer.Model, tasks []Task, opts AttributeOptions) (*AttributionResult, error) {
	if len(tasks) == 0 {
		return nil, fmt.Errorf("interp: dataset has no tasks")
	}
	if err := checkPatternLengths(tasks, opts.Sites); err != nil {
		return nil, err
	}
	acc := newAttributionAverage(m, tasks, opts.Method)
	progress := opts.Progress
	for n, t := range tasks {
		if progress != nil {
			opts.Progress = func(done, total int) { progress(n*total+done, len(tasks)*total) }
		}
		r, err := Attribute(m, t, opts)
		if err != nil {
			return nil, taskError{n + 1, err}
		}
		if err := acc.add(r, len(t.Clean)); err != nil {
			return nil, taskError{n + 1, err}
		}
	}
	return acc.result(), nil
}

// checkPatternLengths rejects pattern sites over tasks of different
// lengths, whose pattern entries do not align.
func checkPatternLengths(tasks []Task, sites []string) error {
	if !slices.Contains(sites, SitePattern) {
		return nil
	}
	for n, t := range tasks {
		if len(t.Clean) != len(tasks[0].Clean) {
			return fmt.Errorf("interp: task %d has %d tokens and task 1 has %d, but pattern scores of several tasks need tasks of equal length; leave pattern out of the sites or give tasks of one length", n+1, len(t.Clean), len(tasks[0].Clean))
		}
	}
	return nil
}

// attributionAverage averages the attribution results of tasks, as
// AttributeDataset returns them.
type attributionAverage struct {
	method            string
	tasks             float64
	clean, corrupt    float64
	forward, backward int
	sites             *siteAverage
}

func newAttributionAverage(m *transformer.Model, tasks []Task, method string) *attributionAverage {
	return &attributionAverage{method: method, tasks: float64(len(tasks)), sites: newSiteAverage(m, tasks)}
}

// add accumulates the result of one task of seq tokens. It returns
// ErrNoEffect for a task whose clean and corrupted metrics are equal,
// because its scores cannot be normalized.
func (a *attributionAverage) add(r *AttributionResult, seq int) error {
	denom := r.CleanValue - r.CorruptValue
	if denom == 0 {
		return fmt.Errorf("%w (%g)", ErrNoEffect, r.CleanValue)
	}
	a.clean += r.CleanValue / a.tasks
	a.corrupt += r.CorruptValue / a.tasks
	a.forward += r.ForwardPasses
	a.backward += r.BackwardPasses
	a.sites.add(scaleSites(r.Sites, 1/denom), seq)
	return nil
}

func (a *attributionAverage) result() *AttributionResult {
	return &AttributionResult{
		Method:         a.method,
		CleanValue:     a.clean,
		CorruptValue:   a.corrupt,
		Sites:          scaleSites(a.sites.mean(), a.clean-a.corrupt),
		ForwardPasses:  a.forward,
		BackwardPasses: a.backward,
	}
}

// scaleSites returns a copy of sites with every value multiplied by f.
func scaleSites(sites map[string][][]float64, f float64) map[string][][]float64 {
	out := make(map[string][][]float64, len(sites))
	for site, layers := range sites {
		out[site] = make([][]float64, len(layers))
		for l, row := range layers {
			out[site][l] = make([]float64, len(row))
			for i, v := range row {
				out[site][l][i] = v * f
			}
		}
	}
	return out
}

// taskError is an error of one task of a dataset, numbered from 1.
type taskError struct {
	task int
	err  error
}

func (e taskError) Error() string {
	return fmt.Sprintf("interp: task %d: %s", e.task, strings.TrimPrefix(e.err.Error(), "interp: "))
}

func (e taskError) Unwrap() error { return e.err }

// positional reports whether a site family's values are by position.
func positional(site string) bool {
	return site == SiteResidPre || site == SiteAttnOut || site == SiteMLPOut
}
