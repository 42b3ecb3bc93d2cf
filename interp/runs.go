package interp

import (
	"fmt"
	"slices"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// taskRuns is one task's clean and corrupted forward passes with the
// activations that attribution and activation patching read from them.
// Recording them once lets both methods share the two passes.
type taskRuns struct {
	task  Task
	extra *hooks.Hooks // forward hooks applied to every run before the method's own

	clean   *hooks.Cache
	corrupt *hooks.Cache
	// tape records the corrupted run for the backward pass of AtP and
	// RelP. It is nil when no method needs it.
	tape *transformer.Tape

	cleanValue, corruptValue float64
}

// runPatterns lists the hook name patterns that the runs cache.
type runPatterns struct {
	clean, corrupt []string
}

// add adds the patterns of site families to the clean and, if corrupt is
// set, the corrupted run, skipping repeats.
func (p *runPatterns) add(sites []string, corrupt bool) {
	for _, pattern := range sitePatterns(sites) {
		if !slices.Contains(p.clean, pattern) {
			p.clean = append(p.clean, pattern)
		}
		if corrupt {
			p.addCorrupt(pattern)
		}
	}
}

// addCorrupt adds one pattern to the corrupted run, skipping repeats.
func (p *runPatterns) addCorrupt(pattern string) {
	if !slices.Contains(p.corrupt, pattern) {
		p.corrupt = append(p.corrupt, pattern)
	}
}

// residPrePattern selects the residual stream entering every block, where
// patched runs and integrated-gradients runs start.
const residPrePattern = "blocks.*.hook_resid_pre"

// recordRuns runs the task's clean and corrupted prompts once each, with
// extra's hooks first, caching the points that patterns select, and
// records the corrupted run on a tape when withTape is set.
func recordRuns(m *transformer.Model, task Task, patterns runPatterns, extra *hooks.Hooks, withTape bool) (*taskRuns, error) {
	r := &taskRuns{task: task, extra: extra}

	r.clean = hooks.NewCache(patterns.clean...)
	cleanHooks := extra.Clone()
	r.clean.Attach(cleanHooks)
	cleanOut, err := m.Run(task.Clean, &transformer.Options{Hooks: cleanHooks})
	if err != nil {
		return nil, fmt.Errorf("interp: clean run: %w", err)
	}
	r.cleanValue = logitDiff(cleanOut, task)

	r.corrupt = hooks.NewCache(patterns.corrupt...)
	corruptHooks := extra.Clone()
	r.corrupt.Attach(corruptHooks)
	if withTape {
		r.tape = transformer.NewTape()
	}
	corruptOut, err := m.Run(task.Corrupt, &transformer.Options{Hooks: corruptHooks, Tape: r.tape})
	if err != nil {
		return nil, fmt.Errorf("interp: corrupted run: %w", err)
	}
	r.corruptValue = logitDiff(corruptOut, task)
	return r, nil
}

// activations returns the clean and corrupted activations at a site family's
// point of one layer.
func (r *taskRuns) activations(site string, layer int) (clean, corrupt *hooks.Tensor) {
	name := hooks.Point{Layer: layer, Kind: siteKinds[site]}.Name()
	clean, _ = r.clean.Get(name)
	corrupt, _ = r.corrupt.Get(name)
	return clean, corrupt
}

// corruptResidPre returns the corrupted run's residual stream entering a
// block.
func (r *taskRuns) corruptResidPre(layer int) *hooks.Tensor {
	t, _ := r.corrupt.Get(hooks.Point{Layer: layer, Kind: hooks.ResidPre}.Name())
	return t
}
